"""TRL unpaired preference (KTO): ``{"prompt", "completion", "label": bool}``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import make_record
from thresher.formats._trl import read_turns, standard_prompt, write_turns
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import FEEDBACK_QUESTION, feedback_label, kto_examples


@register_format
class TRLUnpairedPreference(Format):
    name = "trl-unpaired-preference"
    description = "TRL unpaired preference dataset (KTO): prompt, completion, boolean label"
    kinds = ("conversation", "comparison")
    questions = (FEEDBACK_QUESTION,)

    def sniff(self, row: dict[str, Any]) -> bool:
        return set(row) == {"prompt", "completion", "label"}

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        label = row.get("label")
        if not isinstance(label, bool):
            raise RowError(f"expected a boolean label, got {label!r}", ("label",), type="wrong_type", input=label)
        prompt = read_turns(row.get("prompt"), ("prompt",), "user")
        completion = read_turns(row.get("completion"), ("completion",), "assistant")
        record = make_record({"kind": "conversation", "messages": [*prompt, *completion]})
        yield Parsed(record, [feedback_label(label)])

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        for ex in kto_examples(item, ctx):
            if ctx.options.style == "standard":
                prompt, completion = standard_prompt(ex.prompt), write_turns(ex.completion, "standard")
                if prompt is None or completion is None:
                    continue
                yield {"prompt": prompt, "completion": completion, "label": ex.label}
            else:
                yield {
                    "prompt": write_turns(ex.prompt, "conversational"),
                    "completion": write_turns(ex.completion, "conversational"),
                    "label": ex.label,
                }

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return "no thumbs (feedback) or preference answer to label the completion"
