"""Questions: a dataset's annotation schema. Each type validates its answers' shape and bounds.

An answer's shape per type (``value`` in a response or a suggestion):

=================  ==============================================================
text               ``"the ideal response"``
conversation       ``[{"role": "user", "content": "hi"}, {"role": "assistant", ...}]``
rating             ``5``, or ``{"a": 5, "b": 3}`` when rating each candidate
ranking            ``[["b"], ["a", "c"]]``: best group first, ties share a group
choice             ``{"choice": "a", "rationale": "why"}``
multi_choice       ``{"choices": ["x", "y"], "rationale": null}``
span               ``[{"start": 0, "end": 5, "label": "PER", "field": "text"}]``
step_verdict       ``[{"step": 0, "verdict": "wrong", "cause": "model_output", ...}]``
region             ``[{"label": "cat", "box": [x, y, w, h]}]`` (or polygon, mask RLE)
timeline_segment   ``[{"start": 1.5, "end": 3.0, "label": "jump"}]`` (seconds)
track              ``[{"track_id": "1", "label": "car", "keyframes": [...]}]``
transcript         ``[{"start": 0.0, "end": 2.1, "speaker": "A", "text": "hi"}]``
trajectory         ``{"steps": [{"type": "plan", "content": "..."}, ...], "final": "..."}``
step_preference    ``[{"step": 3, "choice": "b", "rationale": "why"}]`` ("taken" or an id)
recording          ``{"takes": [{"blob": {...}, "duration_s": 3.1}], "selected": 0, "tags": {}}``
=================  ==============================================================
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from thresher.model.content import AgentRunContent, ComparisonContent, MediaContent, Step
from thresher.model.messages import BlobRef, Message, ToolCall
from thresher.model.record import Record

_NAME = r"^[a-z][a-z0-9_]{0,63}$"
Rationale = Literal["none", "optional", "required"]


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    title: str | None = None
    description: str | None = Field(default=None, description="Markdown shown beside the task")
    required: bool = True

    def validate_value(self, value: Any, record: Record | None = None) -> Any:
        """Check ``value`` against this question (and the record, when given); return it normalized."""
        raise NotImplementedError


def _candidate_ids(record: Record | None) -> list[str] | None:
    if record is not None and isinstance(record.content, ComparisonContent):
        return [c.id for c in record.content.candidates]
    return None


def _options(fixed: list[str] | None, record: Record | None, qname: str) -> list[str] | None:
    """Fixed options, or the record's candidate ids when the question ranks/chooses candidates."""
    if fixed:
        return fixed
    ids = _candidate_ids(record)
    if ids is None and record is not None:
        raise ValueError(f"question {qname!r} has no options and the record has no candidates")
    return ids


