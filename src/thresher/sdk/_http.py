"""The HTTP boundary: paths, error translation and the retry policy, shared by both clients.

Nothing here does I/O; the clients send, and ask these functions what a response means.
httpx errors stop here: callers only ever see :mod:`thresher.errors`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from thresher._version import __version__
from thresher.errors import (
    ConfigError,
    Conflict,
    DataError,
    ErrorDetail,
    Forbidden,
    FormatDetectionError,
    MissingExtra,
    NotFound,
    RateLimited,
    ThresherError,
    TooLarge,
    Unauthorized,
)

log = logging.getLogger("thresher.sdk")

API = "/api/v1"
ME_PATH = f"{API}/auth/me"
USER_AGENT = f"thresher-sdk/{__version__}"

BACKOFF_BASE = 0.25  # seconds: the first retry waits up to this, then doubling
BACKOFF_CAP = 30.0  # never more than this between tries (unless the server says Retry-After)
RETRY_AFTER_CAP = 300.0  # a Retry-After beyond this is taken as this

_BY_CODE: dict[str, type[ThresherError]] = {
    cls.code: cls
    for cls in (Unauthorized, Forbidden, NotFound, Conflict, DataError, TooLarge, RateLimited, ConfigError)
}
_BY_STATUS: dict[int, type[ThresherError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: DataError,
    429: RateLimited,
    400: ConfigError,
}


def check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the server URL must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def project_path(project: str, *parts: str) -> str:
    return "/".join([f"{API}/projects/{quote(project, safe='')}", *(quote(p, safe="") for p in parts)])


def headers(api_key: str) -> dict[str, str]:
    if not api_key:
        raise ConfigError("an API key is needed: create one with `thresher key create PROJECT --role app`")
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


def _details(raw: Any) -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    if not isinstance(raw, list):
        return out
    for d in raw:
        if isinstance(d, dict):
            loc = tuple(p for p in d.get("loc", ()) if isinstance(p, str | int))
            out.append(ErrorDetail(str(d.get("type", "error")), loc, str(d.get("msg", "")), d.get("input")))
    return out


def error_from_response(response: httpx.Response) -> ThresherError:
    """The thresher exception a non-2xx response stands for: by ``error.code``, else by status."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code = message = None
    details: list[ErrorDetail] = []
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code, message = err.get("code"), err.get("message")
        details = _details(err.get("details"))
    elif isinstance(body, dict) and isinstance(body.get("detail"), list):  # FastAPI's request validation
        code, message, details = DataError.code, "invalid request", _details(body["detail"])
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    message = str(message or f"HTTP {response.status_code} from {response.request.method} {response.request.url}")
    cls = _BY_CODE.get(str(code)) or _BY_STATUS.get(response.status_code)
    if code == FormatDetectionError.code:
        return FormatDetectionError(message)
    if code == MissingExtra.code:
        return ThresherError(message)  # MissingExtra's constructor wants (package, extra): keep the text
    if cls is DataError:
        return DataError(message, details)
    if cls is None:
        return ThresherError(f"server error ({response.status_code}): {message}")
    return cls(message)


def unreachable(url: str, exc: Exception) -> ThresherError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return ThresherError(f"request to {url} {kind}: {exc.__class__.__name__}: {exc}")


def check(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise error_from_response(response)


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempt, 30)))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (delta-seconds or an HTTP date), if it did."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        seconds = float(raw)
    else:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, RETRY_AFTER_CAP))


def retryable(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


@dataclass(frozen=True)
class Verdict:
    """What to do with a batch after one attempt."""

    action: Literal["sent", "retry", "split", "failed"]
    delay: float = 0.0
    error: ThresherError | None = None


def judge(response: httpx.Response, attempt: int, size: int) -> Verdict:
    if response.is_success:
        return Verdict("sent")
    if retryable(response):
        wait = retry_after(response)
        return Verdict("retry", backoff(attempt) if wait is None else wait, error_from_response(response))
    if response.status_code in (413, 422) and size > 1:
        # One bad (or huge) event should not cost the rest: halve the batch until it is isolated.
        return Verdict("split", error=error_from_response(response))
    return Verdict("failed", error=error_from_response(response))


def judge_me(response: httpx.Response, attempt: int) -> tuple[str | None, Verdict | None]:
    """The key's project from ``GET /auth/me``, or what to do with the batch waiting for it."""
    if response.is_success:
        try:
            project = response.json().get("project")
        except (ValueError, AttributeError):
            project = None
        if isinstance(project, str) and project:
            return project, None
        return None, Verdict("failed", error=ConfigError("these credentials name no project: use a project API key"))
    if retryable(response):
        wait = retry_after(response)
        return None, Verdict("retry", backoff(attempt) if wait is None else wait, error_from_response(response))
    return None, Verdict("failed", error=error_from_response(response))


def describe(error: ThresherError) -> str:
    """One log line: the message and, for data errors, each detail."""
    return str(error).replace("\n", ";")
