"""Whether a client is still authorised by a person, and for what: asked before every webhook delivery.

The OAuth grant store (issue 14 parts 1–2) answers :class:`Grants` from the person's live consent, so a
revoked grant stops deliveries at once. Until it is wired, :class:`RegisteredGrants` answers from the
scopes the client's token carried when it registered its endpoints or created the person's calendar feed
(stored on those rows): honest about what it knows, and nothing more. That is the one thing the OAuth
grant replaces.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select

from gateway.store import Store
from gateway.store.webhooks import CalendarFeed, WebhookEndpoint


class Grants(Protocol):
    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        """The scopes ``subject`` currently grants ``client_id``; None when there is no active grant."""
        ...


class RegisteredGrants:
    """The scopes of the client's tokens when they registered endpoints or created the calendar feed (their
    union); None when the client has neither for the person."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        endpoints = select(WebhookEndpoint.scopes).where(
            WebhookEndpoint.client_id == client_id, WebhookEndpoint.subject == subject
        )
        feeds = select(CalendarFeed.scopes).where(CalendarFeed.client_id == client_id, CalendarFeed.subject == subject)
        async with self.store.session(read_only=True) as session:
            found = [*await session.scalars(endpoints), *await session.scalars(feeds)]
        if not found:
            return None
        return frozenset(scope for scopes in found for scope in scopes or ())
