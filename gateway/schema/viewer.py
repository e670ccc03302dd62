"""Who am I: the signed-in person or staff member as the identity provider asserted them."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway import identity
from gateway.context import Context
from gateway.core.access import mask_id_number
from gateway.resolvers import courts as resolvers
from gateway.resolvers import oauth as oauth_resolvers
from gateway.schema.common import mirror_enum
from gateway.schema.oauth import ApiClient

Role = mirror_enum(identity.Role, "Role", "What a user may act as.")
IdentityLevel = mirror_enum(
    identity.IdentityLevel,
    "IdentityLevel",
    "How strongly the identity provider verified the user: PHONE < REAL_NAME < FACE. Reading case files and "
    "signing documents need REAL_NAME or FACE.",
)


@strawberry.type(description="The signed-in user.")
class Viewer:
    name: str = strawberry.field(description="Real name.")
    roles: list[Role] = strawberry.field(description="Roles asserted by the identity provider.")  # type: ignore[valid-type]
    identity_level: IdentityLevel = strawberry.field(description="Verification level.")  # type: ignore[valid-type]
    masked_id_number: str | None = strawberry.field(description="The user's ID number, masked.")
    licence_number: str | None = strawberry.field(description="A lawyer's 17-digit licence number (执业证号).")
    court_code: str | None = strawberry.field(description="Staff: the court they work at.")
    division: str | None = strawberry.field(description="Staff: their division (庭室).")

    @strawberry.field(
        description="The registered app this token was issued to (OAuth), with its scopes and quota; null for "
        "the court's own apps."
    )
    async def client(self, info: Info[Context, None]) -> ApiClient | None:
        found = await oauth_resolvers.calling_client(info)
        return ApiClient.of(found, info.context.services.now()) if found else None

    @classmethod
    def from_identity(cls, viewer: identity.Viewer) -> Viewer:
        return cls(
            name=viewer.name,
            roles=[Role(r.value) for r in sorted(viewer.roles)],
            identity_level=IdentityLevel(viewer.level.value),
            masked_id_number=mask_id_number(viewer.id_number) if viewer.id_number else None,
            licence_number=viewer.licence_number,
            court_code=viewer.court_code,
            division=viewer.division,
        )


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The signed-in user.")
    def viewer(self, info: Info[Context, None]) -> Viewer:
        return Viewer.from_identity(resolvers.viewer(info))
