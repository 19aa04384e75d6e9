"""LLaMA-Factory sharegpt: ``conversations`` of ``{from, value}`` turns, optional ``system`` and ``tools``.

Roles are human, gpt, function_call (value: JSON ``{"name", "arguments"}``, or a list of them
for parallel calls), observation (the result, right after its call) and system (first turn
only; it overrides the ``system`` column). ``tools`` is a JSON string of bare function schemas.
``sharegpt-dpo`` adds ``chosen``/``rejected`` single turns after a prompt that ends on a human
turn; ``sharegpt-kto`` adds a boolean ``kto_tag`` rating the last gpt turn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import make_record
from thresher.formats._llamafactory import (
    LlamaFactoryFormat,
    Loc,
    Msgs,
    Unfit,
    dumps,
    kto_tag,
    metadata_of,
    optional_str,
    rows_that_fit,
    text_only,
)
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

_ROLES = {"human": "user", "gpt": "assistant", "function_call": "assistant", "observation": "tool", "system": "system"}
_OPTIONAL = {"system", "tools"}
_COLUMNS = (("messages", "conversations", True),)
_EXTRA_COLUMNS = (("system", "system", False), ("tools", "tools", False))
_PROMPT_TAGS = ("human", "observation")  # odd positions (1-based) in LLaMA-Factory's check
_ANSWER_TAGS = ("gpt", "function_call")  # even positions

# -- reading ---------------------------------------------------------------------------------


def _sniff(row: dict[str, Any], required: set[str]) -> bool:
    turns = row.get("conversations")
    return (
        required <= set(row) <= required | _OPTIONAL
        and isinstance(turns, list)
        and all(isinstance(t, dict) and "from" in t for t in turns)
    )


def _read_calls(value: str, loc: Loc) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(value)
    except ValueError:
        msg = 'expected a JSON string {"name": ..., "arguments": {...}}'
        raise RowError(msg, loc, "bad_tool_call", value) from None
    calls = parsed if isinstance(parsed, list) else [parsed]
    out = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
            raise RowError('expected a call {"name": ..., "arguments": {...}}', loc, "bad_tool_call", value)
        args = call.get("arguments", {})
        if not isinstance(args, (dict, str)):
            raise RowError("expected the call's arguments as an object", loc, "bad_tool_call", value)
        out.append({"name": call["name"], "arguments": args})
    if not out:
        raise RowError("the function_call holds no call", loc, "bad_tool_call", value)
    return out


def _read_turn(raw: Any, loc: Loc) -> tuple[str, dict[str, Any]]:
    """A turn's ``from`` tag and the message it becomes."""
    if not isinstance(raw, dict):
        raise RowError(f"expected a {{from, value}} turn, got {type(raw).__name__}", loc, "wrong_type")
    tag = raw.get("from")
    if tag not in _ROLES:
        raise RowError(f"unknown role {tag!r}; expected one of {list(_ROLES)}", (*loc, "from"), "unknown_role", tag)
    value = raw.get("value")
    if not isinstance(value, str):
        raise RowError(f"expected a string value, got {type(value).__name__}", (*loc, "value"), "wrong_type", value)
    if tag == "function_call":
        return tag, {"role": "assistant", "tool_calls": _read_calls(value, (*loc, "value"))}
    return tag, {"role": _ROLES[tag], "content": value}


def _observations(value: str, calls: list[dict[str, Any]]) -> Msgs:
    """Tool messages for an observation; after parallel calls a JSON list of strings splits one per call."""
    if len(calls) == 1:
        return [{"role": "tool", "content": value, "name": calls[0]["name"]}]
    try:
        results = json.loads(value)
    except ValueError:
        results = None
    if isinstance(results, list) and len(results) == len(calls) and all(isinstance(r, str) for r in results):
        return [{"role": "tool", "content": r, "name": c["name"]} for r, c in zip(results, calls, strict=True)]
    return [{"role": "tool", "content": value}]


def read_conversation(row: dict[str, Any]) -> tuple[Msgs, dict[str, Any]]:
    """The messages of ``conversations`` (with the system prompt) and the record's metadata."""
    raw = row.get("conversations")
    if not isinstance(raw, list):
        raise RowError("expected a list of {from, value} turns", ("conversations",), "wrong_type")
    messages: Msgs = []
    system_turn = False
    for i, turn in enumerate(raw):
        loc = ("conversations", i)
        tag, message = _read_turn(turn, loc)
        if tag == "system":
            if i:
                raise RowError("a system turn must come first", (*loc, "from"), "misplaced_system")
            system_turn = True
        elif tag == "observation":
            calls = messages[-1].get("tool_calls") if messages else None
            if not calls:
                raise RowError("an observation must directly follow a function_call turn", (*loc, "from"), "orphan")
            messages += _observations(message["content"], calls)
            continue
        messages.append(message)
    if not system_turn:  # as in LLaMA-Factory, a leading system turn wins over the column
        system = optional_str(row, "system")
        if system:
            messages.insert(0, {"role": "system", "content": system})
    # Remember where the system prompt was, so the export puts it back there.
    return messages, ({"sharegpt": {"system_turn": True}} if system_turn else {})


