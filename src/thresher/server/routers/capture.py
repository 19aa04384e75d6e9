"""Capture API for deployed apps: chat turns, preferences with reasons, feedback, agent runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request
from starlette.concurrency import run_in_threadpool

from thresher.model import CaptureBatch, CaptureEvent, CaptureResult
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action
from thresher.settings import Settings
from thresher.store import Store
from thresher.store.capture import CaptureCounts

log = logging.getLogger("thresher.capture")

router = APIRouter(prefix="/projects/{project}", tags=["capture"], responses=ERROR_RESPONSES)


@router.post(
    "/capture",
    response_model=CaptureResult,
    summary="Send capture events (idempotent by event id)",
    openapi_extra={"x-thresher-action": Action.CAPTURE.value},
)
async def capture(
    batch: CaptureBatch,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.CAPTURE)],
    request: Request,
    background: BackgroundTasks,
) -> CaptureResult:
    """Store each event once (a retried event is a duplicate); the events become records right
    after, in the server's capture worker."""
    counts = await accept(request, store, ctx, batch.events, "capture", background)
    return CaptureResult(accepted=counts.accepted, duplicates=counts.duplicates)


async def accept(
    request: Request,
    store: Store,
    ctx: ProjectAccess,
    events: Sequence[CaptureEvent],
    source: str,
    background: BackgroundTasks,
) -> CaptureCounts:
    """Store the events. With the app's capture worker running (``thresher serve``) the request
    only writes the ledger, awaiting the group commit without holding a thread, and the worker
    makes the records, then tells webhooks (``records.added``); without it (an app run without
    its lifespan) the records are made here, and triaged and told after the response."""
    worker = request.app.state.capture_worker
    if worker is not None:
        counts = await asyncio.wrap_future(store.capture.submit(ctx.project.name, events))
        if counts.accepted:
            if worker.started:
                worker.wake()
            else:  # the first capture starts the worker process: not on the event loop
                await run_in_threadpool(worker.wake)
    else:
        counts = await run_in_threadpool(store.capture.apply, ctx.project.name, events)
        settings: Settings = request.app.state.settings
        if counts.record_ids and settings.triage_on_capture:
            background.add_task(_triage, store, ctx.project.name, counts.record_ids)
        assert ctx.project.id is not None
        for dataset, added in counts.made.items():
            payload = {"project": ctx.project.name, "dataset": dataset, "added": added, "via": source}
            background.add_task(emit, store, ctx.project.id, "records.added", payload)
    return counts


def _triage(store: Store, project: str, record_ids: list[str]) -> None:
    """After the response: triage never delays or fails a capture. Rules act once per record and
    action, so `thresher curate triage` catches up on anything a crash skipped."""
    from thresher.curate.triage import apply_rules_to_records

    try:
        apply_rules_to_records(store, project, record_ids)
    except Exception:
        log.exception("triage of %d captured records failed", len(record_ids))
