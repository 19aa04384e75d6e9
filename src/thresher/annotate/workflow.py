"""A dataset's annotation workflow: overlap, lease, review policy, consensus rules, routing.

Routing decides the skill and language a record needs: the record's metadata keys first
(``skill_key``, ``language_key``, dotted paths), then the first matching rule that names the
field fills what the metadata left open. A queue offers a record only to users whose profile
has that skill and that language (a record that needs none fits everyone).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from thresher.errors import DataError, ErrorDetail
from thresher.model import Question

ConsensusRule = Literal["majority", "reviewer_wins", "mean", "median"]
TAG_LENGTH = 64
_MATCH_KEY = re.compile(r"^(kind|task_type|split|domain|metadata\.[A-Za-z0-9_.-]{1,128})$")

# The rule a question gets when the workflow names none: scores average, labels vote, free-form
# work (text, spans, media shapes) needs a reviewer's word, falling back to an exact majority.
DEFAULT_RULES: dict[str, ConsensusRule] = {
    "rating": "mean",
    "ranking": "mean",
    "choice": "majority",
    "multi_choice": "majority",
    "step_verdict": "majority",
}
NUMERIC_TYPES = frozenset({"rating", "ranking"})  # the only types mean / median apply to


def default_rule(question_type: str) -> ConsensusRule:
    return DEFAULT_RULES.get(question_type, "reviewer_wins")


class RoutingRule(BaseModel):
    """``{"match": {"task_type": "closed_qa", "metadata.domain": "law"}, "skill": "legal"}``."""

    model_config = ConfigDict(extra="forbid")

    match: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="all must hold: kind, task_type, split, domain (one of the record's), metadata.<dotted path>; "
        "a list matches any of its values",
    )
    skill: str | None = Field(default=None, max_length=TAG_LENGTH)
    language: str | None = Field(default=None, max_length=TAG_LENGTH)

    @field_validator("match")
    @classmethod
    def _keys(cls, match: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        bad = [k for k in match if not _MATCH_KEY.match(k)]
        if bad:
            raise ValueError(f"unknown match keys {bad}: expected kind, task_type, split, domain or metadata.<path>")
        return match


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(default=1, ge=1, le=50, description="distinct annotators per record")
    lease_seconds: int = Field(default=1800, ge=10, le=7 * 86400, description="how long a task is held")
    review: Literal["none", "all"] = Field(default="none", description="`all`: every submission awaits review")
    consensus: dict[str, ConsensusRule] = Field(default_factory=dict, description="question name -> rule")
    skill_key: str | None = Field(default="skill", max_length=128, description="metadata key naming the skill")
    language_key: str | None = Field(default="language", max_length=128, description="metadata key naming the language")
    rules: list[RoutingRule] = Field(default_factory=list, max_length=200)

    def check(self, questions: list[Question]) -> None:
        """Consensus rules must name questions of the dataset, and mean / median only numeric ones."""
        types = {q.name: q.type for q in questions}
        errors = []
        for name, rule in self.consensus.items():
            if name not in types:
                errors.append(ErrorDetail("unknown_question", ("consensus", name), f"expected one of {sorted(types)}"))
            elif rule in ("mean", "median") and types[name] not in NUMERIC_TYPES:
                msg = f"{rule} applies to rating and ranking questions; expected majority or reviewer_wins"
                errors.append(ErrorDetail("bad_rule", ("consensus", name), msg, rule))
        if errors:
            raise DataError("the consensus rules do not fit the dataset's questions", errors)

    def rule_for(self, question: Question) -> ConsensusRule:
        return self.consensus.get(question.name, default_rule(question.type))

    def routing_hash(self) -> str:
        data = {"skill_key": self.skill_key, "language_key": self.language_key, "rules": self.model_dump()["rules"]}
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def tag(value: Any) -> str:
    """A skill or language as matched: trimmed, lowercase, at most 64 characters ("" for none)."""
    if value is None or isinstance(value, dict | list):
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text.strip().lower()[:TAG_LENGTH]


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class Router:
    """Computes (skill, language) for stored record rows (metadata and domains as JSON text)."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow

    def __call__(self, row: Any) -> tuple[str, str]:
        metadata = orjson.loads(row.metadata) if row.metadata else {}
        wf = self.workflow
        skill = tag(_at(metadata, wf.skill_key)) if wf.skill_key else ""
        language = tag(_at(metadata, wf.language_key)) if wf.language_key else ""
        for rule in wf.rules:
            if skill and language:
                break
            wanted = (rule.skill and not skill) or (rule.language and not language)
            if wanted and self._matches(rule, row, metadata):
                skill = skill or tag(rule.skill)
                language = language or tag(rule.language)
        return skill, language

    @staticmethod
    def _matches(rule: RoutingRule, row: Any, metadata: dict[str, Any]) -> bool:
        domains: list[str] | None = None
        for key, wanted in rule.match.items():
            options = wanted if isinstance(wanted, list) else [wanted]
            if key == "domain":
                domains = domains if domains is not None else orjson.loads(row.domains or "[]")
                if not any(d in options for d in domains or []):
                    return False
                continue
            value = _text(_at(metadata, key[9:])) if key.startswith("metadata.") else getattr(row, key)
            if value not in options:
                return False
        return True


def fitting(skills: list[str], languages: list[str]) -> list[tuple[str, str]]:
    """Every (skill, language) a user with this profile may take; "" stands for "none needed"."""
    s = sorted({""} | {tag(x) for x in skills})
    ls = sorted({""} | {tag(x) for x in languages})
    return [(a, b) for a in s for b in ls]
