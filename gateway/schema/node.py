"""``node(id:)``: refetch any object by its global ID (Relay), through the loaders each domain registers.

A loader raises NOT_FOUND for an object the viewer may not see (or that does not exist) and returns None
only when the object's court cannot answer; a type name no domain registered is NOT_FOUND too.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.errors import NotFound
from gateway.schema.common import NODE_LOADERS, Node, parse_global_id


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Refetch any object by its global ID (Relay); null when its court cannot answer.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        type_name, key = parse_global_id(id)
        loader = NODE_LOADERS.get(type_name)
        if loader is None:
            raise NotFound("no such object that you may see")
        return await loader(info, key)
