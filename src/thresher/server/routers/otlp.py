"""OTLP/HTTP trace intake: point an OpenTelemetry exporter here and agent runs arrive as records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response

from thresher.model import CAPTURE_DATASET
from thresher.server import otlp
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.routers.capture import accept

router = APIRouter(prefix="/projects/{project}/otlp", tags=["capture"], responses=ERROR_RESPONSES)

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest"}},
        },
    },
    "x-thresher-action": Action.CAPTURE.value,
}


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP traces (protobuf or JSON), GenAI semantic conventions → agent runs",
    openapi_extra=_BODY,
    response_class=Response,
    responses={200: {"description": "ExportTraceServiceResponse (empty)", "content": {"application/json": {}}}},
)
async def traces(
    request: Request,
    background: BackgroundTasks,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.CAPTURE)],
    dataset: Annotated[str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] = CAPTURE_DATASET,
) -> Response:
    content_type = request.headers.get("content-type", "application/x-protobuf")
    spans = otlp.parse_request(await request.body(), content_type)
    events = otlp.to_events(spans, dataset)
    if events:
        await accept(request, store, ctx, events, "otlp", background)
    if "json" in content_type:
        return Response(b"{}", media_type="application/json")
    return Response(b"", media_type="application/x-protobuf")  # an empty ExportTraceServiceResponse
