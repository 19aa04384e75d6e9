"""Capture events: what a deployed app sends (through the SDK) as its users chat, choose, rate
and as its agents run. Each event carries a client-supplied ``id``: a retried event is stored once.

Events become records in the project's capture dataset:

==============  ==================================================================================
``turn``         appended to the session's conversation (one record per session, kept current)
``preference``   a ``comparison`` of the candidates shown, with the user's pick and reason
``feedback``     thumbs / ratings on an assistant turn: the conversation up to that turn, labelled
``agent_run``    a whole run at once: an ``agent_run`` record
``agent_step``   one step of a running agent; ``agent_end`` closes the run and makes its record
==============  ==================================================================================
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thresher.model.content import Candidate, Failure, Outcome, Step
from thresher.model.messages import Message

EventId = Annotated[str, Field(min_length=1, max_length=128, description="client-supplied id; retries reuse it")]
Key = Annotated[str, Field(min_length=1, max_length=128)]
CAPTURE_DATASET = "capture"
# A rating dimension becomes a rating question of that name (the questions' name rule); the two
# questions every capture dataset has are taken.
_DIMENSION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TAKEN = frozenset({"preferred", "feedback"})


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: EventId
    dataset: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] = CAPTURE_DATASET
    timestamp: float | None = Field(default=None, description="unix seconds at the client")
    metadata: dict[str, Any] = Field(default_factory=dict)


class TurnEvent(_Event):
    """One message of a chat session, as it happens."""

    type: Literal["turn"] = "turn"
    session_id: Key
    message: Message
    model: str | None = None
    params: dict[str, Any] | None = None


class PreferenceEvent(_Event):
    """Candidates shown to a user and the one they picked, with their reason."""

    type: Literal["preference"] = "preference"
    session_id: Key | None = Field(default=None, description="prompt defaults to this session's history")
    prompt: list[Message] | None = None
    candidates: list[Candidate] = Field(min_length=2)
    chosen: str = Field(description="id of the candidate the user picked")
    reason: str | None = None
    user: Key | None = Field(default=None, description="the app's end-user id (pseudonymous)")

    # Checked on arrival, not when the event becomes a record (later, in the capture worker):
    # an event that is stored must be one that can become its record.
    @model_validator(mode="after")
    def _chosen_is_a_candidate(self) -> PreferenceEvent:
        if self.chosen not in {c.id for c in self.candidates}:
            raise ValueError(f"chosen {self.chosen!r} is not one of the candidates' ids")
        return self


class FeedbackEvent(_Event):
    """Thumbs and/or ratings (any named dimension) on an assistant turn of a session."""

    type: Literal["feedback"] = "feedback"
    session_id: Key
    turn_id: EventId | None = Field(default=None, description="the assistant turn's event id; default: the last")
    thumbs: Literal["up", "down"] | None = None
    ratings: dict[Key, int] = Field(default_factory=dict, description="dimension -> score on `scale`")
    scale: tuple[int, int] = (1, 5)
    comment: str | None = None
    user: Key | None = None

    @model_validator(mode="after")
    def _ratings_fit(self) -> FeedbackEvent:
        low, high = self.scale
        if low >= high:
            raise ValueError(f"scale: min ({low}) must be below max ({high})")
        for dim, score in self.ratings.items():
            if not _DIMENSION.match(dim) or dim in _TAKEN:
                expected = "a lowercase name (letters, digits, _), not 'preferred' or 'feedback'"
                raise ValueError(f"rating dimension {dim!r}: expected {expected}")
            if not low <= score <= high:
                raise ValueError(f"rating {dim!r}: expected an integer from {low} to {high}, got {score}")
        return self


class AgentRunEvent(_Event):
    """A whole agent run, sent when it is over."""

    type: Literal["agent_run"] = "agent_run"
    run_id: Key
    task: str | list[Message]
    steps: list[Step] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    outcome: Outcome = Field(default_factory=Outcome)
    failure: Failure | None = None
    model: str | None = None


class AgentStepEvent(_Event):
    """One step of a running agent; the first may carry the task."""

    type: Literal["agent_step"] = "agent_step"
    run_id: Key
    index: int | None = Field(default=None, ge=0, description="step position; default: arrival order")
    task: str | list[Message] | None = None
    step: Step


class AgentEndEvent(_Event):
    """The end of a run sent step by step: its outcome, and the failure if any."""

    type: Literal["agent_end"] = "agent_end"
    run_id: Key
    task: str | list[Message] | None = None
    outcome: Outcome = Field(default_factory=Outcome)
    failure: Failure | None = None
    model: str | None = None


CaptureEvent = Annotated[
    TurnEvent | PreferenceEvent | FeedbackEvent | AgentRunEvent | AgentStepEvent | AgentEndEvent,
    Field(discriminator="type"),
]


class CaptureBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[CaptureEvent] = Field(min_length=1, max_length=1000)


class CaptureResult(BaseModel):
    accepted: int = Field(description="events stored now")
    duplicates: int = Field(description="events already stored under the same id (retries)")
