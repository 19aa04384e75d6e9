"""The registries of formats and containers, and format auto-detection.

A new format is one module with ``@register_format``; ``thresher.formats`` imports the
built-in modules, and third-party ones come through the ``thresher.formats`` entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from thresher.errors import FormatDetectionError, NotFound
from thresher.formats.base import Format

F = TypeVar("F", bound=type[Format])

_FORMATS: dict[str, Format] = {}
_plugins_loaded = False


def register_format(cls: F) -> F:
    """Class decorator: add a format under its ``name``."""
    if cls.name in _FORMATS:
        raise ValueError(f"format {cls.name!r} is registered twice")
    _FORMATS[cls.name] = cls()
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in entry_points(group="thresher.formats"):
            ep.load()


def formats() -> dict[str, Format]:
    _load_plugins()
    return dict(sorted(_FORMATS.items()))


def get_format(name: str) -> Format:
    _load_plugins()
    try:
        return _FORMATS[name]
    except KeyError:
        raise NotFound(f"unknown format {name!r}; expected one of: {', '.join(sorted(_FORMATS))}") from None


def detect_format(file: str, rows: Iterable[dict[str, Any]], among: Callable[[Format], bool] | None = None) -> Format:
    """The one format whose ``sniff`` accepts every sample row; else a clear error naming candidates."""
    sample = list(rows)
    if not sample:
        raise FormatDetectionError(f"{file}: the file has no rows to detect a format from")
    candidates = [f for f in formats().values() if (among is None or among(f)) and all(_sniff(f, r) for r in sample)]
    # A more specific format (HH's "\n\nHuman:" markers over plain chosen/rejected) outranks a generic one.
    if candidates:
        top = max(f.specificity for f in candidates)
        candidates = [f for f in candidates if f.specificity == top]
    if len(candidates) == 1:
        return candidates[0]
    keys = sorted({k for r in sample for k in r})
    if not candidates:
        raise FormatDetectionError(f"{file}: no known format has rows with keys {keys}; pass --format", [])
    names = [f.name for f in candidates]
    raise FormatDetectionError(
        f"{file}: rows with keys {keys} fit several formats: {', '.join(names)}; choose one with --format", names
    )


def _sniff(fmt: Format, row: dict[str, Any]) -> bool:
    try:
        return bool(fmt.sniff(row))
    except Exception:
        return False
