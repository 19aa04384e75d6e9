"""Export jobs in the background: one worker thread, one export at a time.

A job is a row (``store.jobs``): the API queues it, ``ExportRunner`` claims the oldest queued
one, streams it with ``export_dataset`` into ``<exports>/<job id>/`` and records progress (records
done) after every batch. The progress callback is also where the runner learns that the job was
cancelled (the row is no longer ``running``) or that the server is stopping: it raises, the
export's temporary file is removed, and the folder with it.

Jobs found ``running`` when the runner starts were orphaned by a server that died; they are
marked failed with ``INTERRUPTED``. This assumes one server process per store.

``<exports>`` is ``exports/`` beside the SQLite database, or, on PostgreSQL, beside the local
blob folder (both are the Thresher home by default), or in ``THRESHER_HOME``.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.errors import ConfigError, NotFound, ThresherError
from thresher.formats import ExportOptions, get_container, get_format
from thresher.formats.containers import TextContainer
from thresher.pipeline import ExportResult, export_dataset
from thresher.server.events import emit
from thresher.settings import Settings
from thresher.store import RecordFilter, Store
from thresher.store.jobs import Job

log = logging.getLogger("thresher.jobs")

EXPORT = "export"
INTERRUPTED = "the server stopped while this export was running; start the export again"
IDLE_POLL = 5.0  # seconds; a new job wakes the runner at once


class _Cancelled(Exception):
    pass


class _Stopping(Exception):
    pass


def exports_root(store: Store, settings: Settings) -> Path:
    """Where export files go: ``exports/`` in the Thresher home."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "exports"
    if "file" in _protocols(store.blobs.fs):
        return Path(store.blobs.root).parent / "exports"
    if settings.home is not None:
        return settings.home / "exports"
    raise ConfigError("export files need a local folder: set THRESHER_HOME (or use a local blob folder)")


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def export_kinds(fmt: str, kinds: list[str]) -> list[str]:
    """The record kinds an export reads (as ``export_dataset`` chooses them): to count its total."""
    format_ = get_format(fmt)
    chosen = [k for k in format_.kinds if not (format_.training and k == "eval_item")]
    return [k for k in chosen if k in kinds] if kinds else chosen


def output_name(dataset: str, version: str | None, fmt: str, container: str | None) -> str:
    """``<dataset>[-<version>]<ext>``; no extension for folder containers (a saved HF dataset)."""
    box = get_container(container or get_format(fmt).default_container)
    ext = box.extensions[0] if box.extensions else (".txt" if isinstance(box, TextContainer) else "")
    return f"{dataset}-{version}{ext}" if version else f"{dataset}{ext}"


def remove_folder(root: Path | None, job_id: str) -> None:
    if root is not None:
        shutil.rmtree(root / job_id, ignore_errors=True)


class ExportRunner:
    """Runs queued export jobs, one at a time, in one thread, until ``stop()``."""

    def __init__(self, store: Store, root: Path | None, *, batch_size: int = 2000, root_error: str = "") -> None:
        self.store = store
        self.root = root
        self.root_error = root_error
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_store(cls, store: Store, settings: Settings) -> ExportRunner:
        try:
            return cls(store, exports_root(store, settings))
        except ConfigError as e:  # the server still starts; exports fail saying why
            return cls(store, None, root_error=str(e))

    def start(self) -> None:
        """Fail the jobs a dead server left running, then start the thread."""
        if self._thread is not None:
            return
        for job in self.store.jobs.fail_running(EXPORT, INTERRUPTED):
            remove_folder(self.root, job.id)
        self._thread = threading.Thread(target=self._run, name="thresher-exports", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the current batch; a job cut short is marked failed with ``INTERRUPTED``."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the export runner did not stop within %.0f s", timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                job = self.store.jobs.claim_next(EXPORT)
            except Exception:
                log.exception("export runner: cannot read the job queue; retrying")
                job = None
            if job is not None:
                try:
                    self.run_job(job)
                except Exception:  # the database failed while recording the end: keep the thread
                    log.exception("export runner: job %s could not be finished", job.id)
                continue
            self._wake.wait(IDLE_POLL)

    def run_job(self, job: Job) -> None:
        """Run one claimed (``running``) job to its end state."""
        try:
            result = self._export(job)
        except Exception as e:
            remove_folder(self.root, job.id)
            self._ended_early(job, e)
            return
        if not self.store.jobs.finish(job.id, str(result.path), result.records):
            remove_folder(self.root, job.id)  # cancelled as it finished
            return
        self._emit(job, "done", records=result.records, rows=result.rows, file=result.path.name)

    def _export(self, job: Job) -> ExportResult:
        if self.root is None:
            raise ConfigError(self.root_error)
        p = job.params
        try:
            dataset = self.store.get_dataset(p["project"], p["dataset"])
        except NotFound:
            dataset = None
        if dataset is None or dataset.id != job.dataset_id:
            raise NotFound(f"dataset {p['project']}/{p['dataset']} was deleted")
        version = self.store.get_version(dataset, p["version"]) if p.get("version") else None
        filters = p.get("filters") or {}
        flt = RecordFilter(
            kinds=filters.get("kinds") or (),
            splits=filters.get("splits") or (),
            task_types=filters.get("task_types") or (),
        )
        kinds = export_kinds(p["format"], list(flt.kinds)) or ["-none-"]
        counted = RecordFilter(kinds=kinds, splits=flt.splits, task_types=flt.task_types)
        total = self.store.count_records(dataset, version, counted)
        if not self.store.jobs.set_progress(job.id, 0, total):
            raise _Cancelled

        def progress(done: int) -> None:
            if self._stop.is_set():
                raise _Stopping
            if not self.store.jobs.set_progress(job.id, done):
                raise _Cancelled

        out = self.root / job.id / p["file"]
        return export_dataset(
            self.store,
            dataset,
            out,
            p["format"],
            version=version,
            container=p.get("container"),
            options=ExportOptions.model_validate(p.get("options") or {}),
            flt=flt,
            batch_size=self.batch_size,
            progress=progress,
        )

    def _ended_early(self, job: Job, exc: Exception) -> None:
        try:
            current = self.store.jobs.get(job.id)
        except NotFound:
            return  # deleted (with its project) meanwhile
        if current.status != "running" or isinstance(exc, _Cancelled):
            return  # cancelled: nothing more to say
        if self._stop.is_set():
            self.store.jobs.fail(job.id, INTERRUPTED)
            return
        if isinstance(exc, ThresherError):
            error = str(exc)
        else:
            log.error("export job %s failed", job.id, exc_info=exc)
            error = f"internal error ({type(exc).__name__}); the server log has the details"
        if self.store.jobs.fail(job.id, error):
            self._emit(job, "failed", error=error)

    def _emit(self, job: Job, status: str, **extra: Any) -> None:
        p = job.params
        payload = {
            "job_id": job.id,
            "status": status,
            "dataset": p["dataset"],
            "version": p.get("version"),
            "format": p["format"],
            **extra,
        }
        try:
            emit(self.store, job.project_id, "export.finished", payload)
        except Exception:  # a webhook problem never undoes a finished export
            log.exception("export job %s: cannot queue the export.finished event", job.id)


def zip_stream(folder: Path, prefix: str) -> Iterator[bytes]:
    """A zip of ``folder`` (files under ``prefix/``), produced as it is read: never whole in memory or on disk."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            arcname = f"{prefix}/{path.relative_to(folder).as_posix()}"
            with path.open("rb") as src, zf.open(arcname, "w", force_zip64=True) as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    yield sink.take()


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream that hands its bytes on (zipfile then writes data descriptors)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._chunks.append(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data
