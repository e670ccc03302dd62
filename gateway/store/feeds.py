"""Where the gateway is in each court's change feed (migration 0005).

The cursor is saved in the same transaction as the effects of the events before it, so after a crash
or restart the gateway resumes exactly there: an event's effects are applied once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime


class FeedCursor(Base):
    __tablename__ = "feed_cursors"

    court_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
