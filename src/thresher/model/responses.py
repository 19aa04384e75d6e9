"""Responses (one person's answers to a record's questions) and suggestions (a model's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thresher.model.questions import Question
from thresher.model.record import Record

ResponseStatus = Literal["draft", "submitted", "discarded"]


class Response(BaseModel):
    """One annotator's answers to a record's questions, keyed by question name."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    record_id: str | None = None
    user: str = Field(min_length=1, description="user name, or `import:<file>` for labels read from a file")
    answers: dict[str, Any]
    status: ResponseStatus = "submitted"
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Suggestion(BaseModel):
    """A model's pre-annotation for one question, shown to annotators as a starting point."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    record_id: str | None = None
    question: str
    value: Any
    agent: str = Field(min_length=1, description="the model or program that made it")
    score: float | None = None
    created_at: datetime | None = None


class AnswerError(ValueError):
    """An answer does not fit its question; ``loc`` is the path inside the answers."""

    def __init__(self, loc: tuple[str | int, ...], msg: str, value: Any) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg
        self.value = value


def validate_answers(
    questions: list[Question], answers: dict[str, Any], record: Record | None = None, *, partial: bool = False
) -> tuple[dict[str, Any], list[AnswerError]]:
    """Check each answer against its question. Returns normalized answers and every problem found."""
    by_name = {q.name: q for q in questions}
    out: dict[str, Any] = {}
    errors: list[AnswerError] = []
    for name, value in answers.items():
        q = by_name.get(name)
        if q is None:
            errors.append(AnswerError((name,), f"no question named {name!r}; expected one of {sorted(by_name)}", value))
            continue
        try:
            out[name] = q.validate_value(value, record)
        except ValidationError as e:
            first = e.errors()[0]
            errors.append(AnswerError((name, *first["loc"]), first["msg"], value))
        except ValueError as e:
            errors.append(AnswerError((name,), str(e), value))
    if not partial:
        for q in questions:
            if q.required and q.name not in answers:
                errors.append(AnswerError((q.name,), "a required question has no answer", None))
    return out, errors
