"""Shared by chat formats: OpenAI-style message dicts to and from Thresher messages, errors with locations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from thresher.formats.base import RowError
from thresher.model import ROLES, Message, Record

Loc = tuple[str | int, ...]
T = TypeVar("T")


def row_error_from(e: ValidationError, loc: Loc = ()) -> RowError:
    """The first pydantic error as a RowError, its location under ``loc``."""
    first = e.errors(include_url=False)[0]
    where = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-"))))
    msg = first["msg"].removeprefix("Value error, ")
    return RowError(msg, (*loc, *where), type=first["type"], input=first.get("input"))


def validated(fn: Callable[[], T], loc: Loc = ()) -> T:
    """Run a pydantic construction; turn its ValidationError into a RowError at ``loc``."""
    try:
        return fn()
    except ValidationError as e:
        raise row_error_from(e, loc) from None


def make_record(
    content: dict[str, Any], loc: Loc = (), *, fields: Mapping[str, Loc] | None = None, **envelope: Any
) -> Record:
    """Validate a record once. ``fields`` maps a content field to where it sits in the row, so an
    error deep in ``content.messages[2]`` is reported at the row's own ``messages[2]``."""
    try:
        return Record.model_validate({"content": content, **envelope})
    except ValidationError as e:
        err = row_error_from(e)
        where = err.loc  # ("content", kind, field, ...) for errors inside the content
        if fields and where[:1] == ("content",) and len(where) >= 3 and where[2] in fields:
            err.loc = (*fields[str(where[2])], *where[3:])
        elif fields and where[:1] == ("content",) and len(where) == 2:
            err.loc = next(iter(fields.values()))  # a rule over the whole content: name its main field
        else:
            err.loc = (*loc, *where)
        raise err from None


def require(row: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``row[key]`` if it is of ``kind``, else a RowError that says what was expected."""
    if key not in row or row[key] is None:
        raise RowError(f"missing field {key!r}: expected {what}", (key,), type="missing")
    value = row[key]
    if not isinstance(value, kind):
        raise RowError(f"expected {what}, got {type(value).__name__}", (key,), type="wrong_type", input=value)
    return value


def _arguments(raw: Any) -> dict[str, Any] | str:
    if isinstance(raw, str):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw  # kept as written: a model's malformed call is data worth keeping
        return parsed if isinstance(parsed, dict) else raw
    if isinstance(raw, dict):
        return raw
    return orjson.dumps(raw).decode()


def _parse_part(part: Any) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise ValueError(f"expected a content part object, got {type(part).__name__}")
    ptype = part.get("type")
    if ptype == "text":
        return {"type": "text", "text": part.get("text", "")}
    if ptype == "image_url":
        url = part["image_url"]["url"] if isinstance(part.get("image_url"), dict) else part.get("image_url")
        out: dict[str, Any] = {"type": "image", "image": {"uri": url}}
        if isinstance(part.get("image_url"), dict) and part["image_url"].get("detail"):
            out["detail"] = part["image_url"]["detail"]
        return out
    if ptype in ("image", "audio", "video"):
        ref = part.get(ptype) or part.get("url") or part.get("path") or f"{ptype}:placeholder"
        return {"type": ptype, ptype: ref if isinstance(ref, dict) else {"uri": str(ref)}}
    if ptype == "input_audio":
        fmt = part.get("input_audio", {}).get("format", "wav")
        return {"type": "audio", "audio": {"uri": f"data:audio/{fmt};base64,…", "mime_type": f"audio/{fmt}"}}
    raise ValueError(f"unknown content part type {ptype!r}; expected text, image_url, image, audio or video")


def parse_message(raw: Any, loc: Loc) -> Message:
    """An OpenAI- or TRL-style message dict as a Message; errors name ``loc`` and the field."""
    data = message_dict(raw, loc)
    return validated(lambda: Message.model_validate(data), loc)


def message_dict(raw: Any, loc: Loc) -> dict[str, Any]:
    """An OpenAI- or TRL-style message in Thresher's shape, with the cheap checks only: the full
    validation happens once, when the record is built (see ``make_record(fields=...)``)."""
    if not isinstance(raw, dict):
        raise RowError(f"expected a message object, got {type(raw).__name__}", loc, type="wrong_type")
    role = raw.get("role")
    if role not in ROLES:
        raise RowError(f"unknown role {role!r}; expected one of {list(ROLES)}", (*loc, "role"), "unknown_role", role)
    data: dict[str, Any] = {"role": role}
    content = raw.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise RowError(
            f"expected a string or a list of content parts, got {type(content).__name__}",
            (*loc, "content"),
            type="wrong_type",
            input=content,
        )
    if isinstance(content, list):
        parts = []
        for i, p in enumerate(content):
            try:
                parts.append(_parse_part(p))
            except (ValueError, KeyError, TypeError) as e:
                raise RowError(str(e), (*loc, "content", i)) from None
        data["content"] = parts
    elif content is not None:
        data["content"] = content
    for key in ("name", "tool_call_id", "weight"):
        if raw.get(key) is not None:
            data[key] = raw[key]
    reasoning = raw.get("reasoning") or raw.get("reasoning_content") or raw.get("thinking")
    if reasoning:
        data["reasoning"] = reasoning
    calls = raw.get("tool_calls")
    if calls:
        if not isinstance(calls, list):
            raise RowError("expected a list of tool calls", (*loc, "tool_calls"), type="wrong_type")
        parsed = []
        for i, c in enumerate(calls):
            fn = c.get("function", c) if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not fn.get("name"):
                raise RowError("expected {function: {name, arguments}}", (*loc, "tool_calls", i), type="bad_tool_call")
            parsed.append({"id": c.get("id"), "name": fn["name"], "arguments": _arguments(fn.get("arguments", {}))})
        data["tool_calls"] = parsed
    return data


def parse_messages(raw: Any, loc: Loc, *, allow_empty: bool = False) -> list[Message]:
    """Validated messages; errors name ``loc`` and the message's index and field."""
    dicts = message_dicts(raw, loc, allow_empty=allow_empty)
    return [validated(partial(Message.model_validate, d), (*loc, i)) for i, d in enumerate(dicts)]


def message_dicts(raw: Any, loc: Loc, *, allow_empty: bool = False) -> list[dict[str, Any]]:
    """Messages in Thresher's shape, unvalidated: for formats that validate through the record."""
    if not isinstance(raw, list):
        raise RowError(f"expected a list of messages, got {type(raw).__name__}", loc, type="wrong_type")
    if not raw and not allow_empty:
        raise RowError("the conversation is empty: expected at least one message", loc, type="empty_conversation")
    return [message_dict(m, (*loc, i)) for i, m in enumerate(raw)]


def dump_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_none=True) for m in messages]