class TextQuestion(_Question):
    type: Literal["text"] = "text"
    min_length: int = Field(default=1, ge=0)
    max_length: int | None = Field(default=None, gt=0)
    markdown: bool = True

    def validate_value(self, value: Any, record: Record | None = None) -> str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if len(value.strip()) < self.min_length:
            raise ValueError(f"expected at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"expected at most {self.max_length} characters, got {len(value)}")
        return value


class ConversationQuestion(_Question):
    """Edit a whole conversation: fix any assistant turn, add or remove turns (SFT from chats).

    The answer is the edited list of messages; a training export that names this question as
    its rewrite question trains on the edited conversation instead of the original."""

    type: Literal["conversation"] = "conversation"

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        messages = TypeAdapter(list[Message]).validate_python(value)
        if not messages:
            raise ValueError("expected at least one message")
        if not any(m.role == "assistant" for m in messages):
            raise ValueError("expected at least one assistant turn")
        return [m.model_dump(mode="json", exclude_none=True) for m in messages]


class RatingQuestion(_Question):
    """A score on one named dimension (helpfulness, correctness, style...), e.g. Likert 1-7."""

    type: Literal["rating"] = "rating"
    dimension: str | None = None
    min: int = 1
    max: int = 5
    anchors: dict[int, str] = Field(default_factory=dict, description="labels of scale points")
    per_candidate: bool = False

    @model_validator(mode="after")
    def _check(self) -> RatingQuestion:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        bad = [k for k in self.anchors if not self.min <= k <= self.max]
        if bad:
            raise ValueError(f"anchors {bad} are outside {self.min}..{self.max}")
        return self

    def _score(self, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected an integer from {self.min} to {self.max}, got {v!r}")
        if not self.min <= v <= self.max:
            raise ValueError(f"expected an integer from {self.min} to {self.max}, got {v}")
        return v

    def validate_value(self, value: Any, record: Record | None = None) -> int | dict[str, int]:
        if not self.per_candidate:
            return self._score(value)
        if not isinstance(value, dict):
            raise ValueError("expected a score per candidate: {candidate_id: score}")
        ids = _candidate_ids(record)
        if ids is not None:
            unknown = sorted(set(value) - set(ids))
            if unknown:
                raise ValueError(f"unknown candidates {unknown}; expected some of {ids}")
        return {str(k): self._score(v) for k, v in value.items()}


class RankingQuestion(_Question):
    """Order options (or a comparison's candidates) best first; ties share a group."""

    type: Literal["ranking"] = "ranking"
    options: list[str] | None = None
    allow_ties: bool = True

    def validate_value(self, value: Any, record: Record | None = None) -> list[list[str]]:
        groups = _GROUPS.validate_python(value)
        if any(not g for g in groups):
            raise ValueError("a ranking group must not be empty")
        if not self.allow_ties and any(len(g) > 1 for g in groups):
            raise ValueError("ties are not allowed in this ranking")
        flat = [o for g in groups for o in g]
        if len(set(flat)) != len(flat):
            raise ValueError("an option appears twice in the ranking")
        options = _options(self.options, record, self.name)
        if options is not None and sorted(flat) != sorted(options):
            raise ValueError(f"expected a ranking of exactly {sorted(options)}, got {sorted(flat)}")
        return groups


_GROUPS = TypeAdapter(list[list[str]])


class ChoiceValue(_Value):
    choice: str
    rationale: str | None = None


class MultiChoiceValue(_Value):
    choices: list[str]
    rationale: str | None = None


def _check_rationale(mode: Rationale, rationale: str | None) -> None:
    if mode == "required" and not (rationale and rationale.strip()):
        raise ValueError("a rationale is required")
    if mode == "none" and rationale:
        raise ValueError("this question takes no rationale")


class ChoiceQuestion(_Question):
    """One label, or the preferred candidate when ``options`` is empty, with a rationale."""

    type: Literal["choice"] = "choice"
    options: list[str] | None = None
    rationale: Rationale = "optional"

    def validate_value(self, value: Any, record: Record | None = None) -> dict[str, Any]:
        v = ChoiceValue.model_validate(value)
        options = _options(self.options, record, self.name)
        if options is not None and v.choice not in options:
            raise ValueError(f"expected one of {options}, got {v.choice!r}")
        _check_rationale(self.rationale, v.rationale)
        return v.model_dump()


class MultiChoiceQuestion(_Question):
    type: Literal["multi_choice"] = "multi_choice"
    options: list[str] = Field(min_length=1)
    rationale: Rationale = "none"
    min_choices: int = Field(default=0, ge=0)

    def validate_value(self, value: Any, record: Record | None = None) -> dict[str, Any]:
        v = MultiChoiceValue.model_validate(value)
        unknown = [c for c in v.choices if c not in self.options]
        if unknown:
            raise ValueError(f"unknown options {unknown}; expected some of {self.options}")
        if len(set(v.choices)) != len(v.choices):
            raise ValueError("an option is chosen twice")
        if len(v.choices) < self.min_choices:
            raise ValueError(f"expected at least {self.min_choices} choices")
        _check_rationale(self.rationale, v.rationale)
        return v.model_dump()


class Span(_Value):
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    label: str
    field: str = "text"


class SpanQuestion(_Question):
    """Labelled character spans in a text field (``text``, or ``messages.N``)."""

    type: Literal["span"] = "span"
    labels: list[str] = Field(min_length=1)
    allow_overlap: bool = False

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        spans = TypeAdapter(list[Span]).validate_python(value)
        for s in spans:
            if s.end <= s.start:
                raise ValueError(f"span {s.start}..{s.end}: end must be after start")
            if s.label not in self.labels:
                raise ValueError(f"unknown label {s.label!r}; expected one of {self.labels}")
            if record is not None:
                text = _field_text(record, s.field)
                if s.end > len(text):
                    raise ValueError(f"span {s.start}..{s.end} is past the end of {s.field} ({len(text)} chars)")
        if not self.allow_overlap:
            ordered = sorted(spans, key=lambda s: (s.field, s.start))
            for a, b in itertools.pairwise(ordered):
                if a.field == b.field and b.start < a.end:
                    raise ValueError(f"spans {a.start}..{a.end} and {b.start}..{b.end} overlap")
        return [s.model_dump() for s in spans]


def _field_text(record: Record, field: str) -> str:
    c = record.content
    if field == "text" and c.kind == "text":
        return c.text
    if field.startswith("messages.") and c.kind == "conversation":
        idx = int(field.split(".", 1)[1])
        if not 0 <= idx < len(c.messages):
            raise ValueError(f"field {field!r}: the conversation has {len(c.messages)} messages")
        return c.messages[idx].text()
    raise ValueError(f"field {field!r} does not exist on a {c.kind} record")


Verdict = Literal["correct", "wrong", "unclear"]
Cause = Literal["model_output", "system", "tool", "unclear"]


class StepVerdict(_Value):
    step: int = Field(ge=0)
    verdict: Verdict
    cause: Cause | None = None
    note: str | None = None
    corrected: str | ToolCall | None = Field(default=None, description="the step as it should have been")


class StepVerdictQuestion(_Question):
    """A verdict per agent step, the cause of a wrong step, and an optional correction."""

    type: Literal["step_verdict"] = "step_verdict"
    require_cause: bool = True

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        verdicts = TypeAdapter(list[StepVerdict]).validate_python(value)
        steps = [v.step for v in verdicts]
        if len(set(steps)) != len(steps):
            raise ValueError("a step has two verdicts")
        if record is not None:
            if not isinstance(record.content, AgentRunContent):
                raise ValueError("step verdicts apply to agent_run records")
            n = len(record.content.steps)
            past = [s for s in steps if s >= n]
            if past:
                raise ValueError(f"steps {past} do not exist; the run has {n} steps")
        for v in verdicts:
            if v.verdict == "wrong" and self.require_cause and v.cause is None:
                raise ValueError(f"step {v.step}: a wrong step needs a cause")
        return [v.model_dump(exclude_none=True) for v in sorted(verdicts, key=lambda v: v.step)]


class Region(_Value):
    """A box ``[x, y, w, h]``, a polygon ``[[x, y], ...]`` or a mask (COCO RLE), in pixels."""

    label: str
    box: list[float] | None = None
    polygon: list[list[float]] | None = None
    mask: dict[str, Any] | None = None
    frame: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_shape(self) -> Region:
        shapes = [s for s in (self.box, self.polygon, self.mask) if s is not None]
        if len(shapes) != 1:
            raise ValueError("a region has exactly one of box, polygon, mask")
        if self.box is not None and (len(self.box) != 4 or self.box[2] <= 0 or self.box[3] <= 0):
            raise ValueError("box must be [x, y, width, height] with positive size")
        if self.polygon is not None and (len(self.polygon) < 3 or any(len(p) != 2 for p in self.polygon)):
            raise ValueError("polygon needs at least 3 [x, y] points")
        return self


def _media(record: Record | None) -> MediaContent | None:
    return record.content if record is not None and isinstance(record.content, MediaContent) else None


Shape = Literal["box", "polygon", "mask"]


def _check_region_bounds(r: Region, media: MediaContent) -> None:
    """Shapes must lie on the image (half a pixel of slack for rounding); masks must match its size."""
    w, h = media.info.width, media.info.height
    if w and h:
        points = [(r.box[0], r.box[1]), (r.box[0] + r.box[2], r.box[1] + r.box[3])] if r.box else r.polygon or []
        for x, y in points:
            if x < -0.5 or y < -0.5 or x > w + 0.5 or y > h + 0.5:
                shape = f"box {r.box}" if r.box else f"polygon point [{x}, {y}]"
                raise ValueError(f"{shape} is outside the {w}x{h} image")
        size = (r.mask or {}).get("size")
        if size is not None and list(size) != [h, w]:
            raise ValueError(f"mask size {size} does not match the image's [height, width] [{h}, {w}]")
    if r.frame is not None and media.info.frame_count is not None and r.frame >= media.info.frame_count:
        raise ValueError(f"frame {r.frame} is past the video's last frame ({media.info.frame_count - 1})")


class RegionQuestion(_Question):
    type: Literal["region"] = "region"
    labels: list[str] = Field(min_length=1)
    shapes: list[Shape] = Field(default_factory=lambda: list[Shape](["box"]))

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        regions = TypeAdapter(list[Region]).validate_python(value)
        media = _media(record)
        for r in regions:
            if r.label not in self.labels:
                raise ValueError(f"unknown label {r.label!r}; expected one of {self.labels}")
            shape = "box" if r.box is not None else "polygon" if r.polygon is not None else "mask"
            if shape not in self.shapes:
                raise ValueError(f"{shape} regions are not allowed; expected {self.shapes}")
            if media is not None:
                _check_region_bounds(r, media)
        return [r.model_dump(exclude_none=True) for r in regions]


class Segment(_Value):
    start: float = Field(ge=0)
    end: float = Field(gt=0)
    label: str | None = None
    text: str | None = None
    speaker: str | None = None


def _check_segments(segments: list[Segment], record: Record | None) -> None:
    media = _media(record)
    duration = media.info.duration_s if media else None
    for s in segments:
        if s.end <= s.start:
            raise ValueError(f"segment {s.start}..{s.end}: end must be after start")
        if duration is not None and s.end > duration + 1e-6:
            raise ValueError(f"segment {s.start}..{s.end} ends after the media ({duration} s)")


class TimelineSegmentQuestion(_Question):
    """Labelled time segments (actions, events, captions per segment), in seconds."""

    type: Literal["timeline_segment"] = "timeline_segment"
    labels: list[str] = Field(min_length=1)
    with_text: bool = False

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        segments = TypeAdapter(list[Segment]).validate_python(value)
        _check_segments(segments, record)
        for s in segments:
            if s.label not in self.labels:
                raise ValueError(f"unknown label {s.label!r}; expected one of {self.labels}")
        return [s.model_dump(exclude_none=True) for s in segments]


class Keyframe(_Value):
    frame: int = Field(ge=0)
    box: list[float] = Field(min_length=4, max_length=4)
    outside: bool = False


class Track(_Value):
    track_id: str
    label: str
    keyframes: list[Keyframe] = Field(min_length=1)


class TrackQuestion(_Question):
    """Objects followed across video frames: boxes at keyframes, interpolated between."""

    type: Literal["track"] = "track"
    labels: list[str] = Field(min_length=1)

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        tracks = TypeAdapter(list[Track]).validate_python(value)
        ids = [t.track_id for t in tracks]
        if len(set(ids)) != len(ids):
            raise ValueError("track ids must be unique")
        media = _media(record)
        for t in tracks:
            if t.label not in self.labels:
                raise ValueError(f"unknown label {t.label!r}; expected one of {self.labels}")
            frames = [k.frame for k in t.keyframes]
            if frames != sorted(set(frames)):
                raise ValueError(f"track {t.track_id}: keyframes must be in increasing frame order")
            if media and media.info.frame_count is not None and frames[-1] >= media.info.frame_count:
                raise ValueError(f"track {t.track_id}: frame {frames[-1]} is past the video's end")
        return [t.model_dump() for t in tracks]


class TranscriptQuestion(_Question):
    """Timed transcript segments with speakers (ASR, diarization, TTS takes)."""

    type: Literal["transcript"] = "transcript"
    speakers: list[str] | None = None

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        segments = TypeAdapter(list[Segment]).validate_python(value)
        _check_segments(segments, record)
        for s in segments:
            if s.text is None:
                raise ValueError(f"segment {s.start}..{s.end} has no text")
            if self.speakers is not None and s.speaker not in self.speakers:
                raise ValueError(f"unknown speaker {s.speaker!r}; expected one of {self.speakers}")
        return [s.model_dump(exclude_none=True) for s in segments]


class TrajectoryValue(_Value):
    steps: list[Step] = Field(min_length=1)
    final: str | None = None


class TrajectoryQuestion(_Question):
    """Write an agent trajectory (or only its plan) for the record's task: steps with tool calls.

    The answer trains as SFT rows (planning data); ``tools`` limits which tools a call may name
    (empty: the record's tools, or any)."""

    type: Literal["trajectory"] = "trajectory"
    plan_only: bool = False
    tools: list[str] | None = None

    def validate_value(self, value: Any, record: Record | None = None) -> dict[str, Any]:
        v = TrajectoryValue.model_validate(value)
        if self.plan_only:
            other = sorted({s.type for s in v.steps} - {"plan"})
            if other:
                raise ValueError(f"this question takes plan steps only, got {other}")
        allowed = set(self.tools or [])
        if not allowed and record is not None:
            tools = getattr(record.content, "tools", None) or []
            allowed = {t.get("function", t).get("name") for t in tools if isinstance(t, dict)} - {None}
        for i, s in enumerate(v.steps):
            if s.tool_call is not None and isinstance(s.tool_call.arguments, str):
                # Sources we import may hold unparseable arguments; data written here must be clean.
                raise ValueError(f"step {i}: the arguments of {s.tool_call.name!r} must be a JSON object")
            if s.tool_call is not None and allowed and s.tool_call.name not in allowed:
                raise ValueError(f"step {i}: unknown tool {s.tool_call.name!r}; expected one of {sorted(allowed)}")
        return v.model_dump(mode="json", exclude_none=True)


class StepChoice(_Value):
    step: int = Field(ge=0)
    choice: str = Field(min_length=1)
    rationale: str | None = None


class StepPreferenceQuestion(_Question):
    """At each agent step that offers alternatives, pick the preferred output (step-level DPO)."""

    type: Literal["step_preference"] = "step_preference"
    rationale: Rationale = "optional"

    def validate_value(self, value: Any, record: Record | None = None) -> list[dict[str, Any]]:
        picks = TypeAdapter(list[StepChoice]).validate_python(value)
        steps = [p.step for p in picks]
        if len(set(steps)) != len(steps):
            raise ValueError("a step has two choices")
        if record is not None:
            if not isinstance(record.content, AgentRunContent):
                raise ValueError("step preferences apply to agent_run records")
            run = record.content.steps
            for p in picks:
                if p.step >= len(run):
                    raise ValueError(f"step {p.step} does not exist; the run has {len(run)} steps")
                options = ["taken", *(a.id for a in run[p.step].alternatives or [])]
                if len(options) < 2:
                    raise ValueError(f"step {p.step} has no alternatives to choose among")
                if p.choice not in options:
                    raise ValueError(f"step {p.step}: expected one of {options}, got {p.choice!r}")
        for p in picks:
            _check_rationale(self.rationale, p.rationale)
        return [p.model_dump(exclude_none=True) for p in sorted(picks, key=lambda p: p.step)]


class Take(_Value):
    blob: BlobRef
    duration_s: float = Field(gt=0)


class RecordingValue(_Value):
    takes: list[Take] = Field(min_length=1)
    selected: int = Field(default=0, ge=0)
    tags: dict[str, str] = Field(default_factory=dict)


class RecordingQuestion(_Question):
    """Record the record's text (a prompt script) from the microphone: takes, the chosen one, tags.

    ``tags`` names the tag sets the annotator picks from (``{"emotion": ["neutral", "happy"]}``);
    the selected take with the script as its transcript exports as a TTS dataset."""

    type: Literal["recording"] = "recording"
    tags: dict[str, list[str]] = Field(default_factory=dict)
    min_seconds: float = Field(default=0.5, ge=0)
    max_seconds: float = Field(default=60.0, gt=0)

    def validate_value(self, value: Any, record: Record | None = None) -> dict[str, Any]:
        v = RecordingValue.model_validate(value)
        if v.selected >= len(v.takes):
            raise ValueError(f"selected take {v.selected} does not exist; there are {len(v.takes)}")
        take = v.takes[v.selected]
        if not self.min_seconds <= take.duration_s <= self.max_seconds:
            raise ValueError(
                f"the selected take lasts {take.duration_s:.1f} s; expected {self.min_seconds}-{self.max_seconds} s"
            )
        for name, chosen in v.tags.items():
            if name not in self.tags:
                raise ValueError(f"unknown tag {name!r}; expected one of {sorted(self.tags)}")
            if chosen not in self.tags[name]:
                raise ValueError(f"tag {name}: expected one of {self.tags[name]}, got {chosen!r}")
        return v.model_dump(mode="json", exclude_none=True)


Question = Annotated[
    TextQuestion
    | ConversationQuestion
    | RatingQuestion
    | RankingQuestion
    | ChoiceQuestion
    | MultiChoiceQuestion
    | SpanQuestion
    | StepVerdictQuestion
    | RegionQuestion
    | TimelineSegmentQuestion
    | TrackQuestion
    | TranscriptQuestion
    | TrajectoryQuestion
    | StepPreferenceQuestion
    | RecordingQuestion,
    Field(discriminator="type"),
]
QUESTION_ADAPTER: TypeAdapter[Question] = TypeAdapter(Question)
# The discriminator of each member of the union, in declaration order.
QUESTION_TYPES: tuple[str, ...] = tuple(
    get_args(q.model_fields["type"].annotation)[0] for q in get_args(get_args(Question)[0])
)
