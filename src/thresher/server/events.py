"""Domain events (record, response, dataset) that webhooks deliver.

Routers call ``emit`` after a change commits. Delivery (signing, retries with backoff) lives in
``thresher.server.webhooks``; this module is the one call site so routers stay thin.
"""

from __future__ import annotations

from typing import Any, Literal

from thresher.store import Store

EventType = Literal[
    "dataset.created",
    "dataset.updated",
    "dataset.deleted",
    "records.added",
    "response.submitted",
    "version.created",
    "export.finished",
]


def emit(store: Store, project_id: int, event: EventType, payload: dict[str, Any]) -> None:
    """Queue ``event`` for the project's webhooks subscribed to it (no-op when none are)."""
    from thresher.server import webhooks

    webhooks.enqueue(store, project_id, event, payload)
