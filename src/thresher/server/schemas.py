"""Schemas shared by the resource routers (each router holds its own XCreate / XUpdate / XPublic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

import orjson
from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

T = TypeVar("T")


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without an offset (they are UTC); RFC 3339 needs one."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


def storable(value: T) -> T:
    """Refuse (422, not a 500 later) what the store's JSON cannot hold: integers beyond 64 bits."""
    try:
        orjson.dumps(value)
    except TypeError as e:  # orjson.JSONEncodeError is a TypeError
        raise ValueError(f"cannot be stored as JSON: {e}") from None
    return value


# Free-form JSON from clients (metadata, answers, suggested values), checked to be storable.
StorableJson = Annotated[T, AfterValidator(storable)]


class Page(BaseModel, Generic[T]):
    """One keyset page: pass ``next`` back as ``after`` for the next one; ``null`` when done."""

    items: list[T]
    next: int | None = Field(description="cursor of the next page, or null after the last")


# Path parameters shared by the routers under a dataset.
DatasetName = Annotated[str, Path(description="dataset name", max_length=128)]
RecordId = Annotated[str, Path(description="record id", max_length=64)]
