"""``Client``: capture from any Python app without ever blocking or crashing it.

Capture calls build and validate an event, then put it on a bounded in-memory queue; a daemon
thread sends the queue in batches. Delivery retries (exponential backoff, full jitter, capped;
``Retry-After`` honoured) for as long as the client lives; each event keeps its id across
retries, so the server's idempotency stores it exactly once. Only a full queue, a batch the
server refuses (4xx), or a ``close`` whose time ran out lose events, and each is counted.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import queue
import random
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

from thresher.errors import ConfigError, NotFound, ThresherError
from thresher.model.record import Record
from thresher.sdk import _http
from thresher.sdk._capture import CaptureAPI

log = logging.getLogger("thresher.sdk")

Outcome = Literal["sent", "failed", "dropped"]
PUSH_CHUNK = 500  # records per POST in ``push``
UPLOAD_CHUNK = 20  # files per POST in ``upload_media``


def batch_body(events: Sequence[bytes]) -> bytes:
    """A ``CaptureBatch`` from events already serialized (each once, at the capture call)."""
    return b'{"events":[' + b",".join(events) + b"]}"


# A batch goes a random 0-20% before its flush interval is up. Without it, clients that started
# together, or were answered by one group commit, send in step every interval for as long as they
# run: a burst of every client's batch at once, then silence (Telegraf's ``flush_jitter`` is for
# the same herd). With it, they drift apart within a few intervals.
FLUSH_JITTER = 0.2


def batch_deadline(first_queued: float, flush_interval: float) -> float:
    """When a batch goes if it does not fill: ``flush_interval`` (less the jitter) after its
    first event was queued, not after the sender took it (it may have been busy sending)."""
    return first_queued + flush_interval * (1.0 - FLUSH_JITTER * random.random())


def check_options(batch_size: int, max_queue: int, flush_interval: float, timeout: float) -> None:
    if not 1 <= batch_size <= 1000:
        raise ConfigError(f"batch_size must be between 1 and 1000 (the server's limit), got {batch_size}")
    if max_queue < 1:
        raise ConfigError(f"max_queue must be at least 1, got {max_queue}")
    if flush_interval < 0 or timeout <= 0:
        raise ConfigError("flush_interval must be >= 0 and timeout > 0")


class Counters:
    """What became of the events: ``sent``, ``failed`` (refused by the server), ``dropped``."""

    def __init__(self) -> None:
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._last_drop_log = 0.0

    def count(self, outcome: Outcome, n: int) -> None:
        setattr(self, outcome, getattr(self, outcome) + n)

    def warn_drop(self, why: str) -> None:
        now = time.monotonic()
        if now - self._last_drop_log >= 10.0:  # at most one line every 10 s, however many drops
            self._last_drop_log = now
            log.warning("thresher: event dropped (%s); %d dropped so far", why, self.dropped)


class CountedQueue:
    """What both clients report about their queue: the counters, read-only."""

    _counters: Counters
    _pending: int

    @property
    def sent(self) -> int:
        """Events the server acknowledged (stored now, or already stored by an earlier try)."""
        return self._counters.sent

    @property
    def failed(self) -> int:
        """Events the server refused (a 4xx other than 429); the error is logged."""
        return self._counters.failed

    @property
    def dropped(self) -> int:
        """Events lost on this side: the queue was full, or the client closed before sending them."""
        return self._counters.dropped

    @property
    def pending(self) -> int:
        """Events queued or being sent."""
        return self._pending


class Client(CountedQueue, CaptureAPI):
    """A Thresher client for one project (the API key's).

    ``Client(url, api_key)``; capture with :meth:`turn`, :meth:`preference`, :meth:`feedback`,
    :meth:`agent_run` and :meth:`trace`; read and write datasets with :meth:`records`,
    :meth:`push` and :meth:`export` (these need a key whose role may read or write).
    ``transport`` is for tests (an ``httpx`` transport that injects faults).
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_queue: int = 10_000,
        batch_size: int = 200,
        flush_interval: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        check_options(batch_size, max_queue, flush_interval, timeout)
        self.url = _http.check_url(url)
        self._headers = _http.headers(api_key)
        self.timeout = timeout
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._transport = transport
        # (time queued, event); unbounded underneath so a wake-up (None) always fits; the bound is
        # enforced on put.
        self._queue: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        self._cond = threading.Condition()
        self._counters = Counters()
        self._pending = 0  # queued or being sent
        self._flushers = 0
        self._closed = False
        self._stop = threading.Event()  # the worker leaves once the queue is empty
        self._abort = threading.Event()  # the worker gives up what is left (close ran out of time)
        # Wakes the sender before its batch's deadline: the batch is full, or a flush or close
        # wants it now. Not each event: that would cost the host app two thread switches an event.
        self._nudge = threading.Event()
        self._in_batch = 0  # events the sender holds in the batch it is filling
        self._worker: threading.Thread | None = None
        self._project: str | None = None
        self._api: httpx.Client | None = None
        atexit.register(self._atexit)
        os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))

    def _after_fork(self) -> None:
        """In a forked child (gunicorn --preload, multiprocessing): fresh locks, queue and
        connections; the parent's queued events stay the parent's to send."""
        self._queue = queue.Queue()
        self._nudge = threading.Event()
        self._in_batch = 0
        self._cond = threading.Condition()
        self._pending = self._flushers = 0
        self._worker = None
        self._api = None  # its sockets are the parent's
        stop, abort = self._stop.is_set(), self._abort.is_set()
        self._stop, self._abort = threading.Event(), threading.Event()
        if stop:
            self._stop.set()
        if abort:
            self._abort.set()

    # -- the queue ---------------------------------------------------------------------------

    def _enqueue(self, payload: bytes) -> None:
        with self._cond:
            if self._closed:
                self._counters.count("dropped", 1)
                self._counters.warn_drop("the client is closed")
                return
            if self._queue.qsize() >= self.max_queue:
                self._counters.count("dropped", 1)
                self._counters.warn_drop(f"the queue is full: {self.max_queue:,} events")
                return
            self._pending += 1
            self._queue.put_nowait((time.monotonic(), payload))
            if self._queue.qsize() + self._in_batch >= self.batch_size:
                self._nudge.set()
        self._ensure_worker()

    def _settle(self, n: int, outcome: Outcome) -> None:
        with self._cond:
            self._counters.count(outcome, n)
            self._pending -= n
            self._cond.notify_all()

    def _ensure_worker(self) -> None:
        worker = self._worker
        if worker is not None and worker.is_alive():
            return
        with self._cond:
            if (self._worker is None or not self._worker.is_alive()) and not self._stop.is_set():
                self._worker = threading.Thread(target=self._run, name="thresher-sdk", daemon=True)
                try:
                    self._worker.start()
                except RuntimeError as e:  # interpreter shutting down: nothing more can be sent
                    log.warning("thresher: cannot start the sender thread: %s", e)
                    self._worker = None

    # -- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        http = httpx.Client(base_url=self.url, headers=self._headers, timeout=self.timeout, transport=self._transport)
        try:
            while not self._abort.is_set():
                batch = self._take()
                if batch:
                    self._deliver(http, batch)
                elif self._stop.is_set() and self._queue.empty():
                    break
            self._discard_rest()
        finally:
            http.close()

    def _take(self) -> list[bytes]:
        """The next batch: full, or ``flush_interval`` after its first event, or now on a wake-up."""
        first = self._queue.get()
        if first is None:
            return []
        queued_at, payload = first
        batch = [payload]
        deadline = batch_deadline(queued_at, self.flush_interval)
        while len(batch) < self.batch_size:
            self._in_batch = len(batch)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if self._flushers or self._stop.is_set() or left <= 0:
                    break
                # Cleared before the queue is read again: a nudge after this is kept for the next
                # wait, and one before it came with a put that the read sees.
                self._nudge.wait(left)
                self._nudge.clear()
                continue
            if item is None:
                if self._stop.is_set():
                    self._queue.put(None)  # keep the stop signal for the loop
                break
            batch.append(item[1])
        self._in_batch = 0
        return batch

    def _wake_sender(self) -> None:
        """Send what is queued now: a wake-up in the queue (the sender may be waiting for a first
        event) and a nudge (it may be waiting for its batch to fill)."""
        self._queue.put(None)
        self._nudge.set()

    def _discard_rest(self) -> None:
        n = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            n += item is not None
        if n:
            self._settle(n, "dropped")
            log.warning("thresher: %d events not sent: the client closed before the server took them", n)

    def _deliver(self, http: httpx.Client, batch: list[bytes]) -> None:
        todo = [batch]
        while todo:
            part = todo.pop()
            body = batch_body(part)
            attempt = 0
            while True:
                verdict = self._attempt(http, part, body, attempt)
                if verdict.action == "sent":
                    self._settle(len(part), "sent")
                    break
                if verdict.action == "failed":
                    assert verdict.error is not None
                    log.error("thresher: %d events refused: %s", len(part), _http.describe(verdict.error))
                    self._settle(len(part), "failed")
                    break
                if verdict.action == "split":
                    half = len(part) // 2
                    todo += [part[half:], part[:half]]
                    break
                if attempt % 10 == 0:
                    log.warning("thresher: send failed, retrying (try %d): %s", attempt + 1, verdict.error)
                attempt += 1
                if self._abort.wait(verdict.delay):
                    self._settle(len(part) + sum(map(len, todo)), "dropped")
                    return

    def _attempt(self, http: httpx.Client, part: list[bytes], body: bytes, attempt: int) -> _http.Verdict:
        try:
            if self._project is None:
                project, verdict = _http.judge_me(http.get(_http.ME_PATH), attempt)
                if project is None:
                    assert verdict is not None
                    return verdict
                self._project = project
            path = _http.project_path(self._project, "capture")
            response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        except httpx.TransportError as e:
            return _http.Verdict("retry", _http.backoff(attempt), _http.unreachable(self.url, e))
        except Exception as e:  # never let the sender thread die: count the batch and go on
            log.exception("thresher: unexpected error sending a batch")
            return _http.Verdict("failed", error=ThresherError(f"unexpected error: {e!r}"))
        if response.status_code in (401, 403, 404):
            self._project = None  # the key may have changed project or been revoked: ask again
        return _http.judge(response, attempt, len(part))

    # -- flush and close ---------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is sent, refused or dropped; False if ``timeout`` ran out."""
        with self._cond:
            if self._pending == 0:
                return True
            self._flushers += 1
        try:
            self._wake_sender()
            self._ensure_worker()
            with self._cond:
                return self._cond.wait_for(lambda: self._pending == 0, timeout)
        finally:
            with self._cond:
                self._flushers -= 1

    def close(self, timeout: float | None = 10.0) -> None:
        """Send what is queued (waiting up to ``timeout`` seconds), then stop. Idempotent."""
        with self._cond:
            self._closed = True
        atexit.unregister(self._atexit)
        if not self.flush(timeout):
            log.warning("thresher: close: %d events still unsent after %ss; dropping them", self._pending, timeout)
            self._abort.set()
        self._stop.set()
        self._wake_sender()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(self.timeout + 1.0)
        if self._api is not None:
            self._api.close()
            self._api = None

    def _atexit(self) -> None:
        try:
            self.close(timeout=self.timeout)
        except Exception:  # at exit, never turn a clean shutdown into a traceback
            log.exception("thresher: error while closing at exit")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r}, sent={self.sent}, pending={self.pending}, dropped={self.dropped})"

    # -- synchronous API (notebooks, scripts) -----------------------------------------------

    def _http(self) -> httpx.Client:
        if self._api is None:
            self._api = httpx.Client(
                base_url=self.url, headers=self._headers, timeout=self.timeout, transport=self._transport
            )
        return self._api

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if json is not None:
            kwargs["json"] = json
        if content is not None:
            kwargs["content"] = content
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            response = self._http().request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise _http.unreachable(self.url, e) from None
        return _http.check(response)

    @property
    def project(self) -> str:
        """The API key's project (asked of the server once)."""
        if self._project is None:
            body = self._request("GET", _http.ME_PATH).json()
            project = body.get("project") if isinstance(body, dict) else None
            if not isinstance(project, str) or not project:
                raise ConfigError("these credentials name no project: use a project API key")
            self._project = project
        return self._project

    def records(
        self,
        dataset: str,
        *,
        kind: str | Sequence[str] | None = None,
        split: str | Sequence[str] | None = None,
        page_size: int = 500,
    ) -> Iterator[Record]:
        """Iterate over a dataset's records (all of them, page by page, in insertion order),
        optionally only some kinds or splits."""
        path = _http.project_path(self.project, "datasets", dataset, "records")
        after: Any = None
        while True:
            params = {"after": after, "limit": min(page_size, 1000), "kind": _many(kind), "split": _many(split)}
            page = self._request("GET", path, params=params).json()
            for item in page.get("items", []):
                yield Record.model_validate(_record_fields(item))
            after = page.get("next")
            if after is None:
                return

    def push(self, dataset: str, records: Iterable[Record | Mapping[str, Any]], *, create: bool = True) -> Pushed:
        """Add records to a dataset (created first if missing and ``create``), in chunks; content
        the dataset already has is skipped. Returns the counts and each record's id, in order."""
        path = _http.project_path(self.project, "datasets", dataset, "records")
        out = Pushed()
        chunk: list[Any] = []

        def send() -> None:
            try:
                result = self._request("POST", path, json=chunk).json()
            except NotFound:
                if not create or out.ids:
                    raise
                self._request("POST", _http.project_path(self.project, "datasets"), json={"name": dataset})
                result = self._request("POST", path, json=chunk).json()
            out.added += int(result.get("added", 0))
            out.duplicates += int(result.get("duplicates", 0))
            out.ids += [str(i) for i in result.get("ids", [])]
            chunk.clear()

        for r in records:
            chunk.append(_record_create(r))
            if len(chunk) >= PUSH_CHUNK:
                send()
        if chunk:
            send()
        return out

    def upload_media(
        self, dataset: str, files: Iterable[str | Path], *, split: str | None = None, create: bool = True
    ) -> Uploaded:
        """Upload image, video and audio files as ``media`` records (the dataset is created first if missing and
        ``create``). Files the server cannot read come back in ``rejected``, each naming its file; the rest are kept."""
        path = _http.project_path(self.project, "datasets", dataset, "media")
        out = Uploaded()
        paths = [Path(f) for f in files]
        for start in range(0, len(paths), UPLOAD_CHUNK):
            chunk = paths[start : start + UPLOAD_CHUNK]

            def send(chunk: list[Path] = chunk) -> httpx.Response:
                handles = [p.open("rb") for p in chunk]
                try:
                    upload = [("file", (p.name, h)) for p, h in zip(chunk, handles, strict=True)]
                    response = self._http().post(path, files=upload, data={"split": split} if split else None)
                except httpx.HTTPError as e:
                    raise _http.unreachable(self.url, e) from None
                finally:
                    for h in handles:
                        h.close()
                return _http.check(response)

            try:
                result = send().json()
            except NotFound:
                if not create or out.ids or out.rejected:
                    raise
                self._request("POST", _http.project_path(self.project, "datasets"), json={"name": dataset})
                result = send().json()
            out.added += int(result.get("added", 0))
            out.duplicates += int(result.get("duplicates", 0))
            out.ids += [str(i) for i in result.get("ids", [])]
            out.rejected += list(result.get("rejected", []))
        return out

    def export(
        self,
        dataset: str,
        format: str,
        path: str | Path,
        *,
        version: str | None = None,
        container: str | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 3600.0,
        poll: float = 0.5,
    ) -> Path:
        """Export a dataset (or one of its versions) in ``format`` to the file ``path``.

        Queues an export job on the server, waits for it (up to ``timeout`` seconds) and
        downloads the file (a zip when the result is a folder); raises ThresherError if the
        job fails or is cancelled.
        """
        body: dict[str, Any] = {"format": format, "version": version, "container": container}
        if options:
            body["options"] = dict(options)
        start = _http.project_path(self.project, "datasets", dataset, "exports")
        job = self._request("POST", start, json={k: v for k, v in body.items() if v is not None}).json()
        job_id = str(job["id"])
        deadline = time.monotonic() + timeout
        while (status := str(job.get("status"))) in ("queued", "running"):
            if time.monotonic() > deadline:
                raise ThresherError(f"export {job_id} not finished after {timeout}s (it is {status})")
            time.sleep(poll)
            job = self._request("GET", _http.project_path(self.project, "exports", job_id)).json()
        if status != "done":
            raise ThresherError(f"export {job_id} {status}: {job.get('error') or 'no reason given'}")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        try:
            with self._http().stream("GET", _http.project_path(self.project, "exports", job_id, "file")) as response:
                if not response.is_success:
                    response.read()
                    raise _http.error_from_response(response)
                with tmp.open("wb") as f:
                    for data in response.iter_bytes():
                        f.write(data)
        except httpx.HTTPError as e:
            tmp.unlink(missing_ok=True)
            raise _http.unreachable(self.url, e) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(target)
        return target


@dataclass
class Pushed:
    """What ``push`` did: records added, records the dataset already had, and every record's id."""

    added: int = 0
    duplicates: int = 0
    ids: list[str] = field(default_factory=list)


@dataclass
class Uploaded:
    """What ``upload_media`` did: records added, files the dataset already had, ids, and rejected files."""

    added: int = 0
    duplicates: int = 0
    ids: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {type, loc: [file name], msg}


def _many(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


_CREATE_FIELDS = ("content", "metadata", "source", "split", "task_type", "domains", "lineage", "synthetic")


def _record_create(r: Record | Mapping[str, Any]) -> dict[str, Any]:
    """A record as the API takes it: the server computes the id, hash and creation time."""
    if isinstance(r, Record):
        return r.model_dump(mode="json", exclude_none=True, include=set(_CREATE_FIELDS))
    return dict(r)


def _record_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """An API record as a :class:`Record`: fields the envelope does not have are left out."""
    return {k: v for k, v in item.items() if k in Record.model_fields}


def _forked(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client._after_fork()
