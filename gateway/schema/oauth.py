"""Apps a person authorised (OAuth, issue 14), and the client a token was issued to."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.oauth.store import Grant
from gateway.resolvers import oauth as resolvers
from gateway.schema.common import china_time


@strawberry.type(description="A client's quota: a bucket of requests refilled over time, shared by all its users.")
class Quota:
    limit: int = strawberry.field(description="Requests the bucket holds when full.")
    remaining: int = strawberry.field(description="Requests left now, after this one.")
    resets_at: datetime = strawberry.field(description="When the bucket is full again (China time).")


@strawberry.type(description="The registered client (a firm's software) this token was issued to.")
class ApiClient:
    id: strawberry.ID = strawberry.field(description="The OAuth client_id.")
    name: str = strawberry.field(description="The name the court registered it under.")
    scopes: list[str] = strawberry.field(description="The scopes the person granted this token.")
    quota: Quota | None = strawberry.field(description="This request's count against the quota; null when not counted.")

    @classmethod
    def of(cls, found: resolvers.CallingClient, now: datetime) -> ApiClient:
        decision = found.quota
        quota = None
        if decision is not None:
            quota = Quota(
                limit=decision.limit,
                remaining=decision.remaining,
                resets_at=china_time(now + timedelta(seconds=decision.reset_s)),
            )
        return cls(
            id=strawberry.ID(found.client_id),
            name=found.client.name if found.client else "",
            scopes=sorted(found.scopes),
            quota=quota,
        )


@strawberry.type(description="An app you authorised to act for you at the courts, until you revoke it.")
class AuthorizedApp:
    id: strawberry.ID = strawberry.field(description="The authorisation (grant); pass it to revokeAuthorizedApp.")
    client_id: str = strawberry.field(description="The app's OAuth client_id.")
    client_name: str = strawberry.field(description="The app's name, as the court registered it.")
    scopes: list[str] = strawberry.field(description="What you allowed it.")
    authorized_at: datetime = strawberry.field(description="When you consented (China time).")
    last_used_at: datetime | None = strawberry.field(description="When it last obtained a token.")

    @classmethod
    def of(cls, grant: Grant) -> AuthorizedApp:
        return cls(
            id=strawberry.ID(grant.id),
            client_id=grant.client_id,
            client_name=grant.client_name,
            scopes=grant.scope.split(),
            authorized_at=china_time(grant.created_at),
            last_used_at=china_time(grant.last_used_at),
        )


@strawberry.type
class OAuthQuery:
    @strawberry.field(
        description="The apps (firms' software) you authorised and have not revoked. Only in the court's own "
        "apps: an app's token is refused (INSUFFICIENT_SCOPE)."
    )
    async def authorized_apps(self, info: Info[Context, None]) -> list[AuthorizedApp]:
        return [AuthorizedApp.of(g) for g in await resolvers.authorized_apps(info)]


@strawberry.type
class OAuthMutation:
    @strawberry.mutation(
        description="Revoke an app's authorisation: its refresh tokens stop at once, its access tokens within "
        "seconds. NOT_FOUND when it is not yours or already revoked. Only in the court's own apps."
    )
    async def revoke_authorized_app(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        return await resolvers.revoke_authorized_app(info, str(id))
