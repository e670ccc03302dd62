"""Tables of notifications: the SMS outbox and in-app notifications (migration 0004).

Both are written in the same transaction as the change that causes them (a filing delivered, a
document served), and both carry a dedupe key unique per recipient, so a retried worker or a replayed
change feed never notifies anyone twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime


class SmsMessage(Base):
    """One text message to one phone, delivered by the SMS worker through the configured provider."""

    __tablename__ = "sms_outbox"
    __table_args__ = (UniqueConstraint("phone", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(32))
    recipient_key: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(48))
    court_code: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="PENDING", index=True)  # PENDING, SENT, FAILED
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)


class InAppNotification(Base):
    """A notice shown in the user's notification list (and pushed to live subscriptions)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("recipient_key", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_key: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    court_code: Mapped[str | None] = mapped_column(String(32))
    case_number: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
