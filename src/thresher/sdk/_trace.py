"""``client.trace(task)``: an agent run recorded step by step, as a context manager or decorator.

Each step is sent (``agent_step``) the moment it is recorded, with its index, so a crash halfway
still leaves the steps taken; leaving the block sends ``agent_end`` with the outcome.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

from thresher.errors import DataError, ErrorDetail
from thresher.model.capture import AgentEndEvent, AgentStepEvent
from thresher.model.content import Failure, FailureCause, Step, StepType
from thresher.sdk._events import (
    Alternatives,
    Emit,
    MessageLike,
    ToolCallLike,
    alternatives_of,
    build,
    new_id,
    to_tool_call,
)

log = logging.getLogger("thresher.sdk")

P = ParamSpec("P")
R = TypeVar("R")
Status = Literal["success", "failure", "partial", "unknown"]

_current: ContextVar[Run | None] = ContextVar("thresher_current_run", default=None)


def current_run() -> Run | None:
    """The run of the innermost ``trace`` active in this thread or task, if any."""
    return _current.get()


class Run:
    """One agent run being recorded. Each method records a step and returns its index
    (``tool_call`` returns the call id, which ``tool_result`` answers by default)."""

    def __init__(
        self,
        emit: Emit,
        task: str | Sequence[MessageLike],
        run_id: str,
        model: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        self.run_id = run_id
        self.task: str | list[Any] = task if isinstance(task, str) else list(task)
        self.model = model
        self.metadata = dict(metadata or {})
        self._emit = emit
        self._lock = threading.Lock()
        self._steps = 0
        self._last_call: str | None = None
        self._status: Status | None = None
        self._detail: str | None = None
        self._score: float | None = None
        self._failure: dict[str, Any] | None = None
        self._ended = False

    @property
    def steps(self) -> int:
        """How many steps have been recorded."""
        return self._steps

    @property
    def last_step(self) -> int | None:
        """The index of the last step recorded (for ``fail(step=...)``), or None before any."""
        return self._steps - 1 if self._steps else None

    @property
    def ended(self) -> bool:
        return self._ended

    def step(
        self,
        type: StepType,
        content: str | None = None,
        *,
        agent: str | None = None,
        model: str | None = None,
        tool_call: ToolCallLike | None = None,
        tool_call_id: str | None = None,
        is_error: bool | None = None,
        handoff_to: str | None = None,
        latency_ms: float | None = None,
        tokens: int | None = None,
        alternatives: Alternatives | None = None,
        chosen: str | None = None,
    ) -> int:
        """Record a step of any type; the named methods below are shorthands.

        ``alternatives`` are the other outputs offered at this step (texts get the ids "b", "c"...),
        ``chosen`` the one the user picked ("taken" for this step): step-level preference data."""
        fields = {
            "type": type,
            "content": content,
            "agent": agent,
            "model": model,
            "tool_call": tool_call,
            "tool_call_id": tool_call_id,
            "is_error": is_error,
            "handoff_to": handoff_to,
            "latency_ms": latency_ms,
            "tokens": tokens,
            "started_at": time.time(),
            "alternatives": None if alternatives is None else alternatives_of(alternatives),
            "chosen": chosen,
        }
        step = build(Step, fields, "step")  # invalid steps raise here, before taking an index
        with self._lock:
            if self._ended:
                log.warning("thresher: step %r after run %s ended: not recorded", type, self.run_id)
                return -1
            index = self._steps
            self._steps += 1
            data: dict[str, Any] = {"run_id": self.run_id, "index": index, "step": step}
            if index == 0:
                data["task"] = self.task
            self._emit(AgentStepEvent, data, None)
        return index

    def plan(self, content: str, *, agent: str | None = None, model: str | None = None) -> int:
        return self.step("plan", content, agent=agent, model=model)

    def reasoning(self, content: str, *, agent: str | None = None, model: str | None = None) -> int:
        return self.step("reasoning", content, agent=agent, model=model)

    def tool_call(
        self,
        name: str,
        args: Mapping[str, Any] | str | None = None,
        *,
        id: str | None = None,
        agent: str | None = None,
        model: str | None = None,
    ) -> str:
        """Record a call of tool ``name``; returns the call id (generated unless given)."""
        call_id = id or f"call_{new_id()[:24]}"
        call = to_tool_call({"id": call_id, "name": name, "arguments": {} if args is None else args})
        self.step("tool_call", agent=agent, model=model, tool_call=call)
        self._last_call = call_id
        return call_id

    def tool_result(
        self,
        content: str,
        *,
        tool_call_id: str | None = None,
        is_error: bool | None = None,
        latency_ms: float | None = None,
        agent: str | None = None,
    ) -> int:
        """Record what a tool returned; it answers the last ``tool_call`` unless told otherwise."""
        answers = tool_call_id or self._last_call
        return self.step(
            "tool_result", content, tool_call_id=answers, is_error=is_error, latency_ms=latency_ms, agent=agent
        )

    def message(
        self,
        content: str,
        *,
        agent: str | None = None,
        model: str | None = None,
        alternatives: Alternatives | None = None,
        chosen: str | None = None,
    ) -> int:
        return self.step("message", content, agent=agent, model=model, alternatives=alternatives, chosen=chosen)

    def handoff(self, to: str, content: str | None = None, *, agent: str | None = None) -> int:
        return self.step("handoff", content, handoff_to=to, agent=agent)

    def error(self, content: str, *, agent: str | None = None) -> int:
        """Record an error the agent met (the run goes on unless it fails)."""
        return self.step("error", content, agent=agent, is_error=True)

    def fail(self, cause: FailureCause = "unknown", reason: str | None = None, *, step: int | None = None) -> None:
        """Mark the run failed: ``cause`` is ``"model_output"`` when the model got it wrong,
        ``"system"`` or ``"tool"`` when something around it did. ``step`` is the index of the
        first failing step, if known (``run.last_step`` for the step just recorded)."""
        failure = build(Failure, {"cause": cause, "reason": reason, "step": step}, "fail")
        if step is not None and step >= self._steps:
            msg = f"no step {step} yet: {self._steps} recorded"
            raise DataError("invalid fail", [ErrorDetail("value_error", ("fail", "step"), msg, step)])
        with self._lock:
            self._status = "failure"
            self._failure = failure.model_dump(exclude_none=True)

    def succeed(self, detail: str | None = None, *, score: float | None = None) -> None:
        self.set_outcome("success", detail, score=score)

    def set_outcome(self, status: Status, detail: str | None = None, *, score: float | None = None) -> None:
        """Set the outcome sent at the end (default: success, or failure on an exception)."""
        with self._lock:
            self._status, self._detail, self._score = status, detail, score
            if status != "failure":
                self._failure = None

    def end(self, error: BaseException | None = None) -> None:
        """Send the run's end (the ``trace`` block does this); later steps are ignored."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            status = self._status or ("failure" if error is not None else "success")
            failure = dict(self._failure) if self._failure is not None else None
            if error is not None and (status == "failure"):
                failure = failure or {"cause": "unknown"}
                text = str(error)
                failure.setdefault(
                    "reason", f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__
                )
            outcome = {"status": status, "detail": self._detail, "score": self._score}
            data = {
                "run_id": self.run_id,
                "task": self.task,
                "outcome": {k: v for k, v in outcome.items() if v is not None},
                "failure": failure if status == "failure" else None,
                "model": self.model,
                "metadata": self.metadata or None,
            }
            self._emit(AgentEndEvent, data, None)


