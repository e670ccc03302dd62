"""Served-document resolvers."""

from __future__ import annotations

from strawberry.types import Info

from gateway.adapters import model
from gateway.context import Context
from gateway.core.cursors import InvalidCursor
from gateway.documents.service import DocumentPage, ServedDocumentGroup, group_copies
from gateway.documents.signing import SigningService
from gateway.errors import BadUserInput
from gateway.resolvers.cases import PERSON_ROLES


async def documents_to_sign(info: Info[Context, None], first: int, after: str | None) -> DocumentPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES)
    try:
        services = context.services
        signed_here = SigningService(services.store, services.registry, services.documents).signed_here
        page = await context.services.documents.documents_to_sign(
            viewer, first=first, after=after, signed_here=signed_here
        )
    except InvalidCursor as e:
        raise BadUserInput(str(e)) from None
    context.report(page.failures, [info.path.key])
    return page


async def served_in_case(info: Info[Context, None], case: model.Case) -> list[ServedDocumentGroup] | None:
    """The viewer's own documents in this case, from its court and the national platforms."""
    context = info.context
    viewer = context.require_viewer()
    sources = [case.court_code] + [p.court.code for p in context.services.registry.platforms()]
    keys = [(source, ref) for source in sources for ref in viewer.person_refs()]
    found = await context.documents_at.load_many(keys)
    docs = [d for batch in found for d in batch if d.case_number == case.case_number]
    return group_copies(docs)
