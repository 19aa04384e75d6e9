"""The capture calls both clients share: each builds an event (invalid input raises here, at the
call site, as :class:`thresher.DataError`), gives it an id and hands it to the client's queue."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from thresher.errors import DataError, ErrorDetail
from thresher.model.capture import (
    AgentEndEvent,
    AgentRunEvent,
    AgentStepEvent,
    FeedbackEvent,
    PreferenceEvent,
    TurnEvent,
)
from thresher.model.content import Candidate, Failure, Outcome, Step
from thresher.model.messages import ContentPart
from thresher.sdk._events import (
    Alternatives,
    CandidateLike,
    Event,
    MessageLike,
    ToolCallLike,
    alternatives_of,
    build,
    new_id,
    to_json,
    to_tool_call,
)
from thresher.sdk._trace import Trace


def _candidates(candidates: Sequence[CandidateLike]) -> tuple[list[Any], list[str | None]]:
    out: list[Any] = []
    ids: list[str | None] = []
    for i, c in enumerate(candidates):
        if isinstance(c, str):
            out.append({"id": str(i), "messages": [{"role": "assistant", "content": c}]})
            ids.append(str(i))
        else:
            out.append(c)
            ids.append(c.id if isinstance(c, Candidate) else (str(c["id"]) if "id" in c else None))
    return out, ids


StepLike = Step | Mapping[str, Any]
OutcomeLike = Outcome | Mapping[str, Any] | Literal["success", "failure", "partial", "unknown"]


def _step(step: StepLike, alternatives: Alternatives | None = None, chosen: str | None = None) -> StepLike:
    """A step with the alternatives offered at it and the option the user chose (checked when the event
    is built: ``chosen`` must be ``"taken"`` or one of the alternatives' ids)."""
    if isinstance(step, Step) and alternatives is None and chosen is None:
        return step
    out = step.model_dump(exclude_none=True) if isinstance(step, Step) else dict(step)
    if alternatives is not None:
        out["alternatives"] = alternatives
    if out.get("alternatives") is not None:
        out["alternatives"] = alternatives_of(out["alternatives"])
    if chosen is not None:
        out["chosen"] = chosen
    if isinstance(out.get("tool_call"), Mapping):
        out["tool_call"] = to_tool_call(out["tool_call"])
    return out


class CaptureAPI(ABC):
    """Capture calls; a client supplies ``_enqueue``, which must never block or raise."""

    @abstractmethod
    def _enqueue(self, payload: bytes) -> None:
        """Put one event (as JSON) on the queue, or count it as dropped when the queue is full."""

    def _emit(self, model: type[Event], data: dict[str, Any], id: str | None) -> str:
        data["id"] = id or new_id()
        data.setdefault("timestamp", time.time())
        what = str(model.model_fields["type"].default)
        self._enqueue(to_json(build(model, data, what), what))
        return str(data["id"])

    def turn(
        self,
        session_id: str,
        role: Literal["system", "user", "assistant", "tool"],
        content: str | Sequence[ContentPart | Mapping[str, Any]] | None,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        tool_calls: Sequence[ToolCallLike] | None = None,
        tool_call_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Record one message of a chat session; returns the event id (a ``turn_id`` for feedback)."""
        message = {
            "role": role,
            "content": content,
            "tool_calls": [to_tool_call(c) for c in tool_calls] if tool_calls else None,
            "tool_call_id": tool_call_id,
        }
        data = {"session_id": session_id, "message": {k: v for k, v in message.items() if v is not None}}
        return self._emit(TurnEvent, {**data, "model": model, "params": params, "metadata": metadata}, id)

    def preference(
        self,
        candidates: Sequence[CandidateLike],
        chosen: str | int,
        *,
        reason: str | None = None,
        prompt: Sequence[MessageLike] | None = None,
        session_id: str | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Record the candidates a user saw and the one they chose.

        A candidate is a :class:`~thresher.model.Candidate` (or its dict), or plain text, which
        becomes an assistant message with id ``"0"``, ``"1"``, ... ``chosen`` is a candidate id,
        or an index into ``candidates``. Without ``prompt``, the session's history is the prompt.
        """
        items, ids = _candidates(candidates)
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            if not 0 <= chosen < len(ids) or ids[chosen] is None:
                detail = ErrorDetail("index_error", ("preference", "chosen"), "no candidate at this index", chosen)
                raise DataError("invalid preference", [detail])
            chosen = str(ids[chosen])
        elif chosen not in ids:
            detail = ErrorDetail("value_error", ("preference", "chosen"), f"not a candidate id ({ids})", chosen)
            raise DataError("invalid preference", [detail])
        data = {
            "candidates": items,
            "chosen": chosen,
            "reason": reason,
            "prompt": list(prompt) if prompt is not None else None,
            "session_id": session_id,
            "user": user,
            "metadata": metadata,
        }
        return self._emit(PreferenceEvent, data, id)

    def feedback(
        self,
        session_id: str,
        *,
        thumbs: Literal["up", "down"] | None = None,
        ratings: Mapping[str, int] | None = None,
        scale: tuple[int, int] | None = None,
        comment: str | None = None,
        turn_id: str | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Record thumbs and/or ratings on an assistant turn (default: the session's last)."""
        if thumbs is None and not ratings and comment is None:
            detail = ErrorDetail("missing", ("feedback",), "give thumbs, ratings or a comment", None)
            raise DataError("invalid feedback", [detail])
        data = {
            "session_id": session_id,
            "thumbs": thumbs,
            "ratings": ratings,
            "scale": scale,
            "comment": comment,
            "turn_id": turn_id,
            "user": user,
            "metadata": metadata,
        }
        return self._emit(FeedbackEvent, data, id)

    def agent_run(
        self,
        task: str | Sequence[MessageLike],
        steps: Sequence[StepLike] = (),
        *,
        outcome: OutcomeLike | None = None,
        failure: Failure | Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        model: str | None = None,
        run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Record a whole agent run at once (use :meth:`trace` to send it step by step).

        A step may carry the ``alternatives`` offered at it and the option the user ``chosen``
        (see :meth:`agent_step` for the short forms)."""
        data = {
            "run_id": run_id or new_id(),
            "task": task if isinstance(task, str) else list(task),
            "steps": [_step(s) for s in steps],
            "outcome": {"status": outcome} if isinstance(outcome, str) else outcome,
            "failure": failure,
            "tools": list(tools) if tools is not None else None,
            "model": model,
            "metadata": metadata,
        }
        return self._emit(AgentRunEvent, data, id)

    def agent_step(
        self,
        run_id: str,
        step: StepLike,
        *,
        alternatives: Alternatives | None = None,
        chosen: str | None = None,
        index: int | None = None,
        task: str | Sequence[MessageLike] | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Record one step of a run by its id; :meth:`agent_end` closes the run and makes its record.

        For runs that span requests, and for steps where the user chose among outputs: the step as
        recorded is option ``"taken"``; ``alternatives`` are the others (text, which gets the ids
        ``"b"``, ``"c"``...; :class:`~thresher.model.Alternative` or its dict, with ``content`` or a
        ``tool_call``; or a mapping ``{id: text}``); ``chosen`` is the option the user picked::

            client.agent_step(run_id, {"type": "message", "content": "Option A"}, index=3,
                              alternatives={"b": "Option B"}, chosen="b")

        ``index`` is the step's position (default: arrival order); send ``task`` with the first step
        or with the end. The step is checked here: an unknown ``chosen`` raises ``DataError``.
        """
        data = {
            "run_id": run_id,
            "index": index,
            "task": task if task is None or isinstance(task, str) else list(task),
            "step": _step(step, alternatives, chosen),
            "metadata": metadata,
        }
        return self._emit(AgentStepEvent, data, id)

    def agent_end(
        self,
        run_id: str,
        *,
        outcome: OutcomeLike | None = None,
        failure: Failure | Mapping[str, Any] | None = None,
        task: str | Sequence[MessageLike] | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Close a run sent with :meth:`agent_step`: its outcome (default ``"unknown"``) and failure."""
        data = {
            "run_id": run_id,
            "task": task if task is None or isinstance(task, str) else list(task),
            "outcome": {"status": outcome} if isinstance(outcome, str) else outcome,
            "failure": failure,
            "model": model,
            "metadata": metadata,
        }
        return self._emit(AgentEndEvent, data, id)

    def trace(
        self,
        task: str | Sequence[MessageLike],
        run_id: str | None = None,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Trace:
        """Record an agent run as it happens: a context manager (sync or async) or a decorator.

        ``with client.trace("book a table") as run: run.tool_call("search", {...}) ...`` sends
        each step when it is recorded and the run's end when the block exits; an exception in
        the block marks the run failed (cause ``"unknown"`` unless :meth:`Run.fail` set one).
        As a decorator, each call is a new run (a new ``run_id`` unless one was given);
        :func:`current_run` returns it inside the function.
        """
        return Trace(self._emit, task, run_id, model=model, metadata=metadata)
