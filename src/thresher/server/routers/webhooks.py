"""A project's webhooks: where events are posted, and the log of each delivery.

The signing secret is returned once, when the webhook is created (give your own or let the
server make one); receivers check ``X-Thresher-Signature`` with
``thresher.server.webhooks.verify_signature``. Delivery, signing and retries are described in
``thresher.server.webhooks``. A URL that is or resolves to an internal address (loopback, private,
link-local / cloud metadata) is refused with 422 unless ``THRESHER_WEBHOOKS_ALLOW_PRIVATE`` is set
(``thresher.server.outbound``); deliveries check again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from thresher.errors import DataError, ErrorDetail, NotFound
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import EventType
from thresher.server.outbound import RefusedAddress, check_url
from thresher.server.permissions import Action
from thresher.server.webhooks import new_secret
from thresher.settings import Settings
from thresher.store.webhooks import Delivery, DeliveryStatus, Webhook

router = APIRouter(prefix="/projects/{project}/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)

ACTION = {"x-thresher-action": Action.MANAGE.value}
Access = Annotated[ProjectAccess, need(Action.MANAGE)]
WebhookId = Annotated[str, Path(description="webhook id", max_length=32)]
Secret = Annotated[str, Field(min_length=16, max_length=256, description="HMAC key that signs each delivery")]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    events: Annotated[list[EventType], Field(min_length=1)]
    secret: Secret | None = Field(default=None, description="default: a new random secret, returned once")
    active: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = None
    events: Annotated[list[EventType], Field(min_length=1)] | None = None
    secret: Secret | None = None
    active: bool | None = None


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="shown this once: keep it to verify X-Thresher-Signature")


class DeliveryPublic(BaseModel):
    id: str
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="when it is tried again, while pending")
    last_status: int | None = Field(description="the receiver's last HTTP status")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="the body sent")


def _public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic(id=hook.id, url=hook.url, events=hook.events, active=hook.active, created_at=hook.created_at)


def _delivery(d: Delivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id,
        event=d.event,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_status=d.last_status,
        last_error=d.last_error,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        payload=orjson.loads(d.payload),
    )


def _safe_url(request: Request, url: HttpUrl) -> str:
    """``url`` as text, refused (422) when it leads to an internal address. A name that does not
    resolve now is let through: each delivery checks it again."""
    settings: Settings = request.app.state.settings
    try:
        check_url(str(url), allow_private=settings.webhooks_allow_private, must_resolve=False)
    except RefusedAddress as e:
        detail = ErrorDetail("internal_address", ("body", "url"), f"{e}", str(url))
        raise DataError("the webhook URL points at an internal address", [detail]) from None
    return str(url)


def _hook(store: StoreDep, ctx: ProjectAccess, webhook_id: str) -> Webhook:
    assert ctx.project.id is not None
    try:
        return store.webhooks.get(webhook_id, ctx.project.id)
    except NotFound:
        raise NotFound(f"no webhook {webhook_id!r} in project {ctx.project.name!r}") from None


@router.post("", status_code=201, response_model=WebhookCreated, summary="Add a webhook", openapi_extra=ACTION)
def create_webhook(body: WebhookCreate, request: Request, store: StoreDep, ctx: Access) -> WebhookCreated:
    assert ctx.project.id is not None
    url = _safe_url(request, body.url)
    secret = body.secret or new_secret()
    events = list(dict.fromkeys(body.events))
    hook = store.webhooks.create(ctx.project.id, url, events, secret, active=body.active)
    return WebhookCreated(**_public(hook).model_dump(), secret=hook.secret)


@router.get("", response_model=list[WebhookPublic], summary="List the project's webhooks", openapi_extra=ACTION)
def list_webhooks(store: StoreDep, ctx: Access) -> list[WebhookPublic]:
    assert ctx.project.id is not None
    return [_public(h) for h in store.webhooks.list_webhooks(ctx.project.id)]


@router.get("/{webhook_id}", response_model=WebhookPublic, summary="A webhook", openapi_extra=ACTION)
def get_webhook(webhook_id: WebhookId, store: StoreDep, ctx: Access) -> WebhookPublic:
    return _public(_hook(store, ctx, webhook_id))


@router.patch(
    "/{webhook_id}", response_model=WebhookPublic, summary="Change a webhook (or pause it)", openapi_extra=ACTION
)
def update_webhook(
    webhook_id: WebhookId, body: WebhookUpdate, request: Request, store: StoreDep, ctx: Access
) -> WebhookPublic:
    hook = _hook(store, ctx, webhook_id)
    hook = store.webhooks.update(
        hook.id,
        url=_safe_url(request, body.url) if body.url is not None else None,
        events=list(dict.fromkeys(body.events)) if body.events is not None else None,
        secret=body.secret,
        active=body.active,
    )
    return _public(hook)


@router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook and its delivery log", openapi_extra=ACTION)
def delete_webhook(webhook_id: WebhookId, store: StoreDep, ctx: Access) -> None:
    store.webhooks.delete(_hook(store, ctx, webhook_id).id)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryPublic],
    summary="A webhook's deliveries, newest first",
    openapi_extra=ACTION,
)
def list_deliveries(
    webhook_id: WebhookId,
    store: StoreDep,
    ctx: Access,
    status: Annotated[DeliveryStatus | None, Query(description="only deliveries in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    hook = _hook(store, ctx, webhook_id)
    return [_delivery(d) for d in store.webhooks.deliveries(hook.id, status=status, limit=limit)]
