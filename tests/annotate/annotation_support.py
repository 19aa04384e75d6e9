"""Helpers for the annotation tests: a fixed clock start, offsets from it, and the ``make_dataset``
factory behind the ``make_dataset`` fixture (a dataset with questions and records).

Not a conftest.py: a second module named ``conftest`` on the path would shadow the root one that
other test folders import from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from thresher import annotate
from thresher.model import ChoiceQuestion, Dataset, RatingQuestion, Record, TextContent
from thresher.store import Store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

MakeDataset = Callable[..., Dataset]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def dataset_maker(store: Store) -> MakeDataset:
    """``make(n, overlap=2, metadata=lambda i: {...})``: a dataset with a rating and a choice question."""

    def make(
        n: int,
        *,
        name: str = "work",
        overlap: int = 1,
        lease_seconds: int = 600,
        review: str = "none",
        metadata: Callable[[int], dict[str, Any]] | None = None,
        **workflow: Any,
    ) -> Dataset:
        store.ensure_project("p")
        ds = store.create_dataset(
            "p",
            name,
            guidelines="Be precise.",
            questions=[
                RatingQuestion(name="quality", min=1, max=5),
                ChoiceQuestion(name="label", options=["good", "bad"], required=False),
            ],
        )
        store.add_records(
            ds,
            [Record(content=TextContent(text=f"text {i}"), metadata=metadata(i) if metadata else {}) for i in range(n)],
        )
        wf = annotate.Workflow(overlap=overlap, lease_seconds=lease_seconds, review=review, **workflow)
        annotate.set_workflow(store, ds, wf, now=T0)
        return ds

    return make
