"""Formats: one module per external row schema, a registry, containers for the file types.

Importing this package registers the built-in formats.
"""

from thresher.formats import (  # noqa: F401  (registration by import)
    openai_chat,
    text,
    thresher_jsonl,
    trl_conversational,
    trl_preference,
    trl_prompt_completion,
    trl_stepwise,
    trl_unpaired,
)
from thresher.formats.base import ExportContext, ExportItem, ExportOptions, Format, Parsed, Row, RowError
from thresher.formats.containers import BadRow, Container, container_for, containers, get_container
from thresher.formats.registry import detect_format, formats, get_format, register_format

__all__ = [
    "BadRow",
    "Container",
    "ExportContext",
    "ExportItem",
    "ExportOptions",
    "Format",
    "Parsed",
    "Row",
    "RowError",
    "container_for",
    "containers",
    "detect_format",
    "formats",
    "get_container",
    "get_format",
    "register_format",
]
