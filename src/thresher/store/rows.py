"""Conversions between model objects and table rows (JSON kept as text)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from thresher.model import Record, Response, Source
from thresher.model.record import json_bytes


def record_id(dataset_id: int, content_hash: str) -> str:
    """Deterministic: the same content in the same dataset always has the same id."""
    return hashlib.blake2b(f"{dataset_id}:{content_hash}".encode(), digest_size=12).hexdigest()


def response_id(record_id: str, user: str) -> str:
    return hashlib.blake2b(f"{record_id}:{user}".encode(), digest_size=12).hexdigest()


def dumps(value: Any) -> str:
    return json_bytes(value).decode()


def record_values(record: Record, dataset_id: int, import_id: str | None, now: datetime) -> tuple[Any, ...]:
    """The column values of ``RECORD_COLUMNS`` for one record."""
    assert record.content_hash is not None
    content = {k: v for k, v in record.dump_content().items() if k != "kind"}
    return (
        record_id(dataset_id, record.content_hash),
        dataset_id,
        record.content.kind,
        dumps(content),
        record.content_hash,
        dumps(record.metadata),
        dumps(record.source.model_dump(mode="json", exclude_none=True)),
        record.split,
        record.task_type,
        dumps(record.domains),
        dumps(record.lineage),
        record.synthetic,
        import_id,
        now,
    )


RECORD_COLUMNS = (
    "id",
    "dataset_id",
    "kind",
    "content",
    "content_hash",
    "metadata",
    "source",
    "split",
    "task_type",
    "domains",
    "lineage",
    "synthetic",
    "import_id",
    "created_at",
)


@dataclass(slots=True)
class RecordRow:
    """A stored record with its JSON still as text: cheap to stream, parsed on demand."""

    seq: int
    id: str
    kind: str
    content: str
    content_hash: str
    metadata: str
    source: str
    split: str | None
    task_type: str | None
    domains: str
    lineage: str
    synthetic: bool | int
    created_at: datetime | str  # ISO text from bulk reads

    def content_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.content)
        data["kind"] = self.kind
        return data

    def to_record(self) -> Record:
        return Record.model_validate(
            {
                "id": self.id,
                "content": self.content_dict(),
                "content_hash": self.content_hash,
                "metadata": orjson.loads(self.metadata),
                "source": Source.model_validate(orjson.loads(self.source)),
                "split": self.split,
                "task_type": self.task_type,
                "domains": orjson.loads(self.domains),
                "lineage": orjson.loads(self.lineage),
                "synthetic": bool(self.synthetic),
                "created_at": self.created_at,
            }
        )


# What a read hands back: RecordRow's fields, in its order.
READ_COLUMNS: tuple[str, ...] = tuple(RecordRow.__dataclass_fields__)


def response_from_row(row: Any) -> Response:
    return Response(
        id=row.id,
        record_id=row.record_id,
        user=row.user_name,
        answers=orjson.loads(row.answers),
        status=row.status,
        created_at=getattr(row, "created_at", None),
        updated_at=getattr(row, "updated_at", None),
    )
