"""One place maps Thresher's errors to HTTP statuses and one JSON shape; nothing else leaks.

Body: ``{"error": {"code": "not_found", "message": "...", "details": [{type, loc, msg}]}}``.
Request validation keeps FastAPI's documented 422 shape (``{"detail": [{loc, msg, type}]}``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, RootModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from thresher.errors import (
    ConfigError,
    Conflict,
    DataError,
    Forbidden,
    MissingExtra,
    NotFound,
    RateLimited,
    ThresherError,
    TooLarge,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("thresher.server")

STATUS: dict[type[ThresherError], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    DataError: 422,
    ConfigError: 400,
    RateLimited: 429,
    MissingExtra: 501,
    Unavailable: 503,
}


class ErrorDetailOut(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetailOut] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class RequestErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # FastAPI adds `input` and `ctx`

    type: str
    loc: list[str | int]
    msg: str


class RequestErrorBody(BaseModel):
    detail: list[RequestErrorOut]


class Unprocessable(RootModel[RequestErrorBody | ErrorBody]):
    """A 422 is either the request failing its schema (FastAPI's shape) or a ``DataError`` (ours)."""


# Documented on every route, so the OpenAPI spec says what a client can get back.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": model, "description": desc}
    for code, model, desc in (
        (400, ErrorBody, "Bad option or setting"),
        (401, ErrorBody, "Not logged in, or no valid API key"),
        (403, ErrorBody, "The role does not allow this"),
        (404, ErrorBody, "No such object (or not visible to you)"),
        (409, ErrorBody, "Name taken, or not allowed in this state"),
        (413, ErrorBody, "Request body too large"),
        (422, Unprocessable, "Invalid request (`detail`) or invalid data (`error.details` name the fields)"),
        (429, ErrorBody, "Too many attempts"),
    )
}


HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def status_of(exc: ThresherError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(exc: ThresherError) -> JSONResponse:
    message = exc.message if isinstance(exc, DataError) else str(exc)
    details = [
        {"type": d.type, "loc": list(d.loc), "msg": d.msg} for d in (exc.details if isinstance(exc, DataError) else [])
    ]
    body = {"error": {"code": exc.code, "message": message, "details": details}}
    headers = {"Retry-After": "60"} if isinstance(exc, RateLimited) else None
    return JSONResponse(body, status_code=status_of(exc), headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ThresherError)
    async def _thresher(_request: Request, exc: ThresherError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The framework's own errors (a body that is not JSON, an unknown path, a wrong method), in our shape.
        code = HTTP_CODES.get(exc.status_code, "http_error")
        body = {"error": {"code": code, "message": str(exc.detail), "details": []}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace or SQL to the client; the log has it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {"error": {"code": "internal", "message": "internal server error", "details": []}}
        return JSONResponse(body, status_code=500)
