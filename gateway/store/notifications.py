"""Tables of notifications: the SMS outbox and in-app notifications (models; see migration 0004)."""

from __future__ import annotations
