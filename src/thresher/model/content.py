"""The typed content of each record kind. ``kind`` is the discriminator."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thresher.model.messages import BlobRef, Message, ToolCall, check_conversation

RecordKind = Literal["text", "conversation", "comparison", "agent_run", "media", "eval_item"]
RECORD_KINDS: tuple[str, ...] = get_args(RecordKind)


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextContent(_Content):
    """A document, as in a pre-training corpus."""

    kind: Literal["text"] = "text"
    text: str = Field(min_length=1)


class ConversationContent(_Content):
    """Messages, single- or multi-turn, with the tool schemas the model was offered."""

    kind: Literal["conversation"] = "conversation"
    messages: list[Message]
    tools: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _check(self) -> ConversationContent:
        check_conversation(self.messages)
        return self


class Candidate(_Content):
    """One candidate response to a comparison's prompt, and the model that made it."""

    id: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    model: str | None = None
    params: dict[str, Any] | None = None


class ComparisonContent(_Content):
    """A prompt (messages) and N candidate responses: for ranking, ratings, pairwise choice."""

    kind: Literal["comparison"] = "comparison"
    prompt: list[Message]
    candidates: list[Candidate] = Field(min_length=2)
    tools: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _check(self) -> ComparisonContent:
        # An implicit-prompt pair (HH-style) may have an empty prompt; candidates never are.
        ids = [c.id for c in self.candidates]
        if len(set(ids)) != len(ids):
            raise ValueError(f"candidate ids must be unique, got {ids}")
        if self.prompt:
            check_conversation(self.prompt)
        return self

    def candidate(self, cid: str) -> Candidate:
        for c in self.candidates:
            if c.id == cid:
                return c
        raise KeyError(cid)


StepType = Literal["plan", "reasoning", "tool_call", "tool_result", "message", "handoff", "error"]
FailureCause = Literal["model_output", "system", "tool", "unknown"]


class Alternative(_Content):
    """Another output the agent could have produced at a step (sampled, or offered to the user).

    The step as recorded is the option ``"taken"``; alternatives are the others, by ``id``.
    Step-level preference data comes from choosing among them."""

    id: str = Field(min_length=1)
    content: str | None = None
    tool_call: ToolCall | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Alternative:
        if self.id == "taken":
            raise ValueError('"taken" names the recorded step; pick another alternative id')
        if self.content is None and self.tool_call is None:
            raise ValueError("an alternative needs content or a tool_call")
        return self


class Step(_Content):
    """One step of an agent run. Which fields are needed depends on ``type``."""

    type: StepType
    content: str | None = None
    agent: str | None = Field(default=None, description="which agent acted (multi-agent runs)")
    tool_call: ToolCall | None = None
    tool_call_id: str | None = Field(default=None, description="tool_result: the call it answers")
    is_error: bool | None = None
    handoff_to: str | None = None
    model: str | None = None
    started_at: float | None = Field(default=None, description="unix seconds")
    latency_ms: float | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    alternatives: list[Alternative] | None = Field(default=None, description="other outputs offered here")
    chosen: str | None = Field(default=None, description='the option the app\'s user picked: "taken" or an id')

    @model_validator(mode="after")
    def _check(self) -> Step:
        if self.alternatives:
            ids = [a.id for a in self.alternatives]
            if len(set(ids)) != len(ids):
                raise ValueError(f"alternative ids must be unique, got {ids}")
        options = {"taken", *(a.id for a in self.alternatives or [])}
        if self.chosen is not None and self.chosen not in options:
            raise ValueError(f"chosen {self.chosen!r} is neither 'taken' nor an alternative's id")
        if self.type == "tool_call" and self.tool_call is None:
            raise ValueError("a tool_call step needs tool_call")
        if self.type == "handoff" and not self.handoff_to:
            raise ValueError("a handoff step needs handoff_to")
        if self.type in ("plan", "reasoning", "message", "error", "tool_result") and self.content is None:
            raise ValueError(f"a {self.type} step needs content")
        return self


class Outcome(_Content):
    status: Literal["success", "failure", "partial", "unknown"] = "unknown"
    detail: str | None = None
    score: float | None = None


class Failure(_Content):
    """Where a run went wrong, and whether the model's output or the system was the cause."""

    step: int | None = Field(default=None, ge=0, description="index of the first failing step")
    cause: FailureCause = "unknown"
    reason: str | None = None


class AgentRunContent(_Content):
    """A task, the ordered steps an agent took, the outcome and the failure if any."""

    kind: Literal["agent_run"] = "agent_run"
    task: str | list[Message]
    steps: list[Step] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    outcome: Outcome = Field(default_factory=Outcome)
    failure: Failure | None = None

    @model_validator(mode="after")
    def _check(self) -> AgentRunContent:
        if isinstance(self.task, str) and not self.task.strip():
            raise ValueError("task must not be empty")
        if self.failure and self.failure.step is not None and self.failure.step >= len(self.steps):
            raise ValueError(f"failure.step {self.failure.step} is past the last step ({len(self.steps) - 1})")
        return self


MediaType = Literal["image", "video", "audio"]


class MediaInfo(_Content):
    """Technical metadata read from the file."""

    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    orientation: int | None = Field(default=None, ge=1, le=8, description="EXIF orientation")
    duration_s: float | None = Field(default=None, ge=0)
    fps: float | None = Field(default=None, gt=0)
    frame_count: int | None = Field(default=None, ge=0)
    codec: str | None = None
    sample_rate: int | None = Field(default=None, gt=0)
    channels: int | None = Field(default=None, gt=0)


class MediaContent(_Content):
    """An image, a video or an audio asset, by reference, with optional conversation context."""

    kind: Literal["media"] = "media"
    media_type: MediaType
    blob: BlobRef
    info: MediaInfo = Field(default_factory=MediaInfo)
    caption: str | None = None
    context: list[Message] | None = None


GraderType = Literal["exact", "normalized", "regex", "numeric", "choice", "json_schema", "code_tests", "judge"]


class GradingRule(_Content):
    type: GraderType
    params: dict[str, Any] = Field(default_factory=dict)


class EvalItemContent(_Content):
    """Input messages and a reference answer or a grading rule (or both)."""

    kind: Literal["eval_item"] = "eval_item"
    input: list[Message]
    reference: str | list[str] | None = None
    choices: list[str] | None = None
    grader: GradingRule | None = None

    @model_validator(mode="after")
    def _check(self) -> EvalItemContent:
        check_conversation(self.input)
        if self.reference is None and self.grader is None:
            raise ValueError("an eval item needs a reference or a grader")
        return self


Content = Annotated[
    TextContent | ConversationContent | ComparisonContent | AgentRunContent | MediaContent | EvalItemContent,
    Field(discriminator="kind"),
]
