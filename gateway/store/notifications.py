"""Tables of notifications: the SMS outbox and in-app notifications (migration 0004).

Both are written in the same transaction as the change that causes them (a filing delivered, a
document served), and both carry a dedupe key unique per recipient, so a retried worker or a replayed
change feed never notifies anyone twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime


class SmsStatus(StrEnum):
    """PENDING → SENDING (claimed by one worker, until ``next_attempt_at``) → SENT, or back to PENDING
    for a retry, or FAILED after the last attempt."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class SmsMessage(Base):
    """One text message to one phone, delivered by the SMS worker through the configured provider."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        UniqueConstraint("phone", "dedupe_key"),
        # the worker's claim: what is due, oldest first
        Index("ix_sms_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(32))
    recipient_key: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(48))
    court_code: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=SmsStatus.PENDING.value)
    #: attempts started; also the claim's fencing token (a worker records its result only if unchanged)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: PENDING: not before then (backoff, rate limit); SENDING: the claim's lease ends then
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)


class InAppNotification(Base):
    """A notice shown in the user's notification list (and pushed to live subscriptions)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient_key", "dedupe_key"),
        # a person's list, newest first, is a backward range scan of this index
        Index("ix_notifications_recipient", "recipient_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(48))
    court_code: Mapped[str | None] = mapped_column(String(32))
    case_number: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
