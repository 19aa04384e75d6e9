"""Capture API for deployed apps: chat turns, preferences with reasons, feedback, agent runs."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request

from thresher.model import CaptureBatch, CaptureResult
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action
from thresher.settings import Settings
from thresher.store import Store

log = logging.getLogger("thresher.capture")

router = APIRouter(prefix="/projects/{project}", tags=["capture"], responses=ERROR_RESPONSES)


@router.post(
    "/capture",
    response_model=CaptureResult,
    summary="Send capture events (idempotent by event id)",
    openapi_extra={"x-thresher-action": Action.CAPTURE.value},
)
def capture(
    batch: CaptureBatch,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.CAPTURE)],
    request: Request,
    background: BackgroundTasks,
) -> CaptureResult:
    """Store each event once (a retried event is a duplicate) and turn it into records."""
    counts = store.capture.apply(ctx.project.name, batch.events)
    if counts.accepted:
        assert ctx.project.id is not None
        emit(store, ctx.project.id, "records.added", {"source": "capture", "events": counts.accepted})
    settings: Settings = request.app.state.settings
    if counts.record_ids and settings.triage_on_capture:
        worker = request.app.state.triage
        if worker is not None:
            worker.wake()  # the worker follows the capture ledger; this only says "now"
        else:  # the app runs without its lifespan (no worker): triage after the response, as before
            background.add_task(_triage, store, ctx.project.name, counts.record_ids)
    return CaptureResult(accepted=counts.accepted, duplicates=counts.duplicates)


def _triage(store: Store, project: str, record_ids: list[str]) -> None:
    """After the response: triage never delays or fails a capture. Rules act once per record and
    action, so the worker (or `thresher curate triage`) catches up on anything a crash skipped."""
    from thresher.curate.triage import apply_rules_to_records

    try:
        apply_rules_to_records(store, project, record_ids)
    except Exception:
        log.exception("triage of %d captured records failed", len(record_ids))
