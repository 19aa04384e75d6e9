"""Webhook delivery. Being built: signed (HMAC-SHA256), retried with backoff, logged."""

from __future__ import annotations

from typing import Any

from thresher.store import Store


def enqueue(store: Store, project_id: int, event: str, payload: dict[str, Any]) -> None:
    """Placeholder until the webhooks tables land: projects have no webhooks yet, so nothing to queue."""
    return None
