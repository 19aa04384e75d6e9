"""Blobs a deleted project left behind are collected; blobs still referenced, or too new, stay."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from thresher.cli import app
from thresher.cli._context import write_home
from thresher.model import BlobRef, Record
from thresher.store import Store
from thresher.store.blob_gc import collect_blobs


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


def image_record(ref: BlobRef, caption: str) -> Record:
    return Record(
        content={
            "kind": "media",
            "media_type": "image",
            "blob": ref.model_dump(exclude_none=True),
            "info": {"width": 8, "height": 8},
            "caption": caption,
        }
    )


def backdate(store: Store, ref: BlobRef, seconds: float = 7200) -> None:
    path = store.blobs._path(ref.sha256 or "")
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_a_deleted_projects_blobs_go_and_shared_ones_stay(store: Store) -> None:
    shared = store.blobs.put_bytes(png((0, 0, 255)), "image/png")
    only_gone = store.blobs.put_bytes(png((255, 0, 0)), "image/png")
    only_kept = store.blobs.put_bytes(png((0, 255, 0)), "image/png")
    store.add_records(store.ensure_dataset("gone", "images"), [image_record(shared, "a"), image_record(only_gone, "b")])
    store.add_records(store.ensure_dataset("kept", "images"), [image_record(shared, "c"), image_record(only_kept, "d")])
    fresh = store.blobs.put_bytes(png((9, 9, 9)), "image/png")  # an upload whose record is not in yet
    for ref in (shared, only_gone, only_kept):
        backdate(store, ref)
    stale_tmp = Path(store.blobs.root) / "tmp-interrupted"
    stale_tmp.write_bytes(b"half an upload")
    past = time.time() - 7200
    os.utime(stale_tmp, (past, past))

    assert collect_blobs(store).removed == ["tmp-interrupted"]  # every blob is still referenced or new
    store.delete_project(store.get_project("gone"))

    dry = collect_blobs(store, dry_run=True)
    assert dry.removed == [only_gone.sha256] and store.blobs.exists(only_gone)  # said, not done
    report = collect_blobs(store)
    assert report.removed == [only_gone.sha256] and report.freed_bytes == only_gone.size
    assert not store.blobs.exists(only_gone)
    assert all(store.blobs.exists(r) for r in (shared, only_kept, fresh))
    kept = store.get_dataset("kept", "images")
    assert len([r for page in store.iter_records(kept) for r in page]) == 2


def test_the_cli_reports_what_it_would_remove(tmp_path: Path) -> None:
    write_home(tmp_path, "default", None)
    store = Store.open(tmp_path)
    try:
        orphan = store.blobs.put_bytes(png((1, 2, 3)), "image/png")
        backdate(store, orphan)
    finally:
        store.close()
    runner = CliRunner()
    result = runner.invoke(app, ["blobs", "gc", "--dry-run", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "would remove 1 files" in result.output
    result = runner.invoke(app, ["blobs", "gc", "--home", str(tmp_path)])
    assert result.exit_code == 0 and "removed 1 files" in result.output
    store = Store.open(tmp_path)
    try:
        assert not store.blobs.exists(orphan)
    finally:
        store.close()
