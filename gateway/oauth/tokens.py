"""Access tokens the gateway issues to clients, and the revocation look-up its verifier makes.

An access token is an HS256 JWT signed with ``oauth_token_secret`` whose ``iss`` is the authorisation
server's issuer: the person's identity claims (as the identity provider asserted them at consent),
``client_id``, ``scope`` (space-separated), ``gid`` (the grant) and a short life
(``oauth_access_token_ttl_s``). ``TokenVerifier`` accepts it like an identity provider's token, and asks
``GrantCheck`` whether its grant still stands.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

#: the claims only the gateway's own access tokens carry, all required there
GRANT_CLAIM = "gid"


def mint_access_token(
    claims: dict[str, Any],
    *,
    issuer: str,
    secret: str,
    client_id: str,
    scope: str,
    grant_id: str,
    ttl_s: int,
    audience: str | None = None,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        **claims,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_s,
        "jti": secrets.token_hex(8),
        "client_id": client_id,
        "scope": scope,
        GRANT_CLAIM: grant_id,
    }
    if audience:
        payload["aud"] = audience
    return jwt.encode(payload, secret, algorithm="HS256")


def read_access_token(token: str, *, issuer: str, secret: str, audience: str | None = None) -> dict[str, Any] | None:
    """The claims of a valid (unexpired, our own) access token; None otherwise."""
    try:
        return jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "sub", GRANT_CLAIM], "verify_aud": audience is not None},
        )
    except jwt.PyJWTError:
        return None


class GrantCheck:
    """Whether a grant still stands, each answer trusted for ``ttl_s`` in this process (``forget`` drops
    one at once: the replica that revokes a grant stops its tokens immediately). An answer asked before a
    ``forget`` and arriving after it is not kept: it may predate the revocation."""

    def __init__(self, is_live: Callable[[str], Awaitable[bool]], *, ttl_s: float) -> None:
        self.is_live = is_live
        self.ttl_s = ttl_s
        self._seen: dict[str, tuple[float, bool]] = {}
        #: how many times anything was forgotten: an answer is kept only if nothing was while it was asked
        self._forgotten = 0

    async def __call__(self, grant_id: str) -> bool:
        now = time.monotonic()
        seen = self._seen.get(grant_id)
        if seen is not None and now - seen[0] < self.ttl_s:
            return seen[1]
        forgotten = self._forgotten
        live = await self.is_live(grant_id)
        if len(self._seen) > 10_000:
            self._seen.clear()
        if forgotten == self._forgotten:
            self._seen[grant_id] = (now, live)
        return live

    def forget(self, grant_id: str | None = None) -> None:
        self._forgotten += 1
        if grant_id is None:
            self._seen.clear()
        else:
            self._seen.pop(grant_id, None)