# -- writing ---------------------------------------------------------------------------------


def _openai_part(part: dict[str, Any]) -> dict[str, Any]:
    ptype = part["type"]
    if ptype == "text":
        return {"type": "text", "text": part["text"]}
    if ptype == "image":
        out: dict[str, Any] = {"url": part["image"]["uri"]}
        if part.get("detail"):
            out["detail"] = part["detail"]
        return {"type": "image_url", "image_url": out}
    return {"type": ptype, ptype: part[ptype]}


def to_openai_message(m: dict[str, Any], *, keep_weight: bool = True) -> dict[str, Any]:
    """A stored message dict in OpenAI's chat shape (tool-call arguments as a JSON string)."""
    out: dict[str, Any] = {"role": m["role"]}
    content = m.get("content")
    if isinstance(content, list):
        out["content"] = [_openai_part(p) for p in content]
    elif content is not None or m["role"] != "assistant":
        out["content"] = content if content is not None else ""
    if m.get("name"):
        out["name"] = m["name"]
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": c.get("id") or f"call_{i}",
                "type": "function",
                "function": {
                    "name": c["name"],
                    "arguments": c["arguments"]
                    if isinstance(c["arguments"], str)
                    else orjson.dumps(c["arguments"]).decode(),
                },
            }
            for i, c in enumerate(m["tool_calls"])
        ]
    if m.get("tool_call_id"):
        out["tool_call_id"] = m["tool_call_id"]
    if keep_weight and m.get("weight") is not None:
        out["weight"] = m["weight"]
    return out


def to_openai_messages(messages: Sequence[dict[str, Any]], *, keep_weight: bool = True) -> list[dict[str, Any]]:
    """A conversation in OpenAI's shape, where every call has an id and every result names it.

    Sources without call ids (TRL, ShareGPT) get ``call_N`` numbered across the conversation;
    a tool message without an id answers the pending call of its name, else the oldest.
    """
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (id, function name) of calls not yet answered
    n = 0
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                cid = c.get("id") or f"call_{n}"
                n += 1
                calls.append({**c, "id": cid})
                pending.append((cid, c["name"]))
            m["tool_calls"] = calls
        if m["role"] == "tool":
            if not m.get("tool_call_id") and pending:
                i = next((i for i, (_, name) in enumerate(pending) if name == m.get("name")), 0)
                m["tool_call_id"] = pending.pop(i)[0]
            else:
                pending = [p for p in pending if p[0] != m.get("tool_call_id")]
        out.append(to_openai_message(m, keep_weight=keep_weight))
    return out


def to_trl_message(m: dict[str, Any]) -> dict[str, Any]:
    """A stored message dict in the transformers chat-template shape TRL reads (arguments as objects)."""
    out: dict[str, Any] = {"role": m["role"]}
    content = m.get("content")
    if isinstance(content, list):
        out["content"] = [
            {"type": "text", "text": p["text"]} if p["type"] == "text" else {"type": p["type"]} for p in content
        ]
    else:
        out["content"] = content if content is not None else ""
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in m["tool_calls"]
        ]
    if m["role"] == "tool" and m.get("name"):
        out["name"] = m["name"]
    if m.get("reasoning"):
        out["reasoning_content"] = m["reasoning"]
    return out


def text_of(m: dict[str, Any]) -> str:
    content = m.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def model_dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


CHAT_FIELDS: dict[str, Loc] = {"messages": ("messages",)}  # content.messages is the row's messages


def parse_chat_row(row: dict[str, Any]) -> Record:
    """``{"messages", "tools"?, "parallel_tool_calls"?}``, as OpenAI and TRL write chat rows."""
    content: dict[str, Any] = {"kind": "conversation", "messages": message_dicts(row.get("messages"), ("messages",))}
    tools = row.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise RowError("expected a list of tool definitions", ("tools",), type="wrong_type")
        content["tools"] = tools
    metadata = {"parallel_tool_calls": row["parallel_tool_calls"]} if "parallel_tool_calls" in row else {}
    return make_record(content, fields=CHAT_FIELDS, metadata=metadata)
