"""What a format is: a row schema that turns rows into records and records back into rows.

A *container* (JSONL, JSON, CSV, Parquet, a saved HF dataset, plain text) yields and takes
rows (dicts); a *format* (OpenAI chat, ShareGPT, TRL preference...) maps rows to records.
Any format can be read from or written to any container that can hold its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from thresher.model import Question, Record, Response


class RowError(ValueError):
    """A row does not fit the format. ``loc`` is the path inside the row, e.g. ``("messages", 2, "role")``."""

    def __init__(self, msg: str, loc: tuple[str | int, ...] = (), type: str = "invalid_row", input: Any = None):
        super().__init__(msg)
        self.msg = msg
        self.loc = loc
        self.type = type
        self.input = input


@dataclass(slots=True)
class Row:
    """One row read from a container; ``line`` is 1-based (the line of JSONL, the item of a JSON array)."""

    line: int
    data: dict[str, Any]
    split: str | None = None  # from the container (a DatasetDict split, a Parquet file name)


@dataclass(slots=True)
class Parsed:
    """A record read from a row, with labels the file carried (as responses by ``IMPORT_USER``)."""

    record: Record
    responses: list[Response] = field(default_factory=list)


IMPORT_USER = "import"


class ExportOptions(BaseModel):
    """How training rows are derived from records and their responses."""

    model_config = ConfigDict(extra="forbid")

    rewrite_question: str | None = Field(
        default=None, description="text question whose answer replaces the last assistant turn (SFT)"
    )
    preference_question: str | None = Field(
        default=None, description="ranking or choice question over candidates; default: the first one"
    )
    rating_weights: dict[str, float] = Field(
        default_factory=dict, description="per-candidate rating questions and their weights, for pairs by score"
    )
    pairs: Literal["best_vs_worst", "best_vs_rest", "all"] = "best_vs_worst"
    min_margin: float = Field(default=0.0, ge=0, description="drop pairs whose score gap is smaller")
    feedback_question: str = Field(default="feedback", description="choice question with up/down for KTO")
    system_prompt: str | None = None
    style: Literal["conversational", "standard"] = Field(
        default="conversational", description="TRL: message lists, or plain strings (single-turn prompts only)"
    )
    implicit_prompt: bool = Field(default=False, description="TRL preference: prompt folded into chosen/rejected")
    answers: Literal["all", "consensus"] = Field(
        default="all",
        description="every submitted response, or one `consensus` response per record by the workflow's rules",
    )


@dataclass(slots=True)
class ExportItem:
    """A stored record handed to a format for export, JSON parsed only when asked."""

    id: str
    kind: str
    content_json: str
    responses: list[Response] = field(default_factory=list)
    split: str | None = None
    task_type: str | None = None
    metadata_json: str = "{}"
    domains_json: str = "[]"
    lineage_json: str = "[]"
    source_json: str = "{}"
    synthetic: bool = False
    _content: dict[str, Any] | None = None
    _record: Record | None = None

    def content(self) -> dict[str, Any]:
        """The content as stored: canonical JSON without ``kind`` and without null fields."""
        if self._content is None:
            self._content = orjson.loads(self.content_json)
        return self._content

    def record(self) -> Record:
        if self._record is None:
            self._record = Record.model_validate(
                {
                    "id": self.id,
                    "content": {"kind": self.kind, **self.content()},
                    "split": self.split,
                    "task_type": self.task_type,
                    "metadata": orjson.loads(self.metadata_json),
                    "domains": orjson.loads(self.domains_json),
                    "lineage": orjson.loads(self.lineage_json),
                    "source": orjson.loads(self.source_json),
                    "synthetic": self.synthetic,
                }
            )
        return self._record

    @classmethod
    def from_record(cls, record: Record, responses: Iterable[Response] = ()) -> ExportItem:
        content = record.content.model_dump(mode="json", exclude_none=True, exclude={"kind"})
        return cls(
            id=record.id or "",
            kind=record.kind,
            content_json=orjson.dumps(content).decode(),
            responses=list(responses),
            split=record.split,
            task_type=record.task_type,
            metadata_json=orjson.dumps(record.metadata).decode(),
            domains_json=orjson.dumps(record.domains).decode(),
            lineage_json=orjson.dumps(record.lineage).decode(),
            source_json=record.source.model_dump_json(exclude_none=True),
            synthetic=record.synthetic,
            _record=record,
        )


@dataclass
class ExportContext:
    """What a format may need beyond the record: the dataset's questions and the options."""

    questions: list[Question] = field(default_factory=list)
    options: ExportOptions = field(default_factory=ExportOptions)
    dataset_name: str = "dataset"
    open_blob: Callable[[str], IO[bytes]] | None = None  # media bytes by blob URI, for formats that write files


class Format:
    """A row schema. Subclasses set the class attributes and implement ``parse`` and ``to_rows``.

    ``parse`` turns one row into records (usually one); it raises ``RowError`` naming the
    field. ``to_rows`` turns one stored record into zero or more rows; a record this format
    cannot express yields nothing (the exporter counts it as skipped, with a reason from
    ``skip_reason``).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]  # record kinds this format reads into and writes from
    default_container: ClassVar[str] = "jsonl"
    questions: ClassVar[tuple[Question, ...]] = ()  # questions the labels it carries answer
    training: ClassVar[bool] = True  # training formats never export eval items
    specificity: ClassVar[int] = 0  # auto-detection prefers the most specific of several matches

    def configure(self, mapping: dict[str, str]) -> Format:
        """A copy set up with a field mapping (``--map target=source``); formats without one refuse."""
        if mapping:
            raise RowError(f"format {self.name!r} takes no field mapping", type="bad_option")
        return self

    def sniff(self, row: dict[str, Any]) -> bool:
        """Does this row look like this format? Used by auto-detection on the first rows."""
        raise NotImplementedError

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise NotImplementedError

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def raw_row(self, item: ExportItem, ctx: ExportContext) -> bytes | None:
        """Optional fast path: the row as JSON bytes when it is the stored text unchanged, else None."""
        return None

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return f"{self.name} has no row for this {item.kind} record"

    writes_files: ClassVar[bool] = False  # writes a file or folder of its own (COCO, YOLO), not rows to a container

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        """For ``writes_files`` formats: write the rows ``to_rows`` made as the format's own file or folder at
        ``target`` (a COCO JSON with its images, a YOLO folder with ``data.yaml``); media via ``ctx.open_blob``."""
        raise NotImplementedError

    def finish_export(self, data_path: Path, ctx: ExportContext, manifest: dict[str, Any]) -> list[Path]:
        """Write companion files (e.g. LLaMA-Factory's dataset_info.json); return their paths."""
        return []
