"""Whether a client is still authorised by a person, and for what: asked before every webhook delivery,
before re-enabling an endpoint or replaying a delivery, and before serving a calendar feed a client made.

The OAuth grant store answers it (:meth:`gateway.oauth.service.OAuthService.active_scopes`) from the
person's live consent, so a revoked grant or a withdrawn scope stops deliveries at once.
"""

from __future__ import annotations

from typing import Protocol


class Grants(Protocol):
    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        """The scopes ``subject`` currently grants ``client_id``; None when there is no active grant."""
        ...
