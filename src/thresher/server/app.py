"""The FastAPI application: ``create_app(store)``; ``thresher serve`` runs it under uvicorn."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thresher._version import __version__
from thresher.curate.capture_worker import CaptureWorkerProcess, CaptureWorkerThread
from thresher.errors import TooLarge
from thresher.server import errors, openapi, routers, webapp
from thresher.server.errors import error_response
from thresher.server.jobs import ExportRunner
from thresher.server.webhooks import DeliveryWorker
from thresher.settings import Settings
from thresher.store import Store

API_PREFIX = "/api/v1"


class BodyLimit:
    """413 for bodies over the limit, whether or not the client sent a Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(TooLarge(f"request body over {self.max_bytes:,} bytes"))(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(f"request body over {self.max_bytes:,} bytes")
            return message

        await self.app(scope, limited, send)


@asynccontextmanager
async def _workers(app: FastAPI) -> AsyncIterator[None]:
    """Background work lives as long as the app: export jobs and webhook deliveries (a thread each),
    and captured events made into records and triaged (see ``_capture_worker``)."""
    store: Store = app.state.store
    settings: Settings = app.state.settings
    exports = ExportRunner.for_store(store, settings)
    deliveries = DeliveryWorker(
        store, retry_seconds=settings.webhook_retry_seconds, allow_private=settings.webhooks_allow_private
    )
    capture = _capture_worker(store, settings)
    exports.start()
    deliveries.start()
    capture.start()
    app.state.exports = exports
    app.state.capture_worker = capture
    try:
        yield
    finally:
        app.state.capture_worker = None
        exports.stop()
        deliveries.stop()
        capture.stop()


def _capture_worker(store: Store, settings: Settings) -> CaptureWorkerProcess | CaptureWorkerThread:
    """Records and triage of captured events, in their own process unless the store is in this one's memory."""
    url = store.engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    idle, triage = settings.capture_idle_seconds, settings.triage_on_capture
    if settings.capture_worker == "thread" or in_memory:
        return CaptureWorkerThread(store, idle, triage=triage)
    blobs = store.blobs.fs.unstrip_protocol(store.blobs.root)
    return CaptureWorkerProcess(store, url.render_as_string(hide_password=False), blobs, idle, triage=triage)


# Routes are matched one after the other, and FastAPI's matching costs several microseconds a
# route: the high-rate ones (apps sending events, annotators working a queue) go first. No route
# of theirs matches another module's path (tests/server/test_openapi.py checks).
HOT_ROUTERS = ("capture", "otlp", "queue", "responses")


def _router_modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(routers.__path__))
    return [n for n in HOT_ROUTERS if n in names] + [n for n in names if n not in HOT_ROUTERS]


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="Thresher",
        version=__version__,
        description="Data for training and evaluating LLMs and agents: datasets, records, annotation, capture.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=_workers,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.capture_worker = None  # records and triage of captured events, while the app's lifespan runs
    app.state.key_access = {}  # API keys' access, remembered for a moment (server/deps.py)
    store.capture.group_events = settings.capture_group_events
    store.capture.group_seconds = settings.capture_group_seconds
    errors.install(app)
    openapi.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for name in _router_modules():  # one module per resource, each with `router`
        module: Any = importlib.import_module(f"{routers.__name__}.{name}")
        api.include_router(module.router)
    app.include_router(api)
    webapp.install(app, API_PREFIX)  # last: its catch-all route must not shadow the API
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
