"""``wrap_openai``: record the chat turns an OpenAI-compatible client sends and receives.

Duck-typed (``openai`` is never imported): anything with ``.chat.completions.create(**kwargs)``
returning an object (or dict) with ``choices[0].message`` works, sync or async, streamed or not.
Each call's new request messages (those after the last turn already recorded for the session)
and the response message become turns of one session, with the model name and sampling params.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from thresher.sdk._capture import CaptureAPI
from thresher.sdk._events import new_id

log = logging.getLogger("thresher.sdk")

# Request arguments that are not sampling parameters (or not JSON): left out of ``params``.
_NOT_PARAMS = frozenset(
    {"messages", "model", "stream", "stream_options", "tools", "functions", "extra_headers", "extra_query"}
    | {"extra_body", "timeout", "user", "metadata", "store"}
)
_MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _plain(obj: Any) -> Any:
    """OpenAI's pydantic objects (or anything with ``model_dump``) as plain JSON-like data."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=True)
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def _parts(content: Any) -> Any:
    """OpenAI content parts as Thresher's: text kept, ``image_url`` as an image reference;
    parts Thresher has no place for (audio input, files) are left out."""
    if not isinstance(content, list):
        return content
    out: list[dict[str, Any]] = []
    for p in content:
        kind = _get(p, "type")
        if kind == "text":
            out.append({"type": "text", "text": _get(p, "text", "")})
        elif kind == "image_url" and isinstance(url := _get(_get(p, "image_url", {}), "url"), str):
            out.append({"type": "image", "image": {"uri": url}})
    return out or ""


