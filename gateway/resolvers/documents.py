"""Served-document resolvers."""

from __future__ import annotations

import asyncio

from strawberry.types import Info

from gateway.adapters import model
from gateway.adapters.errors import CourtError
from gateway.adapters.model import PersonRef, ServedDocument
from gateway.context import Context
from gateway.core.cursors import InvalidCursor
from gateway.core.federation import CourtFailure
from gateway.documents.service import DocumentPage, ServedDocumentGroup, group_copies
from gateway.errors import BadUserInput
from gateway.resolvers.cases import PERSON_ROLES


async def documents_to_sign(info: Info[Context, None], first: int, after: str | None) -> DocumentPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES)
    try:
        signed_here = context.services.signing.signed_here
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
    found = await context.loader(load_documents).load_many(keys)
    docs = [d for batch in found for d in batch if d.case_number == case.case_number]
    return group_copies(docs)


async def load_documents(context: Context, keys: list[tuple[str, PersonRef]]) -> list[list[ServedDocument]]:
    """Documents served to a person at a source, by (source code, person) (a per-request DataLoader's batch);
    a source that cannot answer is reported and gives none."""
    services = context.services
    generations = await services.cache.generations({court for court, _ in keys})

    async def one(court: str, ref: PersonRef) -> list[ServedDocument]:
        try:
            return await services.documents.documents_at(services.registry[court], ref, generations[court])
        except CourtError as e:
            context.report([CourtFailure.from_error(e)], ["servedDocuments"])
            return []

    return list(await asyncio.gather(*(one(court, ref) for court, ref in keys)))
