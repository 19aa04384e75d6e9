"""LLaMA-Factory alpaca: ``instruction``/``input``/``output`` with optional ``system`` and ``history``.

The user turn is ``instruction + "\\n" + input`` (either part left out when empty), as
LLaMA-Factory's AlpacaDatasetConverter joins them; ``history`` is ``[user, assistant]`` pairs
before it. ``alpaca-dpo`` has ``chosen``/``rejected`` instead of ``output``; ``alpaca-kto``
adds a boolean ``kto_tag``. Text only: tool calls and media go through sharegpt instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import make_record, require
from thresher.formats._llamafactory import (
    LlamaFactoryFormat,
    Msgs,
    Unfit,
    kto_tag,
    metadata_of,
    optional_str,
    rows_that_fit,
    text_only,
)
from thresher.formats._trl import comparison_record
from thresher.formats.base import ExportContext, ExportItem, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import (
    FEEDBACK_QUESTION,
    PREFERENCE_QUESTION,
    PREFERRED_A,
    KTOExample,
    Pair,
    feedback_label,
    kto_examples,
    preference_pairs,
    sft_messages,
)

_PROMPT_KEYS = {"instruction", "input", "system", "history"}
_PROMPT_COLUMNS = (("prompt", "instruction", True), ("query", "input", True))
_EXTRA_COLUMNS = (("system", "system", False), ("history", "history", False))


def _sniff(row: dict[str, Any], required: set[str]) -> bool:
    keys = set(row)
    return required <= keys <= _PROMPT_KEYS | required and isinstance(row.get("instruction"), str)


def join_prompt(instruction: str, query: str) -> str:
    return "\n".join(part for part in (instruction, query) if part)


def read_prompt(row: dict[str, Any]) -> tuple[Msgs, dict[str, Any]]:
    """The prompt messages (system, history, the user turn) and the record's metadata."""
    instruction, query = optional_str(row, "instruction"), optional_str(row, "input")
    system = optional_str(row, "system")
    messages: Msgs = [{"role": "system", "content": system}] if system else []
    history = row.get("history")
    if history is not None:
        if not isinstance(history, list):
            raise RowError("expected a list of [instruction, response] pairs", ("history",), "wrong_type", history)
        for i, pair in enumerate(history):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                msg = "expected an [instruction, response] pair of strings"
                raise RowError(msg, ("history", i), "wrong_type", pair)
            messages += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    text = join_prompt(instruction, query)
    if not text:
        raise RowError("instruction and input are both empty: expected a prompt", ("instruction",), "missing")
    messages.append({"role": "user", "content": text})
    # Once joined, the split is ambiguous ("a\nb" may be instruction "a" + input "b"): keep the original.
    metadata = {"alpaca": {"instruction": instruction, "input": query}} if query else {}
    return messages, metadata


def write_prompt(prompt: Msgs, item: ExportItem, fmt: str) -> tuple[dict[str, str], dict[str, Any]]:
    """``{instruction, input}`` and ``{system?, history?}`` for a prompt ending on a user turn."""
    for i, m in enumerate(prompt):
        if m.get("tool_calls") or m["role"] == "tool":
            raise Unfit(f"turn {i} has tool calls or results, which {fmt} cannot hold (export as sharegpt)")
    texts = [text_only(m, fmt, f"turn {i}") for i, m in enumerate(prompt)]
    roles = [m["role"] for m in prompt]
    extra: dict[str, Any] = {}
    if roles[:1] == ["system"]:
        extra["system"] = texts[0]
        roles, texts = roles[1:], texts[1:]
    offset = len(prompt) - len(roles)
    for i, role in enumerate(roles):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise Unfit(f"turn {i + offset} is {role} where {fmt} needs {expected} (user/assistant pairs, then a user)")
    if not roles or roles[-1] != "user":
        raise Unfit(f"the prompt does not end on a user turn, which {fmt} needs for its instruction")
    if len(texts) > 1:
        extra["history"] = [[texts[i], texts[i + 1]] for i in range(0, len(texts) - 1, 2)]
    instruction, query = texts[-1], ""
    orig = metadata_of(item, "alpaca")
    kept_instruction, kept_query = str(orig.get("instruction", "")), str(orig.get("input", ""))
    if kept_query and join_prompt(kept_instruction, kept_query) == texts[-1]:
        instruction, query = kept_instruction, kept_query  # unchanged since import: split as the file did
    return {"instruction": instruction, "input": query}, extra