class Trace:
    """What ``client.trace(...)`` returns: ``with``/``async with`` it, or decorate a function."""

    def __init__(
        self,
        emit: Emit,
        task: str | Sequence[MessageLike],
        run_id: str | None = None,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._emit = emit
        self._task = task
        self._run_id = run_id
        self._model = model
        self._metadata = metadata
        self._active: list[tuple[Run, Token[Run | None]]] = []

    def _start(self) -> Run:
        run = Run(self._emit, self._task, self._run_id or new_id(), self._model, self._metadata)
        self._active.append((run, _current.set(run)))
        return run

    def _stop(self, error: BaseException | None) -> None:
        run, token = self._active.pop()
        _current.reset(token)
        try:
            run.end(error)
        except Exception:  # the end event is built from validated parts; never mask the block's error
            log.exception("thresher: could not record the end of run %s", run.run_id)

    def __enter__(self) -> Run:
        return self._start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._stop(ev)

    async def __aenter__(self) -> Run:
        return self._start()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop(ev)

    def _fresh(self) -> Trace:
        return Trace(self._emit, self._task, self._run_id, model=self._model, metadata=self._metadata)

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorator: each call of ``fn`` is recorded as a new run (see :func:`current_run`)."""
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def arun(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self._fresh():
                    return await afn(*args, **kwargs)

            return arun

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return run
