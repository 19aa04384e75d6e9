"""HTTP errors become Thresher's exceptions, chosen by the body's ``error.code`` (then by status)."""

from __future__ import annotations

import httpx
import pytest

from thresher import (
    ConfigError,
    Conflict,
    DataError,
    Forbidden,
    FormatDetectionError,
    NotFound,
    RateLimited,
    ThresherError,
    TooLarge,
    Unauthorized,
)
from thresher.sdk._http import error_from_response


def response(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("GET", "http://x/api/v1/y"))


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "unauthorized", Unauthorized),
        (403, "forbidden", Forbidden),
        (404, "not_found", NotFound),
        (409, "conflict", Conflict),
        (413, "too_large", TooLarge),
        (422, "data_error", DataError),
        (422, "format_detection", FormatDetectionError),
        (429, "rate_limited", RateLimited),
        (400, "config_error", ConfigError),
        (500, "internal", ThresherError),
    ],
)
def test_by_code(status: int, code: str, cls: type[ThresherError]) -> None:
    details = [{"type": "missing", "loc": ["train.jsonl", 3, "messages"], "msg": "Field required"}]
    err = error_from_response(
        response(status, {"error": {"code": code, "message": "it went wrong", "details": details}})
    )
    assert type(err) is cls and "it went wrong" in str(err)
    if cls is DataError:
        assert isinstance(err, DataError) and err.details[0].loc == ("train.jsonl", 3, "messages")


def test_the_code_wins_over_the_status_and_the_status_is_the_fallback() -> None:
    assert type(error_from_response(response(400, {"error": {"code": "not_found", "message": "m"}}))) is NotFound
    assert type(error_from_response(response(404, {"detail": "Not Found"}))) is NotFound  # a route that is not there
    fastapi_422 = {"detail": [{"type": "string_pattern_mismatch", "loc": ["body", 0, "split"], "msg": "bad"}]}
    err = error_from_response(response(422, fastapi_422))
    assert isinstance(err, DataError) and err.details[0].loc == ("body", 0, "split")
    html = httpx.Response(502, text="<html>bad gateway</html>", request=httpx.Request("POST", "http://x/y"))
    assert type(error_from_response(html)) is ThresherError