def write_answer(messages: Msgs, fmt: str, label: str) -> str:
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise Unfit(f"the {label} is {len(messages)} turns; {fmt} holds one assistant turn")
    if messages[0].get("tool_calls"):
        raise Unfit(f"the {label} makes tool calls, which {fmt} cannot hold (export as sharegpt)")
    return text_only(messages[0], fmt, f"the {label}")


@register_format
class Alpaca(LlamaFactoryFormat):
    name = "alpaca"
    description = "LLaMA-Factory alpaca SFT JSON: instruction, input, output, optional system and history"
    kinds = ("conversation", "comparison")
    specificity = 2
    columns = (*_PROMPT_COLUMNS, ("response", "output", True), *_EXTRA_COLUMNS)
    empty_reason = "no assistant answer to train on (a comparison needs a preference answer to pick one)"

    def sniff(self, row: dict[str, Any]) -> bool:
        return _sniff(row, {"instruction", "output"}) and isinstance(row.get("output"), str)

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        messages, metadata = read_prompt(row)
        messages.append({"role": "assistant", "content": require(row, "output", str, "a string")})
        yield Parsed(make_record({"kind": "conversation", "messages": messages}, metadata=metadata))

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        messages = sft_messages(item, ctx)
        if messages is None:
            return []
        cols, extra = write_prompt(messages[:-1], item, self.name)
        return [{**cols, "output": write_answer(messages[-1:], self.name, "answer"), **extra}]


@register_format
class AlpacaDPO(LlamaFactoryFormat):
    name = "alpaca-dpo"
    description = "LLaMA-Factory alpaca preference JSON (DPO, ORPO, reward models): instruction/input/chosen/rejected"
    kinds = ("comparison",)
    questions = (PREFERENCE_QUESTION,)
    specificity = 3
    ranking = True
    columns = (*_PROMPT_COLUMNS, ("chosen", "chosen", True), ("rejected", "rejected", True), *_EXTRA_COLUMNS)
    empty_reason = "comparison has no preference (or only ties) to make a chosen/rejected pair"

    def sniff(self, row: dict[str, Any]) -> bool:
        return _sniff(row, {"instruction", "chosen", "rejected"}) and all(
            isinstance(row.get(k), str) for k in ("chosen", "rejected")
        )

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        prompt, metadata = read_prompt(row)
        chosen = [{"role": "assistant", "content": require(row, "chosen", str, "a string")}]
        rejected = [{"role": "assistant", "content": require(row, "rejected", str, "a string")}]
        record = comparison_record(prompt, chosen, rejected)
        record.metadata = metadata
        yield Parsed(record, [PREFERRED_A])

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        def row(pair: Pair) -> dict[str, Any]:
            cols, extra = write_prompt(pair.prompt, item, self.name)
            chosen = write_answer(pair.chosen, self.name, "chosen answer")
            rejected = write_answer(pair.rejected, self.name, "rejected answer")
            return {**cols, "chosen": chosen, "rejected": rejected, **extra}

        return rows_that_fit(preference_pairs(item, ctx), row)


@register_format
class AlpacaKTO(LlamaFactoryFormat):
    name = "alpaca-kto"
    description = "LLaMA-Factory alpaca KTO JSON: instruction, input, output and a boolean kto_tag"
    kinds = ("conversation", "comparison")
    questions = (FEEDBACK_QUESTION,)
    specificity = 3
    columns = (*_PROMPT_COLUMNS, ("response", "output", True), ("kto_tag", "kto_tag", True), *_EXTRA_COLUMNS)
    empty_reason = "no thumbs (feedback) or preference answer to label the completion"

    def sniff(self, row: dict[str, Any]) -> bool:
        return _sniff(row, {"instruction", "output", "kto_tag"}) and isinstance(row.get("kto_tag"), bool)

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        label = kto_tag(row)
        messages, metadata = read_prompt(row)
        messages.append({"role": "assistant", "content": require(row, "output", str, "a string")})
        record = make_record({"kind": "conversation", "messages": messages}, metadata=metadata)
        yield Parsed(record, [feedback_label(label)])

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        def row(ex: KTOExample) -> dict[str, Any]:
            cols, extra = write_prompt(ex.prompt, item, self.name)
            output = write_answer(ex.completion, self.name, "completion")
            return {**cols, "output": output, "kto_tag": ex.label, **extra}

        return rows_that_fit(kto_examples(item, ctx), row)
