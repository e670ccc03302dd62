"""What the rest of the gateway asks of the authorisation server: clients (cached briefly, for quotas and
``viewer { client }``), the person's authorised apps and their revocation, and the grant check the token
verifier makes.

A client's row is trusted for ``CLIENT_CACHE_S`` per process: a quota changed with the CLI, or a revoked
client's name, shows within that time (a revoked client's tokens stop by the grant check, not by this).
"""

from __future__ import annotations

import time
from functools import partial

from gateway.core.runtime import Runtime
from gateway.identity import Viewer
from gateway.oauth import store
from gateway.oauth.server import GatewayServer, Policy
from gateway.oauth.tokens import GrantCheck

CLIENT_CACHE_S = 30.0


class OAuthService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.grant_check = GrantCheck(partial(store.grant_is_live, runtime.store), ttl_s=settings.oauth_grant_check_s)
        self.policy = Policy(
            issuer=settings.oauth_issuer_url,
            secret=settings.oauth_token_secret,
            audience=settings.jwt_audience or None,
            access_ttl_s=settings.oauth_access_token_ttl_s,
            refresh_ttl_s=settings.oauth_refresh_token_ttl_s,
            code_ttl_s=settings.oauth_code_ttl_s,
        )
        self.server = GatewayServer(runtime.store, self.policy, self.grant_check, runtime.now)
        self._clients: dict[str, tuple[float, store.Client | None]] = {}

    async def client(self, client_id: str) -> store.Client | None:
        """The registered client (None when unknown or revoked), from this process's brief cache."""
        seen = self._clients.get(client_id)
        if seen is not None and time.monotonic() - seen[0] < CLIENT_CACHE_S:
            return seen[1]
        found = await store.get_client(self.runtime.store, client_id)
        if len(self._clients) > 10_000:
            self._clients.clear()
        self._clients[client_id] = (time.monotonic(), found)
        return found

    async def quota(self, client_id: str) -> tuple[float, int]:
        """The client's bucket: requests refilled per second and the burst."""
        settings = self.runtime.settings
        found = await self.client(client_id)
        rate = found.rate_per_s if found and found.rate_per_s else settings.oauth_client_rate_per_s
        burst = found.burst if found and found.burst else settings.oauth_client_burst
        return rate, burst

    async def apps_of(self, viewer: Viewer) -> list[store.Grant]:
        """The clients the person has authorised and not revoked."""
        return await store.grants_of(self.runtime.store, viewer.subject)

    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        """What the person currently lets the client do (the union of their live grants to it), or None when
        nothing: what webhooks ask before delivering an event about the person to the client."""
        grants = [g for g in await store.grants_of(self.runtime.store, subject) if g.client_id == client_id]
        if not grants:
            return None
        return frozenset(scope for g in grants for scope in g.scope.split())

    async def revoke_app(self, viewer: Viewer, grant_id: str) -> bool:
        """The person withdraws one authorisation of theirs; False when it is not theirs or not live."""
        done = await store.revoke_grant(
            self.runtime.store, grant_id, store.BY_PERSON, now=self.runtime.now(), subject=viewer.subject
        )
        self.grant_check.forget(grant_id)
        return done
