"""Thresher's exceptions: one shallow tree, each class with a stable ``code``.

    ThresherError
    ├── DataError            bad input data; carries ``ErrorDetail`` records (file, line, field)
    │   └── FormatDetectionError   no format, or more than one, fits a file
    ├── NotFound             a project, dataset, version or record does not exist
    ├── Conflict             the name is taken, or the object is immutable
    ├── ConfigError          bad settings, database URL or options
    ├── MissingExtra         an optional dependency is not installed
    ├── Unauthorized         no valid credentials (log in, or send an API key)
    ├── Forbidden            the credentials do not allow this
    ├── TooLarge             a request body over the limit
    └── RateLimited          too many attempts; try again later

Errors of the libraries underneath (SQLAlchemy, orjson, pyarrow) are translated at the
boundary into these, so callers match on ``code`` and never on message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConfigError",
    "Conflict",
    "DataError",
    "ErrorDetail",
    "Forbidden",
    "FormatDetectionError",
    "MissingExtra",
    "NotFound",
    "RateLimited",
    "ThresherError",
    "TooLarge",
    "Unauthorized",
]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ErrorDetail:
    """One problem in the input, in pydantic's shape with ``loc`` starting at file and line."""

    type: str
    loc: Loc
    msg: str
    input: Any = None

    def __str__(self) -> str:
        where = _format_loc(self.loc)
        return f"{where}: {self.msg}" if where else self.msg

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "loc": list(self.loc), "msg": self.msg, "input": _short(self.input)}


def _format_loc(loc: Loc) -> str:
    """``("a.jsonl", 17, "messages", 2, "role")`` -> ``a.jsonl:17: messages[2].role``."""
    if not loc:
        return ""
    head: list[str] = []
    rest = list(loc)
    if rest and isinstance(rest[0], str) and not isinstance(rest[0], bool):
        head.append(str(rest.pop(0)))
        if rest and isinstance(rest[0], int):
            head.append(str(rest.pop(0)))
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    prefix = ":".join(head)
    if prefix and path:
        return f"{prefix}: {path}"
    return prefix or path


def _short(value: Any, limit: int = 200) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text[:limit] + "…" if len(text) > limit else value
    return value


class ThresherError(Exception):
    """Base of every error Thresher raises on purpose."""

    code = "thresher_error"


class DataError(ThresherError):
    """Input data is invalid; ``details`` names the file, line and field of each problem."""

    code = "data_error"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        self.details = details or []
        lines = [message, *(f"  {d}" for d in self.details[:20])]
        if len(self.details) > 20:
            lines.append(f"  … and {len(self.details) - 20} more")
        super().__init__("\n".join(lines))
        self.message = message


class FormatDetectionError(DataError):
    """No known format fits the file, or several do and the user must choose."""

    code = "format_detection"

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        self.candidates = candidates or []
        super().__init__(message)


class NotFound(ThresherError):
    """The named object does not exist."""

    code = "not_found"


class Conflict(ThresherError):
    """The name is already taken, or the object may not change."""

    code = "conflict"


class ConfigError(ThresherError):
    """Settings, a database URL or an option is wrong."""

    code = "config_error"


class MissingExtra(ThresherError):
    """An optional dependency is needed: the message names the extra to install."""

    code = "missing_extra"

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; install it with: pip install 'thresher[{extra}]'")
        self.package = package
        self.extra = extra


class Unauthorized(ThresherError):
    """No valid credentials: log in, or send an API key."""

    code = "unauthorized"


class Forbidden(ThresherError):
    """The credentials are valid but do not allow this action."""

    code = "forbidden"


class TooLarge(ThresherError):
    """The request body is over the server's limit."""

    code = "too_large"


class RateLimited(ThresherError):
    """Too many attempts in a short time."""

    code = "rate_limited"


class Unavailable(ThresherError):
    """A part the server needs (the store) does not answer; try again later."""

    code = "unavailable"
