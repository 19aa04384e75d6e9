"""Shared by the TRL formats: standard (plain strings) vs conversational (message lists) values."""

from __future__ import annotations

from typing import Any

from thresher.formats._chat import make_record, model_dump, parse_messages, text_of, to_trl_message
from thresher.formats.base import RowError
from thresher.model import Record

Msgs = list[dict[str, Any]]
Loc = tuple[str | int, ...]


def is_conversational(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value)


def read_turns(value: Any, loc: Loc, role: str, *, allow_empty: bool = False) -> Msgs:
    """A TRL value as stored messages: a message list as is, a plain string as one ``role`` turn."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if is_conversational(value):
        return [model_dump(m) for m in parse_messages(value, loc, allow_empty=allow_empty)]
    raise RowError(
        f"expected a string or a list of messages, got {type(value).__name__}", loc, type="wrong_type", input=value
    )


def write_turns(messages: Msgs, style: str) -> Any:
    """Messages as a TRL value; in standard style a plain string, or None if that would lose turns."""
    if style == "conversational":
        return [to_trl_message(m) for m in messages]
    if len(messages) != 1 or isinstance(messages[0].get("content"), list) or messages[0].get("tool_calls"):
        return None
    return text_of(messages[0])


def standard_prompt(prompt: Msgs) -> str | None:
    """A single user turn (no system, no history) as TRL's standard prompt string."""
    if len(prompt) == 1 and prompt[0]["role"] == "user" and not isinstance(prompt[0].get("content"), list):
        return text_of(prompt[0])
    return None


def shared_prefix(a: Msgs, b: Msgs) -> int:
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return n


def comparison_record(prompt: Msgs, chosen: Msgs, rejected: Msgs, loc: Loc = ()) -> Record:
    """A pair as a comparison: candidate ``a`` (chosen) and ``b`` (rejected); the label goes in a response."""
    content = {
        "kind": "comparison",
        "prompt": prompt,
        "candidates": [{"id": "a", "messages": chosen}, {"id": "b", "messages": rejected}],
    }
    return make_record(content, loc)
