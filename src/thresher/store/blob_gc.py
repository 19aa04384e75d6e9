"""Blobs no row refers to any more (a deleted project's media, say), found and removed.

Blobs are shared by content (``blob://sha256/<hex>``), so deleting a project cannot delete
its blobs: another project may hold the same file. Collection is mark and sweep:

- mark: every text column of every table is read, streamed, and each 64-hex digest in it is
  taken as a reference (a ``blob://`` URI, or a ``sha256`` field). Matching any digest, not
  only URIs, can keep a blob that is not needed; it never removes one that is.
- sweep: a blob file whose digest was not seen is removed, if it is older than ``grace``
  seconds: a blob stored a moment ago may belong to a record not committed yet. Temporary files
  of interrupted uploads (``tmp-*``) older than ``grace`` go too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, Text, select

from thresher.store import tables as t
from thresher.store.store import Store

_DIGEST = re.compile(r"[0-9a-f]{64}")
_PAGE = 1000  # rows read at a time


@dataclass
class BlobCollection:
    referenced: int = 0  # distinct digests found in the database
    kept: int = 0  # blob files still referenced (or too new to judge)
    removed: list[str] = field(default_factory=list)  # digests (and tmp files) removed, or that would be
    freed_bytes: int = 0


def referenced_digests(store: Store, progress: Callable[[int], None] | None = None) -> set[str]:
    """Every digest any text column of any table mentions (rows read in pages, not all at once)."""
    seen: set[str] = set()
    rows = 0
    for table in t.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, Text | String | t.JSONText)]
        if not columns:
            continue
        with store.engine.connect() as conn:
            result = conn.execution_options(yield_per=_PAGE).execute(select(*columns))
            for row in result:
                for value in row:
                    if value and len(value) >= 64:
                        seen.update(_DIGEST.findall(value))
                rows += 1
                if progress and rows % _PAGE == 0:
                    progress(rows)
    return seen


def collect_blobs(
    store: Store, *, grace: float = 3600.0, dry_run: bool = False, progress: Callable[[int], None] | None = None
) -> BlobCollection:
    """Remove the blobs no row refers to (older than ``grace`` seconds); with ``dry_run``,
    only say which."""
    referenced = referenced_digests(store, progress)
    report = BlobCollection(referenced=len(referenced))
    fs, root = store.blobs.fs, store.blobs.root
    cutoff = time.time() - grace
    for path, info in _files(fs, root):
        name = path.rsplit("/", 1)[-1]
        is_tmp = name.startswith("tmp-")
        if not is_tmp and (not _DIGEST.fullmatch(name) or name in referenced):
            report.kept += not is_tmp
            continue
        if _mtime(info) > cutoff:
            report.kept += not is_tmp
            continue
        report.removed.append(name)
        report.freed_bytes += int(info.get("size") or 0)
        if not dry_run:
            fs.rm(path)
    return report


def _files(fs: Any, root: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, info) of every file under ``root``, a folder at a time (never the whole listing)."""
    for folder, _subfolders, files in fs.walk(root, detail=True):
        for name, info in files.items():
            yield f"{folder}/{name}", info


def _mtime(info: dict[str, object]) -> float:
    """A file's modification time from fsspec's listing (local: ``mtime``; object stores: ``LastModified``)."""
    value = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value) if isinstance(value, int | float) else 0.0
