"""Tables of the filing outbox: filings, their files and delivery state (models; see migration 0002)."""

from __future__ import annotations
