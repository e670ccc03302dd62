"""``node(id:)`` and ``nodes(ids:)``: refetch objects by their global IDs (Relay), through the loaders each
domain registers.

A loader raises NOT_FOUND for an object the viewer may not see (or that does not exist) and returns None
only when the object's court cannot answer; a type name no domain registered is NOT_FOUND too. In
``nodes`` each ID is resolved on its own: one that fails is null with its error at its index
(``["nodes", 3]``), and the others are still answered. At most ``MAX_NODES`` IDs, checked before any is read.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.errors import BadUserInput, NotFound
from gateway.schema.common import NODE_LOADERS, Node, parse_global_id

#: the most IDs one ``nodes`` call refetches (the AOL frontend's longest list page is 100)
MAX_NODES = 100


async def _load(info: Info[Context, None], id: strawberry.ID) -> Node | None:
    type_name, key = parse_global_id(id)
    loader = NODE_LOADERS.get(type_name)
    if loader is None:
        raise NotFound("no such object that you may see")
    return await loader(info, key)


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Refetch any object by its global ID (Relay); null when its court cannot answer.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await _load(info, id)

    @strawberry.field(
        description="Refetch several objects by their global IDs (at most 100), in the order given. An object "
        "you may not see, or that does not exist, is null with a NOT_FOUND error at its index; one whose "
        "court cannot answer is null with that court's error."
    )
    def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput(f"at most {MAX_NODES} ids at once", reason="IDS")
        # awaitables, not values: GraphQL resolves each item on its own, so an error lands at its index
        return [_load(info, id) for id in ids]  # type: ignore[misc]
