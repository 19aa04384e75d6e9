"""``GET /health``: whether the server is up and its store answers, for load balancers, process
managers and clients waiting for a restart. No login: it says nothing about any project."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from thresher._version import __version__
from thresher.errors import Unavailable
from thresher.server.errors import ErrorBody
from thresher.store import Store

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    store: str  # the database backend: sqlite or postgresql


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": ErrorBody, "description": "The store does not answer"}},
)
def health(request: Request) -> Health:
    store: Store = request.app.state.store
    try:
        store.ping()
    except Exception:
        log.exception("health check: the store does not answer")
        raise Unavailable("the store does not answer") from None
    return Health(version=__version__, store=store.backend)
