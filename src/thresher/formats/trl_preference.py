"""TRL preference (DPO, reward modeling): ``{"prompt"?, "chosen", "rejected"}``.

Standard (strings) or conversational (messages); explicit prompt or implicit (the prompt is
the shared start of chosen and rejected). Multi-turn history stays in the prompt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._trl import (
    comparison_record,
    is_conversational,
    read_turns,
    shared_prefix,
    standard_prompt,
    write_turns,
)
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import PREFERENCE_QUESTION, PREFERRED_A, preference_pairs


@register_format
class TRLPreference(Format):
    name = "trl-preference"
    description = "TRL preference dataset (DPO, reward models): prompt/chosen/rejected, explicit or implicit prompt"
    kinds = ("comparison",)
    questions = (PREFERENCE_QUESTION,)

    def sniff(self, row: dict[str, Any]) -> bool:
        return set(row) in ({"prompt", "chosen", "rejected"}, {"chosen", "rejected"})

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        chosen_raw, rejected_raw = row.get("chosen"), row.get("rejected")
        if "prompt" in row:
            prompt = read_turns(row["prompt"], ("prompt",), "user")
            chosen = read_turns(chosen_raw, ("chosen",), "assistant")
            rejected = read_turns(rejected_raw, ("rejected",), "assistant")
        elif is_conversational(chosen_raw) and is_conversational(rejected_raw):
            full_c = read_turns(chosen_raw, ("chosen",), "assistant")
            full_r = read_turns(rejected_raw, ("rejected",), "assistant")
            n = shared_prefix(full_c, full_r)
            prompt, chosen, rejected = full_c[:n], full_c[n:], full_r[n:]
        else:
            if not isinstance(chosen_raw, str) or not isinstance(rejected_raw, str):
                raise RowError("expected chosen and rejected both strings or both message lists", ("chosen",))
            # Implicit standard prompt: the common text start is the prompt.
            n = 0
            while n < min(len(chosen_raw), len(rejected_raw)) and chosen_raw[n] == rejected_raw[n]:
                n += 1
            prompt = [{"role": "user", "content": chosen_raw[:n]}] if chosen_raw[:n].strip() else []
            chosen = [{"role": "assistant", "content": chosen_raw[n:]}]
            rejected = [{"role": "assistant", "content": rejected_raw[n:]}]
        yield Parsed(comparison_record(prompt, chosen, rejected), [PREFERRED_A])

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        style, implicit = ctx.options.style, ctx.options.implicit_prompt
        for pair in preference_pairs(item, ctx):
            if style == "standard":
                prompt = standard_prompt(pair.prompt)
                chosen, rejected = write_turns(pair.chosen, style), write_turns(pair.rejected, style)
                if prompt is None or chosen is None or rejected is None:
                    continue
                if implicit:
                    yield {"chosen": prompt + chosen, "rejected": prompt + rejected}
                else:
                    yield {"prompt": prompt, "chosen": chosen, "rejected": rejected}
            elif implicit:
                yield {
                    "chosen": write_turns([*pair.prompt, *pair.chosen], style),
                    "rejected": write_turns([*pair.prompt, *pair.rejected], style),
                }
            else:
                yield {
                    "prompt": write_turns(pair.prompt, style),
                    "chosen": write_turns(pair.chosen, style),
                    "rejected": write_turns(pair.rejected, style),
                }

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return "comparison has no preference (or only ties) to make a chosen/rejected pair"
