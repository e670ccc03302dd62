"""The root query: every read a client can make."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.adapters import model
from gateway.cases import service as case_service
from gateway.context import Context
from gateway.errors import NotFound
from gateway.resolvers import cases as case_resolvers
from gateway.resolvers import courts as court_resolvers
from gateway.resolvers import documents as document_resolvers
from gateway.schema.cases import Case, CaseConnection, CaseEdge, CaseFilter, CaseOrder, CourtCaseFilter
from gateway.schema.common import Node, PageInfo, check_first, parse_global_id
from gateway.schema.courts import Court
from gateway.schema.documents import ServedDocument, ServedDocumentConnection, ServedDocumentEdge
from gateway.schema.viewer import Viewer


def _filter(value: CaseFilter | CourtCaseFilter | None) -> case_service.CaseFilter:
    if value is None:
        return case_service.CaseFilter()
    courts = getattr(value, "courts", None) or ()
    roles = getattr(value, "roles", None) or ()
    return case_service.CaseFilter(
        courts=frozenset(courts),
        statuses=frozenset(model.CaseStatus(s.value) for s in value.statuses or ()),  # type: ignore[attr-defined]
        roles=frozenset(model.PartyRole(r.value) for r in roles),
        filed_from=value.filed_from,
        filed_to=value.filed_to,
        text=value.text or None,
    )


def _connection(found: case_service.CaseList, info: Info[Context, None]) -> CaseConnection:
    viewer, parser = info.context.viewer, info.context.services.parser
    return CaseConnection(
        edges=[
            CaseEdge(node=Case.from_model(c, viewer, parser), cursor=cur)
            for c, cur in zip(found.cases, found.cursors, strict=True)
        ],
        page_info=PageInfo.forward(found.cursors, found.has_next_page),
        total_count=found.total,
    )


def _courts(info: Info[Context, None]) -> list[Court]:
    health = info.context.services.registry.health()
    return [Court.from_config(c, health.get(c.code)) for c in court_resolvers.courts(info)]


async def _case(info: Info[Context, None], case_number: str) -> Case | None:
    found = await case_resolvers.case_by_number(info, case_number)
    return Case.from_model(found, info.context.viewer, info.context.services.parser) if found else None


@strawberry.type(description="Reads across all thirteen courts and the national service platform.")
class Query:
    @strawberry.field(description="The signed-in user.")
    def viewer(self, info: Info[Context, None]) -> Viewer:
        return Viewer.from_identity(court_resolvers.viewer(info))

    @strawberry.field(description="The thirteen courts, with their current health.")
    def courts(self, info: Info[Context, None]) -> list[Court]:
        return _courts(info)

    @strawberry.field(
        description="Every case where you are a party or a lawyer of record, across all courts as one "
        "list. A court that cannot answer is named in `errors`; the other courts' cases are here."
    )
    async def my_cases(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        filter: CaseFilter | None = None,
        order_by: CaseOrder = CaseOrder.FILED_DESC,
    ) -> CaseConnection:
        found = await case_resolvers.my_cases(
            info, check_first(first), after, _filter(filter), case_service.CaseOrder(order_by.value)
        )
        return _connection(found, info)

    @strawberry.field(
        description="Staff: the cases of your panels (clerks, judges), your division (division heads) or your "
        "whole court (court leaders, archive administrators), newest filing first. Other courts' cases are "
        "never listed."
    )
    async def court_cases(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        filter: CourtCaseFilter | None = None,
    ) -> CaseConnection:
        found = await case_resolvers.court_cases(info, check_first(first), after, _filter(filter))
        return _connection(found, info)

    @strawberry.field(
        description="One case by its case number (any historical format), from its own court only. "
        "NOT_FOUND when it does not exist or you may not see it; INVALID_CASE_NUMBER for other input; "
        "null with a COURT_* error when its court cannot answer."
    )
    async def case(self, info: Info[Context, None], case_number: str) -> Case | None:
        return await _case(info, case_number)

    @strawberry.field(
        description="Documents served to you by any court or the national platform that you have not "
        "signed, newest first; a document sent on several channels is listed once."
    )
    async def documents_to_sign(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> ServedDocumentConnection:
        page = await document_resolvers.documents_to_sign(info, check_first(first), after)
        return ServedDocumentConnection(
            edges=[
                ServedDocumentEdge(node=ServedDocument.from_group(g), cursor=cur)
                for g, cur in zip(page.groups, page.cursors, strict=True)
            ],
            page_info=PageInfo.forward(page.cursors, page.has_next_page),
            total_count=page.total,
        )

    @strawberry.field(description="Refetch any object by its global ID (Relay); null when its court cannot answer.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        type_name, key = parse_global_id(id)
        if type_name == "Case":
            return await _case(info, key)
        if type_name == "Court":
            for court in _courts(info):
                if court.code == key:
                    return court
        if type_name == "ServedDocument":
            viewer = info.context.require_viewer()
            found = await info.context.services.documents.documents_of(viewer)
            from gateway.documents.service import group_copies

            for group in group_copies(found.value):
                document = ServedDocument.from_group(group)
                if document.id == id:
                    return document
        if type_name == "Filing":
            from gateway.resolvers.filings import filing
            from gateway.schema.filings import Filing

            return Filing.from_view(await filing(info, key))
        if type_name == "Ticket":
            from gateway.resolvers.tickets import ticket
            from gateway.schema.tickets import Ticket

            return Ticket.from_view(await ticket(info, key), info.context.services)
        if type_name == "ArchiveApplication":
            from gateway.resolvers.archive import archive_application
            from gateway.schema.archive import ArchiveApplication

            return ArchiveApplication.from_view(await archive_application(info, key))
        if type_name == "CaseBindingApplication":
            from gateway.resolvers.bindings import case_binding_application
            from gateway.schema.bindings import CaseBindingApplication

            return CaseBindingApplication.from_view(await case_binding_application(info, key))
        raise NotFound("no such object that you may see")
