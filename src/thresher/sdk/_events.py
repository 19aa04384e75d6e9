"""Building capture events: ids, validation errors as :class:`thresher.DataError`, tool calls."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from thresher.errors import DataError, ErrorDetail
from thresher.model.capture import (
    AgentEndEvent,
    AgentRunEvent,
    AgentStepEvent,
    FeedbackEvent,
    PreferenceEvent,
    TurnEvent,
)
from thresher.model.content import Alternative, Candidate
from thresher.model.messages import Message, ToolCall

Event = TurnEvent | PreferenceEvent | FeedbackEvent | AgentRunEvent | AgentStepEvent | AgentEndEvent
Emit = Callable[[type[Event], dict[str, Any], str | None], str]  # builds, ids and queues an event
M = TypeVar("M", bound=BaseModel)

MessageLike = Message | Mapping[str, Any]
ToolCallLike = ToolCall | Mapping[str, Any]
CandidateLike = Candidate | Mapping[str, Any] | str


def new_id() -> str:
    return uuid.uuid4().hex


def build(model: type[M], data: Mapping[str, Any], what: str) -> M:
    """``model`` from ``data`` (``None`` values left out so defaults apply); errors as DataError."""
    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as e:
        details = [
            ErrorDetail(str(err["type"]), (what, *err["loc"]), str(err["msg"]), err.get("input"))
            for err in e.errors(include_url=False)
        ]
        raise DataError(f"invalid {what}", details) from None


def to_json(event: Event, what: str) -> bytes:
    """The event as sent (serialized once, here, so a value JSON cannot hold fails at the call)."""
    try:
        return event.__pydantic_serializer__.to_json(event, exclude_none=True)
    except PydanticSerializationError as e:
        raise DataError(f"invalid {what}", [ErrorDetail("serialization", (what,), str(e))]) from None


def to_tool_call(call: ToolCallLike) -> ToolCallLike:
    """Thresher's shape as is; OpenAI's (``{"id", "type", "function": {"name", "arguments"}}``)
    converted, with JSON ``arguments`` parsed where they parse."""
    if isinstance(call, ToolCall) or not isinstance(call.get("function"), Mapping):
        return call
    fn = call["function"]
    args: Any = fn.get("arguments")
    if isinstance(args, str):
        try:
            parsed = orjson.loads(args) if args.strip() else {}
        except orjson.JSONDecodeError:
            parsed = args
        args = parsed if isinstance(parsed, dict) else args
    return {"id": call.get("id"), "name": fn.get("name"), "arguments": {} if args is None else args}


AlternativeLike = Alternative | Mapping[str, Any] | str
Alternatives = Sequence[AlternativeLike] | Mapping[str, str | Mapping[str, Any]]


def _alternative(alt: AlternativeLike, default_id: str) -> AlternativeLike:
    if isinstance(alt, str):
        return {"id": default_id, "content": alt}
    if isinstance(alt, Alternative):
        return alt
    out = dict(alt)
    out.setdefault("id", default_id)
    if isinstance(out.get("tool_call"), Mapping):
        out["tool_call"] = to_tool_call(out["tool_call"])
    return out


def alternatives_of(alts: Alternatives) -> list[AlternativeLike]:
    """Alternatives as the model takes them. Plain text gets the ids ``"b"``, ``"c"``... in order (the
    recorded step is option A, ``"taken"``); a mapping is ``{id: text or alternative fields}``."""
    if isinstance(alts, Mapping):
        return [_alternative({"content": v} if isinstance(v, str) else v, str(k)) for k, v in alts.items()]
    letters = [chr(ord("b") + i) if i < 25 else f"alt{i}" for i in range(len(alts))]
    return [_alternative(a, letters[i]) for i, a in enumerate(alts)]
