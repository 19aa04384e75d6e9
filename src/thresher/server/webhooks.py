"""Webhook delivery: signed (HMAC-SHA256), retried with backoff, logged.

``enqueue`` (called by ``events.emit`` after a change commits) writes one delivery row per
active webhook subscribed to the event; ``DeliveryWorker``, a thread the app runs for its
lifetime, posts them. Deliveries are rows, so a restart loses none.

What a receiver gets: ``POST <url>`` with the JSON body
``{"id": <delivery id>, "event": "export.finished", "created_at": <ISO time>, "project": <name>,
"data": {...}}`` and the headers

- ``X-Thresher-Event``: the event type;
- ``X-Thresher-Delivery``: the delivery id, the same on every retry (deduplicate on it);
- ``X-Thresher-Timestamp``: when this attempt was sent (Unix seconds);
- ``X-Thresher-Signature``: ``sha256=<hex HMAC-SHA256 of the raw body, keyed by the secret>``.

Check the signature over the raw bytes, before parsing them::

    from thresher.server.webhooks import verify_signature

    if not verify_signature(secret, request_body_bytes, headers.get("X-Thresher-Signature")):
        return 401

Any 2xx answer means delivered. Anything else (or no answer within 10 seconds) is retried
after ``retry_seconds`` (setting ``THRESHER_WEBHOOK_RETRY_SECONDS``, default 2), doubling each
time up to 10 minutes, with ±25% jitter; after 8 attempts the delivery is marked failed. One
worker sends one delivery at a time, so a slow receiver delays the others by up to the timeout.

Each attempt resolves the webhook's host again and refuses internal addresses (loopback, private,
link-local, ...) unless ``THRESHER_WEBHOOKS_ALLOW_PRIVATE`` is set, then connects to the address it
checked (``thresher.server.outbound``): a refused attempt is logged and retried like a failed one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from thresher._version import __version__
from thresher.server.outbound import RefusedAddress, check_url, pinned
from thresher.store import Store
from thresher.store.webhooks import Delivery, Webhook

log = logging.getLogger("thresher.webhooks")

SIGNATURE_HEADER = "X-Thresher-Signature"
EVENT_HEADER = "X-Thresher-Event"
DELIVERY_HEADER = "X-Thresher-Delivery"
TIMESTAMP_HEADER = "X-Thresher-Timestamp"
MAX_ATTEMPTS = 8
MAX_DELAY = 600.0  # seconds between two attempts, at most
TIMEOUT = 10.0  # seconds a receiver has to answer
LEASE = timedelta(seconds=60)  # a claimed delivery is retried after this if its worker vanished
IDLE_POLL = 1.0  # seconds; enqueue wakes the worker at once, this catches other processes' rows (the capture worker's)

_workers: set[DeliveryWorker] = set()
_workers_lock = threading.Lock()


def sign(secret: str, body: bytes) -> str:
    """The ``X-Thresher-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` (``X-Thresher-Signature``) signs ``body`` (the raw request bytes) with ``secret``.

    Compares in constant time. Parse the JSON only after this returns True.
    """
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def enqueue(store: Store, project_id: int, event: str, payload: dict[str, Any]) -> None:
    """Queue ``event`` for each active webhook of the project subscribed to it, and wake this
    process's delivery workers (no-op when none is subscribed)."""
    if store.webhooks.enqueue(project_id, event, payload):
        with _workers_lock:
            for worker in _workers:
                worker.wake()


def backoff(attempt: int, base: float, cap: float = MAX_DELAY) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base, 2·base, 4·base … ±25%."""
    delay = min(cap, base * 2.0 ** (attempt - 1))
    return min(cap, delay * random.uniform(0.75, 1.25))


class DeliveryWorker:
    """One thread that posts due deliveries until ``stop()``."""

    def __init__(
        self,
        store: Store,
        *,
        retry_seconds: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS,
        timeout: float = TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        allow_private: bool = False,
    ) -> None:
        self.store = store
        self.allow_private = allow_private  # THRESHER_WEBHOOKS_ALLOW_PRIVATE: else internal addresses are refused
        self.retry_seconds = retry_seconds
        self.max_attempts = max_attempts
        # No redirects, no proxies from the environment (Settings is the one reader of it).
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, transport=transport)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="thresher-webhooks", daemon=True)
        with _workers_lock:
            _workers.add(self)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with _workers_lock:
            _workers.discard(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the webhook worker did not stop within %.0f s", timeout)
            self._thread = None
        self._client.close()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
                wait = IDLE_POLL
                due = self.store.webhooks.next_due()
                if due is not None:
                    wait = max(0.0, min(IDLE_POLL, (due - datetime.now(UTC)).total_seconds()))
            except Exception:  # the database went away for a moment: keep the thread, try again later
                log.exception("webhook delivery loop failed; retrying")
                wait = IDLE_POLL
            if wait > 0:
                self._wake.wait(wait)

    def run_once(self) -> int:
        """Send every delivery due now; the number sent (delivered or not)."""
        sent = 0
        while not self._stop.is_set():
            batch = self.store.webhooks.claim_due(datetime.now(UTC) + LEASE)
            if not batch:
                break
            for delivery, hook in batch:
                if self._stop.is_set():
                    break  # leased but not sent: retried when the lease runs out
                self.deliver(delivery, hook)
                sent += 1
        return sent

    def deliver(self, delivery: Delivery, hook: Webhook) -> None:
        body = delivery.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Thresher-Webhooks/{__version__}",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: delivery.id,
            TIMESTAMP_HEADER: str(int(time.time())),
            SIGNATURE_HEADER: sign(hook.secret, body),
        }
        status: int | None = None
        try:
            # Checked again at each delivery: the name may resolve elsewhere than when it was saved.
            url, host, extensions = pinned(check_url(hook.url, allow_private=self.allow_private))
            headers.update(host)
            with self._client.stream("POST", url, content=body, headers=headers, extensions=extensions) as response:
                status = response.status_code
                if 200 <= status < 300:
                    self.store.webhooks.mark_delivered(delivery.id, status)
                    return
                excerpt = _excerpt(response)
            error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        except RefusedAddress as e:
            error = f"refused: {e}"
        except OSError as e:  # the name did not resolve
            error = f"cannot resolve the webhook's host: {e}"
        except Exception as e:  # a URL httpx refuses, and the like: a failed attempt, not a dead worker
            log.exception("webhook %s: delivery %s failed", hook.id, delivery.id)
            error = f"{type(e).__name__}: {e}"
        if delivery.attempts >= self.max_attempts:
            self.store.webhooks.mark_failed(
                delivery.id, status, f"{error} (gave up after {delivery.attempts} attempts)"
            )
        else:
            at = datetime.now(UTC) + timedelta(seconds=backoff(delivery.attempts, self.retry_seconds))
            self.store.webhooks.mark_retry(delivery.id, status, error, at)


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    """The start of a receiver's error answer, for the log (never the whole, possibly huge, body)."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        pass
    text = data[:limit].decode("utf-8", errors="replace").strip()
    return text + ("…" if len(data) > limit else "")