def _call(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return raw
    fn = _get(raw, "function")
    return {"id": _get(raw, "id"), "function": {"name": _get(fn, "name"), "arguments": _get(fn, "arguments")}}


def _message(raw: Any) -> dict[str, Any]:
    m = _plain(raw)
    if not isinstance(m, Mapping):
        m = {f: _get(raw, f) for f in _MESSAGE_FIELDS}
    out = {f: m[f] for f in _MESSAGE_FIELDS if m.get(f) not in (None, [], "")}
    if out.get("tool_calls"):
        out["tool_calls"] = [_call(c) for c in out["tool_calls"]]
    if "content" in out:
        out["content"] = _parts(out["content"])
    if out.get("role") == "developer":  # OpenAI's newer name for the system prompt
        out["role"] = "system"
    if m.get("content") == "" and not out.get("tool_calls"):
        out["content"] = ""
    return out


def _key(m: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies a message when the app sends it back (its shape may differ a little)."""
    calls = tuple((_get(c, "id"), _get(_get(c, "function", {}), "name")) for c in m.get("tool_calls") or [])
    content = m.get("content")
    return (m.get("role"), repr(content) if isinstance(content, list) else content or None, calls)


class _Session:
    """The turns already recorded for one session, to record only what is new."""

    def __init__(self, client: CaptureAPI, session_id: str) -> None:
        self.client = client
        self.session_id = session_id
        self._last: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def record(self, request: Mapping[str, Any], response_message: dict[str, Any] | None, model: str | None) -> None:
        try:
            self._record(request, response_message, model)
        except Exception:  # recording must never break the app's call
            log.exception("thresher: could not record an OpenAI call")

    def _record(self, request: Mapping[str, Any], response_message: dict[str, Any] | None, model: str | None) -> None:
        messages = [_message(m) for m in request.get("messages") or []]
        params = {k: v for k, v in request.items() if k not in _NOT_PARAMS and v is not None} or None
        with self._lock:
            start = 0
            if self._last is not None:  # new messages: those after the last turn recorded
                for i in range(len(messages) - 1, -1, -1):
                    if _key(messages[i]) == self._last:
                        start = i + 1
                        break
            for m in messages[start:]:
                self._turn(m, None, None)
            if response_message is not None:
                self._turn(response_message, model, params)
                self._last = _key(response_message)
            elif messages:
                self._last = _key(messages[-1])

    def _turn(self, m: dict[str, Any], model: str | None, params: dict[str, Any] | None) -> None:
        self.client.turn(
            self.session_id,
            m.get("role", "user"),
            m.get("content"),
            tool_calls=m.get("tool_calls"),
            tool_call_id=m.get("tool_call_id"),
            model=model,
            params=params,
        )


class _StreamAccumulator:
    """Rebuilds the assistant message from streamed chunks (content and tool-call deltas)."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, chunk: Any) -> None:
        self.model = self.model or _get(chunk, "model")
        choices = _get(chunk, "choices") or []
        if not choices:
            return
        delta = _get(choices[0], "delta")
        if delta is None:
            return
        if (text := _get(delta, "content")) is not None:
            self.content.append(text)
        for tc in _get(delta, "tool_calls") or []:
            call = self.calls.setdefault(int(_get(tc, "index", 0) or 0), {"type": "function", "function": {}})
            if _get(tc, "id"):
                call["id"] = _get(tc, "id")
            fn = _get(tc, "function")
            if fn is not None:
                if _get(fn, "name"):
                    call["function"]["name"] = _get(fn, "name")
                if _get(fn, "arguments"):
                    call["function"]["arguments"] = call["function"].get("arguments", "") + _get(fn, "arguments")

    def message(self) -> dict[str, Any]:
        m: dict[str, Any] = {"role": "assistant"}
        if self.content:
            m["content"] = "".join(self.content)
        if self.calls:
            m["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return m


class _Completions:
    def __init__(self, inner: Any, session: _Session) -> None:
        self._inner = inner
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create(self, **kwargs: Any) -> Any:
        result = self._inner.create(**kwargs)
        if inspect.isawaitable(result):
            return self._acreate(result, kwargs)
        if kwargs.get("stream"):
            return self._stream(result, kwargs)
        self._done(result, kwargs)
        return result

    async def _acreate(self, pending: Any, kwargs: dict[str, Any]) -> Any:
        result = await pending
        if kwargs.get("stream"):
            return self._astream(result, kwargs)
        self._done(result, kwargs)
        return result

    def _done(self, result: Any, kwargs: dict[str, Any]) -> None:
        choices = _get(result, "choices") or []
        message = _message(_get(choices[0], "message")) if choices else None
        self._session.record(kwargs, message, _get(result, "model") or kwargs.get("model"))

    def _stream(self, chunks: Any, kwargs: dict[str, Any]) -> Iterator[Any]:
        acc = _StreamAccumulator()
        for chunk in chunks:
            acc.add(chunk)
            yield chunk
        self._session.record(kwargs, acc.message(), acc.model or kwargs.get("model"))

    async def _astream(self, chunks: Any, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        acc = _StreamAccumulator()
        async for chunk in chunks:
            acc.add(chunk)
            yield chunk
        self._session.record(kwargs, acc.message(), acc.model or kwargs.get("model"))


class _Chat:
    def __init__(self, inner: Any, session: _Session) -> None:
        self._inner = inner
        self.completions = _Completions(inner.completions, session)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class OpenAIWrapper:
    """The wrapped client: ``chat.completions.create`` records turns; everything else passes through."""

    def __init__(self, inner: Any, session: _Session) -> None:
        self._inner = inner
        self.chat = _Chat(inner.chat, session)
        self.session_id = session.session_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def wrap_openai(openai_client: Any, thresher_client: CaptureAPI, session_id: str | None = None) -> Any:
    """Wrap an OpenAI-compatible client so each chat completion is recorded as turns of
    ``session_id`` (a new id when not given; read it back as ``.session_id``).

    Only messages not yet recorded for the session are sent, so a growing history is
    recorded once. A streamed response is recorded when the stream has been read to the end.
    """
    return OpenAIWrapper(openai_client, _Session(thresher_client, session_id or new_id()))
