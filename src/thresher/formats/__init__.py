"""Formats: one module per external row schema, a registry, containers for the file types.

Importing this package registers every format module in it (a public module that is not
one of the framework modules below); a new format is one new file with ``@register_format``.
"""

import importlib
import pkgutil

from thresher.formats.base import ExportContext, ExportItem, ExportOptions, Format, Parsed, Row, RowError
from thresher.formats.containers import BadRow, Container, container_for, containers, get_container
from thresher.formats.registry import detect_format, formats, get_format, register_format

_FRAMEWORK = {"base", "containers", "registry", "views"}
for _mod in pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_") and _mod.name not in _FRAMEWORK:
        importlib.import_module(f"{__name__}.{_mod.name}")

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
