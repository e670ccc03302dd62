"""The person's authorised apps (OAuth grants) and the calling client, for the GraphQL layer.

Listing and revoking apps is the person's own act in the court's own apps: no client token passes
(``require_viewer`` without a scope). ``calling_client`` is the client a token was issued to, with this
request's count against its quota; None for a first-party token.
"""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.types import Info

from gateway.context import Context
from gateway.demand.ratelimit import Decision
from gateway.errors import NotFound
from gateway.identity import Role
from gateway.oauth.store import Client, Grant

PERSON_ROLES = {Role.PARTY, Role.LAWYER}


@dataclass(frozen=True)
class CallingClient:
    client: Client | None
    client_id: str
    scopes: frozenset[str]
    quota: Decision | None


async def authorized_apps(info: Info[Context, None]) -> list[Grant]:
    viewer = info.context.require_viewer(roles=PERSON_ROLES)
    return await info.context.services.oauth.apps_of(viewer)


async def revoke_authorized_app(info: Info[Context, None], grant_id: str) -> bool:
    """Withdraw one of the person's authorisations; NOT_FOUND when it is not theirs or already withdrawn."""
    viewer = info.context.require_viewer(roles=PERSON_ROLES)
    if not await info.context.services.oauth.revoke_app(viewer, grant_id):
        raise NotFound("no such authorisation of yours")
    return True


async def calling_client(info: Info[Context, None]) -> CallingClient | None:
    viewer = info.context.require_viewer(any_client=True)
    if viewer.client_id is None or viewer.scopes is None:
        return None
    found = await info.context.services.oauth.client(viewer.client_id)
    return CallingClient(found, viewer.client_id, viewer.scopes, info.context.quota)
