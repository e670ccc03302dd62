"""Webhook endpoints a client registers for the person who authorised it, and their delivery log.

Who may do what: an endpoint belongs to one (client, person) pair, taken from the verified token: only a
client's token with ``webhooks:manage`` manages endpoints, and only its own for that person; asking for
any other endpoint is NOT_FOUND, told apart from nothing. The endpoint receives the events addressed to
the person's own recipient keys (``webhook_recipients``), for the event types it subscribed to, within
the scopes the token carries (an event type whose scope it lacks is refused at registration).

The secret (``whsec_`` + base64 of 32 random bytes, per Standard Webhooks) is returned once, when the
endpoint is registered; it is stored, because every delivery is signed with it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.errors import InvalidInput, NotFoundError, NotPermitted, ScopeNotGranted
from gateway.core.runtime import Runtime
from gateway.identity import Scope, Viewer
from gateway.notifications.events import EVENT_SCOPES
from gateway.notifications.service import person_key
from gateway.store import audit
from gateway.store.webhooks import WebhookDelivery, WebhookEndpoint, WebhookRecipient, WebhookStatus
from gateway.webhooks.grants import Grants
from gateway.webhooks.outbox import WORKER_NAME
from gateway.webhooks.urls import check_url

MAX_ENDPOINTS = 10  # per client and person
MAX_EVENT_TYPES = 20  # more than there are: a longer list is not a mistake worth reading
MAX_LOG_PAGE = 100


class NoSuchEndpoint(NotFoundError):
    def __init__(self, what: str = "webhook endpoint") -> None:
        super().__init__(f"no such {what} of yours")


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: WebhookEndpoint) -> Endpoint:
        return cls(row.id, row.url, tuple(row.event_types), row.enabled, row.disabled_reason, row.created_at)


@dataclass(frozen=True)
class Delivery:
    """One entry of the delivery log."""

    id: int
    message_id: str
    endpoint_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None

    @classmethod
    def from_row(cls, row: WebhookDelivery) -> Delivery:
        waiting = row.next_attempt_at if row.status == WebhookStatus.PENDING else None
        return cls(
            row.id,
            row.message_id,
            row.endpoint_id,
            row.event_type,
            row.status,
            row.attempts,
            row.created_at,
            row.delivered_at,
            row.last_attempt_at,
            row.last_status,
            row.last_error,
            waiting,
        )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _owner(viewer: Viewer) -> tuple[str, str]:
    """The (client, person) an endpoint belongs to; refused for a token that is not a client's with
    ``webhooks:manage`` (a first-party token has no client to deliver to)."""
    if viewer.client_id is None or viewer.scopes is None or Scope.WEBHOOKS_MANAGE.value not in viewer.scopes:
        raise NotPermitted("webhooks are managed with a client's token carrying the webhooks:manage scope")
    return viewer.client_id, viewer.subject


def _check_types(viewer: Viewer, event_types: Sequence[str]) -> list[str]:
    if len(event_types) > MAX_EVENT_TYPES:
        raise InvalidInput(f"at most {MAX_EVENT_TYPES} event types", "EVENT_TYPES")
    wanted = list(dict.fromkeys(event_types))
    if not wanted:
        raise InvalidInput("name at least one event type", "EVENT_TYPES")
    unknown = [t for t in wanted if t not in EVENT_SCOPES]
    if unknown:
        raise InvalidInput(f"unknown event type: {unknown[0][:40]}", "EVENT_TYPES")
    missing = sorted({EVENT_SCOPES[t].value for t in wanted} - set(viewer.scopes or ()))
    if missing:
        raise ScopeNotGranted(f"your token lacks the scope {missing[0]} for these event types", scope=missing[0])
    return wanted


class WebhookService:
    """Endpoints and the delivery log (a peer of the webhook outbox, which delivers)."""

    def __init__(self, runtime: Runtime, grants: Grants) -> None:
        self.runtime = runtime
        self.grants = grants

    @property
    def production(self) -> bool:
        return self.runtime.settings.mode == "production"

    async def register(self, viewer: Viewer, url: str, event_types: Sequence[str]) -> tuple[Endpoint, str]:
        """A new endpoint, and its secret (returned this once)."""
        client_id, subject = _owner(viewer)
        types = _check_types(viewer, event_types)
        await check_url(url, production=self.production)
        keys = sorted({person_key(ref) for ref in viewer.person_refs()})
        if not keys:
            raise NotPermitted("webhooks report a party's or a lawyer's own events: your token names neither")
        now, secret = self.runtime.now(), new_secret()
        row = WebhookEndpoint(
            id="ep_" + secrets.token_hex(12),
            client_id=client_id,
            subject=subject,
            url=url,
            secret=secret,
            event_types=types,
            scopes=sorted(viewer.scopes or ()),
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        async with self.runtime.store.session() as session:
            owned = await session.scalars(
                select(WebhookEndpoint.id).where(
                    WebhookEndpoint.client_id == client_id, WebhookEndpoint.subject == subject
                )
            )
            if len(owned.all()) >= MAX_ENDPOINTS:
                raise InvalidInput(f"at most {MAX_ENDPOINTS} endpoints per client and person", "TOO_MANY_ENDPOINTS")
            session.add(row)
            await session.flush()
            session.add_all(WebhookRecipient(recipient_key=k, endpoint_id=row.id) for k in keys)
            await _audit(session, viewer, "registered", row)
            endpoint = Endpoint.from_row(row)
        return endpoint, secret

    async def endpoints(self, viewer: Viewer) -> list[Endpoint]:
        client_id, subject = _owner(viewer)
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.client_id == client_id, WebhookEndpoint.subject == subject)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        async with self.runtime.store.session(read_only=True) as session:
            return [Endpoint.from_row(r) for r in await session.scalars(query)]

    async def update(
        self,
        viewer: Viewer,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> Endpoint:
        """Change an endpoint; ``enabled: true`` re-enables one disabled after persistent failure (what
        failed meanwhile stays in the log, for ``replay``)."""
        client_id, subject = _owner(viewer)
        types = None if event_types is None else _check_types(viewer, event_types)
        if url is not None:
            await check_url(url, production=self.production)
        if enabled:
            await self._granted(client_id, subject)
        async with self.runtime.store.session() as session:
            row = await self._own(session, viewer, endpoint_id)
            if url is not None:
                row.url = url
            if types is not None:
                row.event_types = types
            row.scopes = sorted(viewer.scopes or ())  # what the stand-in grant store answers from
            if enabled is not None:
                row.enabled = enabled
                row.disabled_reason = None if enabled else "disabled by the client"
            row.updated_at = self.runtime.now()
            await _audit(session, viewer, "updated", row)
            return Endpoint.from_row(row)

    async def delete(self, viewer: Viewer, endpoint_id: str) -> None:
        """Delete an endpoint with its delivery log (nothing more is delivered to it)."""
        _owner(viewer)
        async with self.runtime.store.session() as session:
            row = await self._own(session, viewer, endpoint_id)
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id))
            await session.execute(delete(WebhookRecipient).where(WebhookRecipient.endpoint_id == row.id))
            await _audit(session, viewer, "deleted", row)
            await session.delete(row)

    async def deliveries(
        self, viewer: Viewer, endpoint_id: str, *, first: int, before_id: int | None
    ) -> list[Delivery]:
        """The endpoint's delivery log, newest first (``first`` + 1 rows: the caller pages)."""
        _owner(viewer)
        async with self.runtime.store.session(read_only=True) as session:
            await self._own(session, viewer, endpoint_id)
            query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
            if before_id is not None:
                query = query.where(WebhookDelivery.id < before_id)
            rows = await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(min(first, MAX_LOG_PAGE) + 1))
            return [Delivery.from_row(r) for r in rows]

    async def replay(self, viewer: Viewer, message_id: str) -> Delivery:
        """Send a logged delivery again, with the same ``webhook-id`` (a receiver that already has it drops
        it); refused while its endpoint is disabled. Each replay is one more attempt of the outbox row."""
        await self._granted(*_owner(viewer))
        async with self.runtime.store.session() as session:
            row = await session.scalar(
                select(WebhookDelivery).where(WebhookDelivery.message_id == message_id[:32]).with_for_update()
            )
            if row is None:
                raise NoSuchEndpoint("webhook delivery")
            endpoint = await self._own(session, viewer, row.endpoint_id)
            if not endpoint.enabled:
                raise NotPermitted("re-enable the endpoint first (updateWebhookEndpoint enabled: true)")
            if row.status != WebhookStatus.PENDING:
                row.status, row.next_attempt_at = WebhookStatus.PENDING, self.runtime.now()
            delivery = Delivery.from_row(row)
        self.runtime.workers.wake(WORKER_NAME)
        return delivery

    async def _granted(self, client_id: str, subject: str) -> None:
        """Refuse to (re)start deliveries the person no longer authorises (a token outlives a revocation).
        Asked before any write transaction opens (the grant store may read the same database)."""
        if await self.grants.active_scopes(client_id, subject) is None:
            raise NotPermitted("the person no longer authorises this client")

    async def _own(self, session: AsyncSession, viewer: Viewer, endpoint_id: str) -> WebhookEndpoint:
        row = await session.get(WebhookEndpoint, endpoint_id[:32])
        if row is None or row.client_id != viewer.client_id or row.subject != viewer.subject:
            raise NoSuchEndpoint()
        return row


async def _audit(session: AsyncSession, viewer: Viewer, verb: str, row: WebhookEndpoint) -> None:
    """Who pointed the person's events where: the person, the client, the URL and the event types."""
    details = {
        "client_id": row.client_id,
        "url": row.url[:300],
        "event_types": list(row.event_types),
        "enabled": row.enabled,
    }
    await audit.append(
        session,
        actor=viewer.subject,
        action=f"webhook.{verb}",
        subject_type="webhook_endpoint",
        subject_id=row.id,
        details=details,
    )