def read_tools(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``tools`` in OpenAI's ``{"type": "function", "function": ...}`` shape, like every other format's."""
    raw = row.get("tools")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise RowError("expected a JSON string holding a list of tools", ("tools",), "invalid_json", raw) from None
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise RowError("expected a list of function schemas", ("tools",), "wrong_type", raw)
    return [t if "function" in t else {"type": "function", "function": t} for t in raw]


def _with_tools(content: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    tools = read_tools(row)
    return content if tools is None else {**content, "tools": tools}


# -- writing ---------------------------------------------------------------------------------


def write_tools(tools: list[dict[str, Any]]) -> str:
    bare = [t["function"] if set(t) == {"type", "function"} and t["type"] == "function" else t for t in tools]
    return dumps(bare)


def write_messages(messages: Msgs, fmt: str, system_turn: bool) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """ShareGPT turns and ``{system?}``; Unfit if LLaMA-Factory could not read the messages back."""
    turns: list[dict[str, str]] = []
    extra: dict[str, Any] = {}
    k = 0
    if messages and messages[0]["role"] == "system":
        text = text_only(messages[0], fmt, "the system turn")
        if system_turn:
            turns.append({"from": "system", "value": text})
        else:
            extra["system"] = text
        k = 1
    while k < len(messages):
        m, where = messages[k], f"turn {k}"
        if m["role"] == "system":
            raise Unfit(f"{where} is a system message after the first turn, which {fmt} cannot hold")
        if m["role"] == "tool":
            end = k
            while end < len(messages) and messages[end]["role"] == "tool":
                end += 1
            if k == 0 or not messages[k - 1].get("tool_calls"):
                raise Unfit(f"{where} is a tool result that follows no tool call; {fmt} puts it right after one")
            results = [text_only(messages[i], fmt, f"turn {i}") for i in range(k, end)]
            # One observation turn answers a function_call turn; results of parallel calls go in a JSON list.
            turns.append({"from": "observation", "value": results[0] if len(results) == 1 else dumps(results)})
            k = end
            continue
        if m.get("tool_calls"):
            if text_only(m, fmt, where).strip():
                raise Unfit(f"{where} has both text and tool calls; a {fmt} turn holds one or the other")
            calls = [{"name": c["name"], "arguments": c.get("arguments", {})} for c in m["tool_calls"]]
            turns.append({"from": "function_call", "value": dumps(calls[0] if len(calls) == 1 else calls)})
        else:
            turns.append({"from": "human" if m["role"] == "user" else "gpt", "value": text_only(m, fmt, where)})
        k += 1
    return turns, extra


def check_turns(turns: list[dict[str, str]], fmt: str, *, ends_on_prompt: bool) -> None:
    """LLaMA-Factory drops rows whose human/observation and gpt/function_call turns do not alternate."""
    offset = 1 if turns and turns[0]["from"] == "system" else 0
    body = turns[offset:]
    for i, turn in enumerate(body):
        allowed = _PROMPT_TAGS if i % 2 == 0 else _ANSWER_TAGS
        if turn["from"] not in allowed:
            raise Unfit(
                f"turn {i + offset} is {turn['from']} where {fmt} needs {' or '.join(allowed)} "
                "(human/observation and gpt/function_call turns alternate)"
            )
    if not body or (len(body) % 2 == 1) != ends_on_prompt:
        end = "a human or observation" if ends_on_prompt else "a gpt or function_call"
        raise Unfit(f"the conversation does not end on {end} turn, as {fmt} needs")


def _tools_column(item: ExportItem) -> dict[str, str]:
    tools = item.content().get("tools")
    return {} if tools is None else {"tools": write_tools(tools)}  # [] is kept: it was "[]" in the file


def _system_turn(item: ExportItem) -> bool:
    return metadata_of(item, "sharegpt").get("system_turn") is True


# -- formats ---------------------------------------------------------------------------------


@register_format
class ShareGPT(LlamaFactoryFormat):
    name = "sharegpt"
    description = "LLaMA-Factory sharegpt SFT JSON: from/value turns with function calls, system and tools"
    kinds = ("conversation", "comparison", "agent_run")
    specificity = 2
    formatting = "sharegpt"
    columns = (*_COLUMNS, *_EXTRA_COLUMNS)
    empty_reason = "no assistant answer to train on (a comparison needs a preference answer; a failed agent run)"

    def sniff(self, row: dict[str, Any]) -> bool:
        return _sniff(row, {"conversations"})

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        messages, metadata = read_conversation(row)
        if not messages:
            raise RowError("the conversation is empty: expected turns", ("conversations",), "empty_conversation")
        content = _with_tools({"kind": "conversation", "messages": messages}, row)
        yield Parsed(make_record(content, metadata=metadata))

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        messages = sft_messages(item, ctx)
        if messages is None:
            return []
        turns, extra = write_messages(messages, self.name, _system_turn(item))
        check_turns(turns, self.name, ends_on_prompt=False)
        return [{"conversations": turns, **extra, **_tools_column(item)}]


@register_format
class ShareGPTDPO(LlamaFactoryFormat):
    name = "sharegpt-dpo"
    description = "LLaMA-Factory sharegpt preference JSON (DPO, ORPO, reward models): conversations, chosen, rejected"
    kinds = ("comparison",)
    questions = (PREFERENCE_QUESTION,)
    specificity = 3
    formatting = "sharegpt"
    ranking = True
    columns = (*_COLUMNS, ("chosen", "chosen", True), ("rejected", "rejected", True), *_EXTRA_COLUMNS)
    empty_reason = "comparison has no preference (or only ties) to make a chosen/rejected pair"

    def sniff(self, row: dict[str, Any]) -> bool:
        return _sniff(row, {"conversations", "chosen", "rejected"}) and all(
            isinstance(row.get(k), dict) for k in ("chosen", "rejected")
        )

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        prompt, metadata = read_conversation(row)
        if not prompt or prompt[-1]["role"] not in ("user", "tool"):
            raise RowError("conversations must end on a human or observation turn", ("conversations",), "bad_prompt")
        candidates = []
        for cid, key in (("a", "chosen"), ("b", "rejected")):
            tag, message = _read_turn(row.get(key), (key,))
            if tag not in _ANSWER_TAGS:
                raise RowError(f"expected a gpt or function_call turn, got {tag!r}", (key, "from"), "wrong_role", tag)
            candidates.append({"id": cid, "messages": [message]})
        content = _with_tools({"kind": "comparison", "prompt": prompt, "candidates": candidates}, row)
        yield Parsed(make_record(content, metadata=metadata), [PREFERRED_A])

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        system_turn = _system_turn(item)

        def answer(messages: Msgs, label: str) -> dict[str, str]:
            if len(messages) != 1 or messages[0]["role"] != "assistant":
                raise Unfit(f"the {label} answer is {len(messages)} turns; {self.name} holds one gpt turn")
            return write_messages(messages, self.name, system_turn)[0][0]

        def row(pair: Pair) -> dict[str, Any]:
            turns, extra = write_messages(pair.prompt, self.name, system_turn)
            check_turns(turns, self.name, ends_on_prompt=True)
            chosen, rejected = answer(pair.chosen, "chosen"), answer(pair.rejected, "rejected")
            return {"conversations": turns, "chosen": chosen, "rejected": rejected, **extra, **_tools_column(item)}

        return rows_that_fit(preference_pairs(item, ctx), row)


@register_format
class ShareGPTKTO(LlamaFactoryFormat):
    name = "sharegpt-kto"
    description = "LLaMA-Factory sharegpt KTO JSON: conversations and a boolean kto_tag on the last gpt turn"
    kinds = ("conversation", "comparison")
    questions = (FEEDBACK_QUESTION,)
    specificity = 3
    formatting = "sharegpt"
    columns = (*_COLUMNS, ("kto_tag", "kto_tag", True), *_EXTRA_COLUMNS)
    empty_reason = "no thumbs (feedback) or preference answer to label the completion"

    def sniff(self, row: dict[str, Any]) -> bool:
        return _sniff(row, {"conversations", "kto_tag"}) and isinstance(row.get("kto_tag"), bool)

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        label = kto_tag(row)
        messages, metadata = read_conversation(row)
        if not messages or messages[-1]["role"] != "assistant":
            raise RowError("conversations must end on the gpt turn kto_tag rates", ("conversations",), "bad_prompt")
        content = _with_tools({"kind": "conversation", "messages": messages}, row)
        yield Parsed(make_record(content, metadata=metadata), [feedback_label(label)])

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        def row(ex: KTOExample) -> dict[str, Any]:
            if len(ex.completion) != 1:
                raise Unfit(f"the rated completion is {len(ex.completion)} turns; {self.name} rates one gpt turn")
            turns, extra = write_messages([*ex.prompt, *ex.completion], self.name, _system_turn(item))
            check_turns(turns, self.name, ends_on_prompt=False)
            return {"conversations": turns, "kto_tag": ex.label, **extra, **_tools_column(item)}

        return rows_that_fit(kto_examples(item, ctx), row)
