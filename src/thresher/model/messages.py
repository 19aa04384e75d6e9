"""Chat messages: roles, content parts (text, image, audio, video), tool calls."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = get_args(Role)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class BlobRef(_Strict):
    """A file in blob storage (or a URL), referenced rather than inlined."""

    uri: str = Field(min_length=1, description="blob URI (`blob://sha256/...`), path or URL")
    mime_type: str | None = None
    sha256: str | None = None
    size: int | None = Field(default=None, ge=0)


class TextPart(_Strict):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Strict):
    type: Literal["image"] = "image"
    image: BlobRef
    detail: Literal["auto", "low", "high"] | None = None


class AudioPart(_Strict):
    type: Literal["audio"] = "audio"
    audio: BlobRef


class VideoPart(_Strict):
    type: Literal["video"] = "video"
    video: BlobRef


ContentPart = Annotated[TextPart | ImagePart | AudioPart | VideoPart, Field(discriminator="type")]


class ToolCall(_Strict):
    """A function call made by the model. ``arguments`` is parsed JSON where the source allowed."""

    id: str | None = None
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class Message(_Strict):
    """One turn. ``content`` is plain text or a list of parts; assistants may call tools."""

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = Field(default=None, description="on a tool message: the call it answers")
    reasoning: str | None = Field(default=None, description="the model's visible reasoning, if any")
    weight: Literal[0, 1] | None = Field(default=None, description="0 = do not train on this turn")

    @field_validator("tool_calls")
    @classmethod
    def _no_empty_tool_calls(cls, v: list[ToolCall] | None) -> list[ToolCall] | None:
        return v or None

    @model_validator(mode="after")
    def _check_shape(self) -> Message:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages may have tool_calls, not {self.role!r}")
        if self.content is None and not self.tool_calls:
            raise ValueError("a message needs content or tool_calls")
        return self

    def text(self) -> str:
        """The message's text, parts joined; media parts are left out."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


def check_conversation(messages: list[Message]) -> None:
    """Rules every conversation follows, whatever the source format."""
    if not messages:
        raise ValueError("a conversation needs at least one message")
    calls = [c for m in messages for c in (m.tool_calls or [])]
    call_ids = {c.id for c in calls if c.id}
    ids_known = all(c.id for c in calls)  # some sources strip call ids; then a result can't be matched
    for i, m in enumerate(messages):
        if m.role == "tool" and m.tool_call_id and ids_known and m.tool_call_id not in call_ids:
            raise ValueError(f"message {i}: tool_call_id {m.tool_call_id!r} answers no tool call")
