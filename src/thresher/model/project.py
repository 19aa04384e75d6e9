"""Projects, datasets and their immutable versions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from thresher.model.questions import Question

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class Project(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    created_at: datetime | None = None


class Dataset(BaseModel):
    """A set of records of any kinds, with the questions annotators answer about them."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    project: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    guidelines: str | None = Field(default=None, description="Markdown shown to annotators")
    questions: list[Question] = Field(default_factory=list)
    created_at: datetime | None = None

    def question(self, name: str) -> Question | None:
        return next((q for q in self.questions if q.name == name), None)


class DatasetVersion(BaseModel):
    """An immutable, named snapshot of a dataset that exports and evals point to."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    dataset: str
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    record_count: int = 0
    manifest_hash: str = Field(description="sha256 over the member records' ids and content hashes")
    created_at: datetime | None = None
