"""The server's capture worker: captured events become records, then the triage rules see them.

Intake (``POST .../capture``) only writes the ledger; this worker follows it behind two cursors
kept in the store (``Capture.records_cursor`` and ``Capture.triage_cursor``), so it survives
restarts and catches up on whatever arrived while it was down or busy. Records are made in
short transactions (``Capture.materialize``: about 20 ms of work each), because with SQLite
intake waits for the one write lock while they run. Triage acts once per record and action, so
overlapping passes (a worker restarted mid-batch) repeat nothing.

It runs in a process of its own (``CaptureWorkerProcess``): on a 2-core machine, record building
and rules then never hold the server's GIL while requests wait for it. A store another process
cannot open (an in-memory SQLite database) gets a thread instead (``CaptureWorkerThread``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from thresher.curate.triage import Rule, apply_rules_to_records
from thresher.store import Store

log = logging.getLogger("thresher.capture")

NOTIFY_SECONDS = 1.0  # under continuous capture, how often webhooks hear of the records made


class CaptureWorker:
    """Makes the records of what capture stored since the last pass, then (with ``triage``) runs
    the rules over them in batches of ``batch`` events."""

    def __init__(
        self, store: Store, rules: Sequence[Rule] | None = None, batch: int = 200, *, triage: bool = True
    ) -> None:
        self.store = store
        self.rules = list(rules) if rules is not None else None
        self.batch = batch
        self.triage = triage

    def drain(self, max_batches: int | None = None, stop: Callable[[], bool] | None = None) -> int:
        """Every project's records up to its last event, then its triage (or ``max_batches``
        triage batches, or until ``stop()``, asked between batches); returns how many records
        triage looked at."""
        seen = batches = 0
        capture = self.store.capture
        for project_id, project in capture.projects_with_events():
            self._make_records(project_id, project, stop)
            if not self.triage:
                continue
            after = capture.triage_cursor(project_id)
            while (max_batches is None or batches < max_batches) and not (stop and stop()):
                last, ids = capture.captured_after(project_id, after, self.batch)
                if last == after:
                    break
                if ids:
                    apply_rules_to_records(self.store, project, ids, self.rules, bulk=True)
                capture.advance_triage_cursor(project_id, last)
                after, seen, batches = last, seen + len(ids), batches + 1
        return seen

    def _make_records(self, project_id: int, project: str, stop: Callable[[], bool] | None) -> None:
        """Records of every event stored, telling the project's webhooks (``records.added``) once
        they exist: when the events run out, or every ``NOTIFY_SECONDS`` while they keep coming."""
        made: dict[str, int] = {}
        told = time.monotonic()
        more = True
        while more:
            more = not (stop and stop()) and bool(self.store.capture.materialize(project_id, made=made))
            if made and (not more or time.monotonic() - told >= NOTIFY_SECONDS):
                for dataset, added in made.items():
                    payload = {"project": project, "dataset": dataset, "added": added, "via": "capture"}
                    self.store.webhooks.enqueue(project_id, "records.added", payload)
                made, told = {}, time.monotonic()

    def run(self, stop: Callable[[], bool], wait: Callable[[float], Any], idle_seconds: float) -> None:
        """Drain, then wait ``idle_seconds`` (or a wake-up), until ``stop()``. A failed pass is
        logged and tried again after the wait: the cursors only move past work that was done.
        Asked to stop, it first makes the records of every event stored (triage waits for the
        next start): what a server accepted is in its datasets once it has shut down."""
        while not stop():
            try:
                self.drain(stop=stop)
            except Exception:
                log.exception("the capture worker's pass failed; retrying")
            wait(idle_seconds)
        try:
            for project_id, project in self.store.capture.projects_with_events():
                self._make_records(project_id, project, None)
        except Exception:
            log.exception("making the records of captured events at shutdown failed; the next start makes them")


class CaptureWorkerThread:
    """The worker as a thread of the server process. ``wake`` after a capture commit starts a
    pass at once."""

    def __init__(self, store: Store, idle_seconds: float = 0.5, *, triage: bool = True) -> None:
        self._worker = CaptureWorker(store, triage=triage)
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thresher-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    started = True  # (``wake`` never starts anything: it costs an event's set)

    def wake(self) -> None:
        self._wake.set()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        self._worker.run(self._stop.is_set, self._wait, self._idle)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)


class CaptureWorkerProcess:
    """The worker in a process of its own, at a lower CPU priority than intake. It exits when the
    server process is gone (even after a SIGKILL), so a restarted server never finds a stray
    worker from before. ``wake`` starts a pass at once: a byte down a pipe.

    Not a ``multiprocessing.Event``: its ``set`` waits until every process asleep in ``wait`` has
    woken, and the worker, at low priority on a busy machine, took up to tens of milliseconds
    to, with the server's event loop (every request) stopped meanwhile."""

    def __init__(
        self, store: Store, url: str, blob_url: str, idle_seconds: float = 0.5, *, triage: bool = True
    ) -> None:
        self.store = store
        ctx = multiprocessing.get_context("spawn")  # no forked copy of the server's threads and connections
        self._stop = ctx.Event()
        reader, self._waker = ctx.Pipe(duplex=False)
        os.set_blocking(self._waker.fileno(), False)  # a full pipe: the worker has wake-ups enough
        self._process = ctx.Process(
            target=_process_main,
            args=(url, blob_url, idle_seconds, triage, self._stop, reader, os.getpid()),
            name="thresher-capture",
            daemon=True,
        )
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Start now if anything was ever captured (it may be waiting for records or triage);
        otherwise at the first capture (``wake``), so a server that takes no capture never runs it."""
        if self.store.capture.projects_with_events():
            self.wake()

    def wake(self) -> None:
        """Make sure the process runs, and start its next pass now (never blocks once it runs)."""
        if not self._started:
            with self._lock:
                if not self._started and not self._stop.is_set():
                    self._process.start()
                    self._started = True
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full (it will wake), or closed (stopped)
            os.write(self._waker.fileno(), b"\0")

    @property
    def started(self) -> bool:
        """Whether the process runs (until then, ``wake`` starts it: tens of milliseconds)."""
        return self._started

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._started else None

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._stop.set()
            self._poke()
            if not self._started:
                return
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._waker.close()


def _process_main(
    url: str, blob_url: str, idle_seconds: float, triage: bool, stop: Any, wakes: Connection, parent: int
) -> None:
    from thresher.store.blobs import BlobStore
    from thresher.store.engine import make_engine

    with contextlib.suppress(OSError):
        os.nice(10)  # intake first: the worker takes the CPU that is left
    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(url)
    store = Store(engine, BlobStore(blob_url))

    def done() -> bool:
        return bool(stop.is_set()) or os.getppid() != parent

    def wait(seconds: float) -> None:
        if wakes.poll(seconds):
            with contextlib.suppress(OSError):
                os.read(wakes.fileno(), 1 << 16)  # every wake-up so far: one pass covers them

    try:
        CaptureWorker(store, triage=triage).run(done, wait, idle_seconds)
    finally:
        store.close()
