"""Capture API for deployed apps: chat turns, preferences with reasons, feedback, agent runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from thresher.model import CaptureBatch, CaptureResult
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action

router = APIRouter(prefix="/projects/{project}", tags=["capture"], responses=ERROR_RESPONSES)


@router.post(
    "/capture",
    response_model=CaptureResult,
    summary="Send capture events (idempotent by event id)",
    openapi_extra={"x-thresher-action": Action.CAPTURE.value},
)
def capture(batch: CaptureBatch, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.CAPTURE)]) -> CaptureResult:
    """Store each event once (a retried event is a duplicate) and turn it into records."""
    counts = store.capture.apply(ctx.project.name, batch.events)
    if counts.accepted:
        assert ctx.project.id is not None
        emit(store, ctx.project.id, "records.added", {"source": "capture", "events": counts.accepted})
    return CaptureResult(accepted=counts.accepted, duplicates=counts.duplicates)
