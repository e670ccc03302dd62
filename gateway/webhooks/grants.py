"""Whether a client is still authorised by a person, and for what: asked before every webhook delivery.

The OAuth grant store (issue 14 parts 1–2) answers :class:`Grants` from the person's live consent, so a
revoked grant stops deliveries at once. Until it is wired, :class:`RegisteredGrants` answers from the
scopes the client's token carried when it registered its endpoints (stored on the endpoint rows): honest
about what it knows, and nothing more. That is the one thing the OAuth grant replaces.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select

from gateway.store import Store
from gateway.store.webhooks import WebhookEndpoint


class Grants(Protocol):
    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        """The scopes ``subject`` currently grants ``client_id``; None when there is no active grant."""
        ...


class RegisteredGrants:
    """The scopes of the client's tokens at endpoint registration (their union); None without an endpoint."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        query = select(WebhookEndpoint.scopes).where(
            WebhookEndpoint.client_id == client_id, WebhookEndpoint.subject == subject
        )
        async with self.store.session(read_only=True) as session:
            found = list(await session.scalars(query))
        if not found:
            return None
        return frozenset(scope for scopes in found for scope in scopes)
