"""Webhooks and their deliveries: an outbox in the database, so no delivery is lost to a restart.

A delivery is claimed by moving its ``next_attempt_at`` forward (a lease) in a conditional
``UPDATE``: two workers never send the same attempt, and one that dies mid-request leaves the
delivery to be retried when the lease runs out.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import orjson
from sqlalchemy import Engine, delete, func, insert, select, update

from thresher.errors import NotFound
from thresher.store import tables as t

DeliveryStatus = Literal["pending", "delivered", "failed"]
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass(frozen=True)
class Webhook:
    id: str
    project_id: int
    project: str
    url: str
    secret: str
    events: list[str]
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    event: str
    payload: str  # the JSON body, as sent
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row.id,
        project_id=row.project_id,
        project=row.project,
        url=row.url,
        secret=row.secret,
        events=orjson.loads(row.events),
        active=bool(row.active),
        created_at=_aware(row.created_at) or _now(),
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event=row.event,
        payload=row.payload,
        status=row.status,
        attempts=int(row.attempts),
        next_attempt_at=_aware(row.next_attempt_at),
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=_aware(row.created_at) or _now(),
        delivered_at=_aware(row.delivered_at),
    )


class Webhooks:
    """Repository of webhooks and the log of their deliveries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- webhooks -------------------------------------------------------------------------

    def _query(self) -> Any:
        w = t.webhooks
        return select(w, t.projects.c.name.label("project")).join(t.projects, t.projects.c.id == w.c.project_id)

    def create(self, project_id: int, url: str, events: Sequence[str], secret: str, *, active: bool = True) -> Webhook:
        hook_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.webhooks).values(
                    id=hook_id,
                    project_id=project_id,
                    url=url,
                    secret=secret,
                    events=orjson.dumps(list(events)).decode(),
                    active=active,
                    created_at=_now(),
                )
            )
        return self.get(hook_id)

    def get(self, webhook_id: str, project_id: int | None = None) -> Webhook:
        q = self._query().where(t.webhooks.c.id == webhook_id)
        if project_id is not None:
            q = q.where(t.webhooks.c.project_id == project_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no webhook {webhook_id!r}")
        return _webhook(row)

    def list_webhooks(self, project_id: int) -> list[Webhook]:
        w = t.webhooks
        with self.engine.connect() as conn:
            rows = conn.execute(self._query().where(w.c.project_id == project_id).order_by(w.c.created_at, w.c.id))
            return [_webhook(r) for r in rows]

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        active: bool | None = None,
    ) -> Webhook:
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = url
        if events is not None:
            values["events"] = orjson.dumps(list(events)).decode()
        if secret is not None:
            values["secret"] = secret
        if active is not None:
            values["active"] = active
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(t.webhooks).where(t.webhooks.c.id == webhook_id).values(**values))
        return self.get(webhook_id)

    def delete(self, webhook_id: str) -> None:
        """Remove the webhook and its delivery log (pending deliveries are dropped)."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.webhooks).where(t.webhooks.c.id == webhook_id))

    def subscribed(self, project_id: int, event: str) -> list[Webhook]:
        """The project's active webhooks that asked for ``event``."""
        w = t.webhooks
        with self.engine.connect() as conn:
            rows = conn.execute(self._query().where(w.c.project_id == project_id, w.c.active.is_(True))).all()
        hooks = [_webhook(r) for r in rows]  # a handful per project: filter the JSON lists here
        return [h for h in hooks if event in h.events]

    # -- deliveries -----------------------------------------------------------------------

    def enqueue(self, project_id: int, event: str, payload: dict[str, Any]) -> int:
        """Queue ``event`` for each active webhook of the project subscribed to it; how many
        deliveries that made (0 when none is). Any process may call it: the server's delivery
        worker polls for rows it did not write (``thresher.server.webhooks``)."""
        hooks = self.subscribed(project_id, event)
        created_at = _now().isoformat()
        items = []
        for hook in hooks:
            delivery_id = secrets.token_hex(8)
            body: dict[str, Any] = {"id": delivery_id, "event": event, "created_at": created_at}
            body |= {"project": hook.project, "data": payload}
            items.append((delivery_id, hook.id, orjson.dumps(body, default=str).decode()))
        self.add_deliveries(event, items)
        return len(items)

    def add_deliveries(self, event: str, items: Sequence[tuple[str, str, str]]) -> None:
        """Queue ``(delivery_id, webhook_id, payload_json)`` items, due now, in one transaction."""
        if not items:
            return
        now = _now()
        rows = [
            {
                "id": did,
                "webhook_id": hook_id,
                "event": event,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for did, hook_id, payload in items
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(t.webhook_deliveries), rows)

    def claim_due(self, lease_until: datetime, limit: int = 20) -> list[tuple[Delivery, Webhook]]:
        """Pending deliveries that are due, of active webhooks, each leased until ``lease_until``.

        Claiming counts an attempt, so a delivery whose worker keeps dying still runs out of tries.
        """
        d, w = t.webhook_deliveries, t.webhooks
        now = _now()
        with self.engine.connect() as conn:
            due = conn.execute(
                select(d.c.id, d.c.next_attempt_at)
                .join(w, w.c.id == d.c.webhook_id)
                .where(d.c.status == "pending", d.c.next_attempt_at <= now, w.c.active.is_(True))
                .order_by(d.c.next_attempt_at, d.c.created_at)
                .limit(limit)
            ).all()
        claimed: list[tuple[Delivery, Webhook]] = []
        for row in due:
            with self.engine.begin() as conn:
                won = conn.execute(
                    update(d)
                    .where(d.c.id == row.id, d.c.status == "pending", d.c.next_attempt_at == row.next_attempt_at)
                    .values(next_attempt_at=lease_until, attempts=d.c.attempts + 1)
                ).rowcount
                if not won:
                    continue
                drow = conn.execute(select(d).where(d.c.id == row.id)).one()
            delivery = _delivery(drow)
            try:
                claimed.append((delivery, self.get(delivery.webhook_id)))
            except NotFound:  # deleted meanwhile (its deliveries go with it)
                continue
        return claimed

    def next_due(self) -> datetime | None:
        """When the next pending delivery of an active webhook is due."""
        d, w = t.webhook_deliveries, t.webhooks
        with self.engine.connect() as conn:
            ts = conn.execute(
                select(func.min(d.c.next_attempt_at))
                .join(w, w.c.id == d.c.webhook_id)
                .where(d.c.status == "pending", w.c.active.is_(True))
            ).scalar()
        return _aware(ts)

    def _set(self, delivery_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id).values(**values))

    def mark_delivered(self, delivery_id: str, status_code: int) -> None:
        self._set(
            delivery_id,
            status="delivered",
            last_status=status_code,
            last_error=None,
            next_attempt_at=None,
            delivered_at=_now(),
        )

    def mark_retry(self, delivery_id: str, status_code: int | None, error: str, at: datetime) -> None:
        self._set(delivery_id, last_status=status_code, last_error=error, next_attempt_at=at)

    def mark_failed(self, delivery_id: str, status_code: int | None, error: str) -> None:
        self._set(delivery_id, status="failed", last_status=status_code, last_error=error, next_attempt_at=None)

    def get_delivery(self, delivery_id: str) -> Delivery:
        d = t.webhook_deliveries
        with self.engine.connect() as conn:
            row = conn.execute(select(d).where(d.c.id == delivery_id)).first()
        if row is None:
            raise NotFound(f"no webhook delivery {delivery_id!r}")
        return _delivery(row)

    def deliveries(self, webhook_id: str, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log of a webhook, newest first."""
        d = t.webhook_deliveries
        q = select(d).where(d.c.webhook_id == webhook_id)
        if status is not None:
            q = q.where(d.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(d.c.created_at.desc(), d.c.id).limit(limit))
            return [_delivery(r) for r in rows]
