"""``AsyncClient``: the same capture calls for asyncio apps, sent by a task in the app's loop.

Capture calls are plain (non-async) methods that only queue, so they can be called from any
code; the sender task starts in the running loop at the first call made from one (or at
``flush``/``close``). ``await client.flush()`` and ``await client.close()`` are coroutines.
If the loop ends without ``close``, what was not sent is sent at exit by a short-lived
synchronous client, so events do not vanish with the loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections import deque
from types import TracebackType

import httpx

from thresher.errors import ThresherError
from thresher.sdk import _http
from thresher.sdk._capture import CaptureAPI
from thresher.sdk._client import Client, CountedQueue, Counters, Outcome, batch_body, batch_deadline, check_options

log = logging.getLogger("thresher.sdk")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncClient(CountedQueue, CaptureAPI):
    """Like :class:`Client`, for asyncio: ``async with AsyncClient(url, key) as client: ...``."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_queue: int = 10_000,
        batch_size: int = 200,
        flush_interval: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_options(batch_size, max_queue, flush_interval, timeout)
        self.url = _http.check_url(url)
        self._api_key = api_key
        self._headers = _http.headers(api_key)
        self.timeout = timeout
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._transport = transport
        self._queue: deque[tuple[float, bytes]] = deque()  # (time queued, event)
        self._lock = threading.Lock()  # capture calls may come from other threads
        self._counters = Counters()
        self._pending = 0
        self._flushers = 0
        self._closed = False
        self._stopping = False
        self._aborting = False
        self._project: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._abort: asyncio.Event | None = None
        atexit.register(self._atexit)

    # -- the queue ---------------------------------------------------------------------------

    def _enqueue(self, payload: bytes) -> None:
        with self._lock:
            if self._closed:
                self._counters.count("dropped", 1)
                self._counters.warn_drop("the client is closed")
                return
            if len(self._queue) >= self.max_queue:
                self._counters.count("dropped", 1)
                self._counters.warn_drop(f"the queue is full: {self.max_queue:,} events")
                return
            self._pending += 1
            self._queue.append((time.monotonic(), payload))
        self._kick()

    def _settle(self, n: int, outcome: Outcome) -> None:
        with self._lock:
            self._counters.count(outcome, n)
            self._pending -= n

    def _alive(self) -> bool:
        return (
            self._task is not None and not self._task.done() and self._loop is not None and not self._loop.is_closed()
        )

    def _kick(self) -> None:
        """Wake the sender, starting it in the running loop if there is none."""
        running = _running_loop()
        if not self._alive():
            if running is not None and not self._stopping:
                self._loop = running
                self._wake = asyncio.Event()
                self._abort = asyncio.Event()
                self._task = running.create_task(self._run(), name="thresher-sdk")
            return  # no loop running: the events wait for one (or for exit)
        self._signal(self._wake)

    def _signal(self, event: asyncio.Event | None) -> None:
        if event is None or self._loop is None:
            return
        if _running_loop() is self._loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                self._loop.call_soon_threadsafe(event.set)

    # -- the sender task ---------------------------------------------------------------------

    async def _run(self) -> None:
        http = httpx.AsyncClient(
            base_url=self.url, headers=self._headers, timeout=self.timeout, transport=self._transport
        )
        try:
            while not self._aborting:
                batch = await self._take()
                if batch:
                    await self._deliver(http, batch)
                elif self._stopping and not self._queue:
                    break
        finally:
            await asyncio.shield(http.aclose())

    async def _take(self) -> list[bytes]:
        assert self._wake is not None
        while not self._queue:
            if self._stopping or self._aborting:
                return []
            self._wake.clear()
            if not self._queue:
                await self._wake.wait()
        deadline = batch_deadline(self._queue[0][0], self.flush_interval)
        while len(self._queue) < self.batch_size and not (self._flushers or self._stopping):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                break
        batch: list[bytes] = []
        with self._lock:
            while self._queue and len(batch) < self.batch_size:
                batch.append(self._queue.popleft()[1])
        return batch

    async def _deliver(self, http: httpx.AsyncClient, batch: list[bytes]) -> None:
        assert self._abort is not None
        todo = [batch]
        part: list[bytes] = []
        try:
            while todo:
                part = todo.pop()
                body = batch_body(part)
                attempt = 0
                while True:
                    verdict = await self._attempt(http, part, body, attempt)
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
                    try:
                        await asyncio.wait_for(self._abort.wait(), verdict.delay)
                    except TimeoutError:
                        continue
                    self._settle(len(part) + sum(map(len, todo)), "dropped")
                    return
                part = []
        except asyncio.CancelledError:
            # The loop is ending: put the unsent events back, in order, for the next loop or exit
            # (due at once: they have waited already).
            with self._lock:
                for events in [*todo, part]:
                    self._queue.extendleft((0.0, e) for e in reversed(events))
            raise

    async def _attempt(self, http: httpx.AsyncClient, part: list[bytes], body: bytes, attempt: int) -> _http.Verdict:
        try:
            if self._project is None:
                project, verdict = _http.judge_me(await http.get(_http.ME_PATH), attempt)
                if project is None:
                    assert verdict is not None
                    return verdict
                self._project = project
            path = _http.project_path(self._project, "capture")
            response = await http.post(path, content=body, headers={"Content-Type": "application/json"})
        except httpx.TransportError as e:
            return _http.Verdict("retry", _http.backoff(attempt), _http.unreachable(self.url, e))
        except Exception as e:  # never let the sender die: count the batch and go on
            log.exception("thresher: unexpected error sending a batch")
            return _http.Verdict("failed", error=ThresherError(f"unexpected error: {e!r}"))
        if response.status_code in (401, 403, 404):
            self._project = None
        return _http.judge(response, attempt, len(part))

    # -- flush and close ---------------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is sent, refused or dropped; False if ``timeout`` ran out."""
        if self._pending == 0:
            return True
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        self._flushers += 1
        try:
            self._kick()
            while self._pending > 0:
                if deadline is not None and loop.time() >= deadline:
                    return False
                await asyncio.sleep(0.01)
            return True
        finally:
            self._flushers -= 1

    async def close(self, timeout: float | None = 10.0) -> None:
        """Send what is queued (waiting up to ``timeout`` seconds), then stop. Idempotent."""
        with self._lock:
            self._closed = True
        atexit.unregister(self._atexit)
        if not await self.flush(timeout):
            log.warning("thresher: close: %d events still unsent after %ss; dropping them", self._pending, timeout)
            self._aborting = True
            self._signal(self._abort)
        self._stopping = True
        self._signal(self._wake)
        task = self._task
        if task is not None and not task.done() and self._loop is _running_loop():
            done, _ = await asyncio.wait({task}, timeout=self.timeout + 1.0)
            if not done:
                task.cancel()
        with self._lock:
            rest = len(self._queue)
            self._queue.clear()
        if rest:
            self._settle(rest, "dropped")

    aclose = close

    def _atexit(self) -> None:
        """Send what a finished loop left behind, with a short-lived synchronous client."""
        if self._alive() or not self._queue:
            return
        with self._lock:
            leftovers = [payload for _, payload in self._queue]
            self._queue.clear()
            self._pending -= len(leftovers)
        try:
            helper = Client(self.url, self._api_key, timeout=self.timeout, batch_size=self.batch_size)
            for payload in leftovers:
                helper._enqueue(payload)
            helper.close(timeout=self.timeout)
            for outcome in ("sent", "failed", "dropped"):
                self._counters.count(outcome, getattr(helper, outcome))
        except Exception:  # at exit, never turn a clean shutdown into a traceback
            log.exception("thresher: error while sending the last events at exit")

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r}, sent={self.sent}, pending={self.pending}, dropped={self.dropped})"
