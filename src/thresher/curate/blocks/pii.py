"""PII detection and redaction: emails, phone numbers (``phonenumbers``), IP addresses, credit
cards (Luhn-checked), keys and tokens. What was redacted is recorded (type and count, never the value).

Names need a named-entity model (presidio needs a spaCy model download), so they are not detected.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from thresher.curate._items import Item, map_strings
from thresher.curate.blocks.base import KEEP, Block, BlockConfig, Verdict, changed, drop, flagged, register_block

PiiType = Literal["email", "phone", "ip", "credit_card", "secret"]
ALL_TYPES: tuple[PiiType, ...] = ("email", "phone", "ip", "credit_card", "secret")

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}\b")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
SECRETS = re.compile(
    r"\b(?:"
    r"AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style keys
    r"|xox[abpors]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|thr_[A-Za-z0-9_-]{20,}"  # Thresher API keys
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r")\b"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
)
BEARER = re.compile(
    r"(?i)\b(bearer|api[_-]?key|token|secret|password)([\"']?\s*[:=]\s*[\"']?|\s+)([A-Za-z0-9._~+/-]{16,})"
)


def luhn(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


def _valid_ip(s: str) -> bool:
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return False
    return not (ip.version == 4 and s.count(".") == 3 and s.startswith("0."))


def find_pii(text: str, types: tuple[str, ...] = ALL_TYPES, region: str = "US") -> list[tuple[int, int, str]]:
    """Spans ``(start, end, type)``, non-overlapping, in text order."""
    found: list[tuple[int, int, str]] = []
    if "secret" in types:
        found += [(m.start(), m.end(), "secret") for m in SECRETS.finditer(text)]
        found += [(m.start(3), m.end(3), "secret") for m in BEARER.finditer(text)]
    if "email" in types:
        found += [(m.start(), m.end(), "email") for m in EMAIL.finditer(text)]
    if "credit_card" in types:
        for m in CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and luhn(digits):
                found.append((m.start(), m.end(), "credit_card"))
    if "ip" in types:
        found += [(m.start(), m.end(), "ip") for m in IPV4.finditer(text) if _valid_ip(m.group())]
        found += [(m.start(), m.end(), "ip") for m in IPV6.finditer(text) if _valid_ip(m.group())]
    if "phone" in types and sum(ch.isdigit() for ch in text) >= 7:
        import phonenumbers

        for pm in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            found.append((pm.start, pm.end, "phone"))
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int, str]] = []
    for span in found:
        if out and span[0] < out[-1][1]:
            continue  # overlaps an earlier (or longer) one
        out.append(span)
    return out


def redact(text: str, spans: list[tuple[int, int, str]], mask: Callable[[str], str]) -> str:
    parts, last = [], 0
    for start, end, kind in spans:
        parts.append(text[last:start])
        parts.append(mask(kind))
        last = end
    parts.append(text[last:])
    return "".join(parts)


class PiiConfig(BlockConfig):
    types: list[PiiType] = Field(default_factory=lambda: list(ALL_TYPES))
    action: Literal["redact", "drop", "flag"] = "redact"
    mask: str = Field(default="[{type}]", description="replacement; {type} is the upper-cased PII type")
    region: str = Field(default="US", description="default region for phone numbers written without +country")


@register_block("pii")
class Pii(Block):
    """Redacts (or drops, or flags) records holding personal data, keys and tokens."""

    Config = PiiConfig
    config: PiiConfig

    def apply(self, item: Item) -> Verdict:
        c = self.config
        types = tuple(c.types)
        counts: Counter[str] = Counter()

        def fix(s: str) -> str:
            spans = find_pii(s, types, c.region)
            if not spans:
                return s
            counts.update(kind for _, _, kind in spans)
            return redact(s, spans, lambda kind: c.mask.replace("{type}", kind.upper()))

        content = map_strings(item.content, fix)
        if not counts:
            return KEEP
        found = dict(sorted(counts.items()))
        if c.action == "drop":
            return drop("pii", found=found)
        if c.action == "flag":
            return flagged("pii", found=found)
        item.set_content(content)
        item.metadata["pii_redacted"] = found
        return changed("pii_redacted", found=found)
