"""Tables of the firm-software sync: webhook endpoints, their deliveries, and calendar feeds (migration 0015).

A delivery row is written in the same transaction as the in-app notice it reports (``notify``), once per
endpoint and notice (unique ``endpoint_id, recipient_key, dedupe_key``), so a replayed court event or a
retried worker never queues a webhook twice; the row is then the outbox entry the webhook worker
delivers (``gateway.webhooks.outbox``), and its ``message_id`` is the ``webhook-id`` the receiver
deduplicates on, the same for every attempt and replay.

A calendar feed is found by the SHA-256 of its secret token: the token itself is never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class WebhookEndpoint(Base):
    """A receiver a client registered for one person's events (the person who authorised the client)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_owner", "client_id", "subject"),)

    #: ``ep_`` + 24 hex
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    #: the person (``sub``) whose events these are
    subject: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    #: ``whsec_`` + base64 of 32 random bytes: it signs every delivery, so it is kept (shown once)
    secret: Mapped[str] = mapped_column(String(128))
    #: the event types subscribed to, e.g. ["document.served", "hearing.scheduled"]
    event_types: Mapped[list[str]] = mapped_column(JSON)
    #: the token's scopes at registration (a record; every delivery asks the person's live grant)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookRecipient(Base):
    """The person's recipient keys (``notifications.recipient_key``) an endpoint receives the events of."""

    __tablename__ = "webhook_recipients"

    recipient_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), primary_key=True
    )


class WebhookStatus:
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class WebhookDelivery(Base):
    """One event for one endpoint: the webhook outbox's row, and the client's delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "recipient_key", "dedupe_key"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``msg_`` + 24 hex: the ``webhook-id`` header, the receiver's idempotency key
    message_id: Mapped[str] = mapped_column(String(32), unique=True)
    endpoint_id: Mapped[str] = mapped_column(String(32), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    recipient_key: Mapped[str] = mapped_column(String(128))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(48))
    court_code: Mapped[str | None] = mapped_column(String(32))
    #: the JSON body sent, exactly (it is what was signed)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=WebhookStatus.PENDING)
    #: attempts started; the outbox engine's fence
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    #: the receiver's HTTP status at the last attempt (None: no answer)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]


class CalendarFeed(Base):
    """A person's secret calendar URL: one per person; rotating replaces the row (the old URL is dead)."""

    __tablename__ = "calendar_feeds"

    #: SHA-256 hex of the URL's token
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), unique=True)
    #: the person's access claims (``Viewer.access_claims``) the feed is read with
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the client whose token created it (None: the person's own app), and that token's scopes: a client's
    #: feed answers only while the person's grant to the client still includes calendar:read
    client_id: Mapped[str | None] = mapped_column(String(128))
    scopes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
