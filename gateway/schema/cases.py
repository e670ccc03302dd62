"""Cases: one court's record of a case, shaped for the person asking.

Nullable wherever a court can be missing: a case's documents, case file or related cases come from
calls that may fail on their own; the case itself stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from gateway.adapters import model
from gateway.casenumber import CATEGORIES, CaseNumberParser, InvalidCaseNumber, category_of
from gateway.cases import service as case_service
from gateway.context import Context
from gateway.core.access import mask_id_number
from gateway.identity import Viewer
from gateway.last_known import Stale
from gateway.resolvers import cases as resolvers
from gateway.schema.common import Node, PageInfo, check_first, global_id, mirror_enum, refetchable
from gateway.schema.courts import UnavailableCourt, unavailable_courts
from gateway.schema.stale import StaleCourt

if TYPE_CHECKING:
    from gateway.schema.documents import ServedDocument
    from gateway.schema.filings import FilingConnection

CaseStatus = mirror_enum(model.CaseStatus, "CaseStatus", "立案 FILED, 审理 IN_TRIAL, 结案 CLOSED, 归档 ARCHIVED.")
Procedure = mirror_enum(model.Procedure, "Procedure", "The procedure the case's type code stands for.")
PartyRole = mirror_enum(model.PartyRole, "PartyRole", "诉讼地位: the party's standing in the case.")
StaffRole = mirror_enum(model.StaffRole, "StaffRole", "A court staff member's role on a panel or in a court.")
VolumeKind = mirror_enum(model.VolumeKind, "VolumeKind", "正卷 MAIN (readable by parties) or 副卷 INTERNAL.")


@strawberry.type(description="A party to the case (当事人).")
class Party:
    name: str = strawberry.field(description="Name of the person or organisation.")
    role: PartyRole = strawberry.field(description="Standing in the case.")  # type: ignore[valid-type]
    is_organisation: bool = strawberry.field(description="An organisation rather than a natural person.")
    id_number: str = strawberry.field(
        description="ID number or credit code; masked (440104********1234) unless it is the viewer's own "
        "or the viewer is staff of the court."
    )


@strawberry.type(description="A lawyer acting for a party (诉讼代理人).")
class Agent:
    name: str = strawberry.field(description="The lawyer's name.")
    licence_number: str = strawberry.field(description="17-digit licence number (执业证号).")
    firm: str = strawberry.field(description="Law firm.")
    client_name: str | None = strawberry.field(description="The party they act for.")


@strawberry.type(description="A member of the panel (合议庭 / 独任) or the clerk.")
class PanelMember:
    name: str = strawberry.field(description="Name.")
    role: StaffRole = strawberry.field(description="审判长, 审判员, 人民陪审员 or 书记员.")  # type: ignore[valid-type]
    division: str = strawberry.field(description="Division (庭室).")


@strawberry.type(description="A scheduled or held hearing.")
class Hearing:
    starts_at: datetime = strawberry.field(description="Start, Beijing time.")
    room: str = strawberry.field(description="Courtroom.")
    kind: str = strawberry.field(description="开庭, 询问, 调解, 宣判 …")


@strawberry.enum(description="How a related case stands to this one.")
class CaseRelation(Enum):
    FIRST_INSTANCE = "FIRST_INSTANCE"
    APPEAL = "APPEAL"
    RETRIAL = "RETRIAL"
    ENFORCEMENT = "ENFORCEMENT"
    OTHER = "OTHER"


@strawberry.type(description="A case linked to this one across tiers: first instance, appeal, enforcement, retrial.")
class RelatedCase:
    case_number: str = strawberry.field(description="Its case number.")
    court_code: str | None = strawberry.field(description="Its court, from the case number.")
    relation: CaseRelation = strawberry.field(description="What it is to this case.")

    @strawberry.field(description="The case itself, when you may see it; null otherwise or if its court is down.")
    async def case(self, info: Info[Context, None]) -> Annotated[Case, strawberry.lazy("gateway.schema.cases")] | None:
        from gateway.resolvers.cases import related_case

        found = await related_case(info, self.case_number)
        return Case.from_model(found, info.context.viewer, info.context.services.parser) if found else None


@strawberry.type(description="One item of the case file.")
class Material:
    id: strawberry.ID = strawberry.field(description="Material id within the case.")
    title: str = strawberry.field(description="起诉状, 证据材料, 庭审笔录, 判决书 …")
    pages: int = strawberry.field(description="Number of pages.")
    published: bool = strawberry.field(description="Open to the parties (false in private hearings).")


@strawberry.type(description="A volume of the case file (卷宗).")
class CaseFileVolume:
    title: str = strawberry.field(description="Volume title.")
    kind: VolumeKind = strawberry.field(description="正卷 or 副卷.")  # type: ignore[valid-type]
    materials: list[Material] = strawberry.field(description="The materials you may see in it.")


def _related(number: str, parser: CaseNumberParser) -> RelatedCase:
    try:
        parsed = parser.parse(number)
    except InvalidCaseNumber:
        return RelatedCase(case_number=number, court_code=None, relation=CaseRelation.OTHER)
    return RelatedCase(case_number=number, court_code=parsed.court_code, relation=_relation(parsed.type_code))


def _relation(other_type: str) -> CaseRelation:
    if other_type.endswith("终"):
        return CaseRelation.APPEAL
    if other_type.startswith("执"):
        return CaseRelation.ENFORCEMENT
    if other_type in ("民申", "民再", "行申"):
        return CaseRelation.RETRIAL
    if other_type.endswith("初"):
        return CaseRelation.FIRST_INSTANCE
    return CaseRelation.OTHER


@strawberry.type(description="A case in one court, as that court's system records it.")
class Case(Node):
    case_number: str = strawberry.field(description="案号, canonical form: （2023）粤0104民初123号.")
    court_code: str = strawberry.field(description="The court's code (粤0104).")
    type_code: str = strawberry.field(description="类型代字: 民初, 民终, 执 …")
    procedure: Procedure = strawberry.field(  # type: ignore[valid-type]
        description="What the type code stands for; UNKNOWN for a type code the standard's table lacks."
    )
    category: str | None = strawberry.field(
        description=f"The type code's category in 人民法院案件类型及其代字标准 ({', '.join(CATEGORIES)}); "
        "null for a type code the table lacks."
    )
    cause: str = strawberry.field(description="案由.")
    status: CaseStatus = strawberry.field(description="Where the case stands.")  # type: ignore[valid-type]
    filed_on: date = strawberry.field(description="立案日期.")
    closed_on: date | None = strawberry.field(description="结案日期.")
    archived_on: date | None = strawberry.field(description="归档日期.")
    public_hearing: bool = strawberry.field(description="False for cases heard in private (不公开审理).")
    division: str = strawberry.field(description="The division handling it.")
    parties: list[Party] = strawberry.field(description="Parties, others' ID numbers masked.")
    agents: list[Agent] = strawberry.field(description="Lawyers of record.")
    panel: list[PanelMember] = strawberry.field(description="Judges, assessors and the clerk.")
    hearings: list[Hearing] = strawberry.field(description="Hearings, earliest first.")
    last_activity_at: datetime | None = strawberry.field(description="The latest filing, hearing or decision.")
    my_roles: list[PartyRole] = strawberry.field(  # type: ignore[valid-type]
        description="Your standing: your own role, or your clients' roles if you are their lawyer."
    )
    related_cases: list[RelatedCase] = strawberry.field(description="Linked cases across tiers.")
    _model: strawberry.Private[model.Case]
    stale: StaleCourt | None = strawberry.field(
        default=None,
        description="Set when the court is down and this is the last record of the case it gave you "
        "(its date and age); null when the record is fresh.",
    )

    @classmethod
    def from_model(cls, case: model.Case, viewer: Viewer | None, parser: CaseNumberParser) -> Case:
        from gateway.cases.service import viewer_roles_in

        staff_here = bool(viewer and viewer.is_staff and viewer.court_code == case.court_code)
        own = viewer.id_number if viewer else None
        names = {p.id_number: p.name for p in case.parties}

        def shown(number: str) -> str:
            return number if staff_here or number == own else mask_id_number(number)

        return cls(
            id=global_id("Case", case.case_number),
            case_number=case.case_number,
            court_code=case.court_code,
            type_code=case.type_code,
            procedure=Procedure(case.procedure.value),
            category=category_of(case.type_code),
            cause=case.cause,
            status=CaseStatus(case.status.value),
            filed_on=case.filed_on,
            closed_on=case.closed_on,
            archived_on=case.archived_on,
            public_hearing=case.public_hearing,
            division=case.division,
            parties=[
                Party(
                    name=p.name,
                    role=PartyRole(p.role.value),
                    is_organisation=p.kind == model.PartyKind.ORGANISATION,
                    id_number=shown(p.id_number),
                )
                for p in case.parties
            ],
            agents=[
                Agent(
                    name=a.name, licence_number=a.licence_number, firm=a.firm, client_name=names.get(a.client_id_number)
                )
                for a in case.agents
            ],
            panel=[PanelMember(name=s.name, role=StaffRole(s.role.value), division=s.division) for s in case.panel],
            hearings=[
                Hearing(starts_at=h.starts_at, room=h.room, kind=h.kind)
                for h in sorted(case.hearings, key=lambda h: h.starts_at)
            ],
            last_activity_at=case.last_activity_at,
            my_roles=[PartyRole(r.value) for r in sorted(viewer_roles_in(viewer, case))] if viewer else [],
            related_cases=[_related(number, parser) for number in case.related_case_numbers],
            _model=case,
        )

    @strawberry.field(
        description=(
            "Documents served to you in this case, by any channel (its court and the national platforms); a "
            "source that cannot answer is named in `errors` and the others' documents are still listed."
        )
    )
    async def served_documents(
        self, info: Info[Context, None]
    ) -> list[Annotated[ServedDocument, strawberry.lazy("gateway.schema.documents")]] | None:
        from gateway.resolvers.documents import served_in_case
        from gateway.schema.documents import ServedDocument

        groups = await served_in_case(info, self._model)
        return None if groups is None else [ServedDocument.from_group(g) for g in groups]

    @strawberry.field(
        description="Your filings into this case, newest first, with their delivery status (parties and lawyers)."
    )
    async def filings(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> Annotated[FilingConnection, strawberry.lazy("gateway.schema.filings")]:
        from gateway.resolvers.filings import my_filings
        from gateway.schema.filings import filing_connection

        return filing_connection(await my_filings(info, check_first(first), after, self.case_number))

    @strawberry.field(
        description="The case file volumes and materials you may read: 正卷 published materials only "
        "(staff of the court: everything); download one with `downloadMaterial`. Needs a REAL_NAME or FACE "
        "identity (FORBIDDEN otherwise). An archived case needs an approved application first "
        "(APPLICATION_REQUIRED; ACCESS_WINDOW_CLOSED without an open reading window, with `extensions.reason`: "
        "APPLICATION_PENDING and `dueAt` (wait for the decision), APPLICATION_REJECTED or WINDOW_CLOSED and "
        "`closedAt` (apply again)). Every listing is audited. Null "
        "if the court could not be reached."
    )
    async def case_file(self, info: Info[Context, None]) -> list[CaseFileVolume] | None:
        from gateway.resolvers.cases import visible_case_file

        volumes = await visible_case_file(info, self._model)
        if volumes is None:
            return None
        return [
            CaseFileVolume(
                title=v.title,
                kind=VolumeKind(v.kind.value),
                materials=[
                    Material(id=strawberry.ID(m.material_id), title=m.title, pages=m.pages, published=m.published)
                    for m in v.materials
                ],
            )
            for v in volumes
        ]


@strawberry.type(description="A case in a list, with the cursor that resumes the list after it.")
class CaseEdge:
    node: Case = strawberry.field(description="The case.")
    #: the page's cursors and this edge's place among them: a cursor is encoded only if it is asked for
    _cursors: strawberry.Private[Sequence[str]]
    _index: strawberry.Private[int]

    @strawberry.field(description="Opaque position after this case.")
    def cursor(self) -> str:
        return self._cursors[self._index]


@strawberry.type(description="A page of cases merged across courts (Relay connection).")
class CaseConnection:
    edges: list[CaseEdge] = strawberry.field(description="The cases of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int | None = strawberry.field(
        description=(
            "How many cases the whole list holds across every court (not this page), the same on every page "
            "as the courts last reported it. Null when it cannot be known: a court failed (it is named in "
            "`errors`, and its cases cannot be counted), a court reports no count, or a filter the courts "
            "cannot apply is in use (`statuses`, `roles`, `filedFrom`, `filedTo`, `text`: the gateway drops "
            "cases after the courts counted them). A `courts` filter keeps the count (it counts those courts). "
            "With `orderBy: LAST_ACTIVITY_DESC` the gateway reads every court's whole list, so the count is "
            "there with any filter: the cases that pass it, at the courts that answered."
        )
    )
    unavailable_courts: list[UnavailableCourt] = strawberry.field(
        description="The courts that did not answer for this page, so their cases are missing from it (each "
        "is also an error in `errors`); empty when every court answered. Ask again later for their cases. "
        "Courts that are down but answered from their last known answer are in `staleCourts` instead.",
        default_factory=list,
    )
    stale_courts: list[StaleCourt] = strawberry.field(
        default_factory=list,
        description="Courts that are down but whose cases are here from their last known answer, with its "
        "date and age (also in `errors`, with `extensions.stale`). Empty when every court answered fresh.",
    )


@strawberry.enum(description="Order of a case list.")
class CaseOrder(Enum):
    FILED_DESC = "FILED_DESC"
    LAST_ACTIVITY_DESC = "LAST_ACTIVITY_DESC"


@strawberry.input(description="Narrow a case list. Every given condition must hold.")
class CaseFilter:
    courts: list[str] | None = strawberry.field(default=None, description="Only these court codes.")
    statuses: list[CaseStatus] | None = strawberry.field(default=None, description="Only these statuses.")  # type: ignore[valid-type]
    roles: list[PartyRole] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only cases where your standing (or your clients') is one of these."
    )
    filed_from: date | None = strawberry.field(default=None, description="Filed on or after.")
    filed_to: date | None = strawberry.field(default=None, description="Filed on or before.")
    text: str | None = strawberry.field(default=None, description="Text in the cause or the case number.")


@strawberry.input(description="Narrow a court's case list. Every given condition must hold.")
class CourtCaseFilter:
    statuses: list[CaseStatus] | None = strawberry.field(default=None, description="Only these statuses.")  # type: ignore[valid-type]
    filed_from: date | None = strawberry.field(default=None, description="Filed on or after.")
    filed_to: date | None = strawberry.field(default=None, description="Filed on or before.")
    text: str | None = strawberry.field(default=None, description="Text in the cause or the case number.")


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
            CaseEdge(node=Case.from_model(c, viewer, parser), _cursors=found.cursors, _index=i)
            for i, c in enumerate(found.cases)
        ],
        page_info=PageInfo.forward(found.cursors, found.has_next_page, found.resume_cursor),
        total_count=found.total,
        unavailable_courts=unavailable_courts(info, found.failures),
        stale_courts=[StaleCourt.from_mark(m, info) for m in found.stale],
    )


@refetchable("Case")
async def case_node(info: Info[Context, None], case_number: str) -> Case | None:
    found, mark = await resolvers.case_by_number(info, case_number)
    if found is None:
        return None
    case = Case.from_model(found, info.context.viewer, info.context.services.parser)
    case.stale = _stale(mark, info)
    return case


def _stale(mark: Stale | None, info: Info[Context, None]) -> StaleCourt | None:
    return None if mark is None else StaleCourt.from_mark(mark, info)


@strawberry.type
class CasesQuery:
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
        found = await resolvers.my_cases(
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
        found = await resolvers.court_cases(info, check_first(first), after, _filter(filter))
        return _connection(found, info)

    @strawberry.field(
        description="One case by its case number (any historical format), from its own court only. "
        "NOT_FOUND when it does not exist or you may not see it; INVALID_CASE_NUMBER for other input; "
        "null with a COURT_* error when its court cannot answer."
    )
    async def case(self, info: Info[Context, None], case_number: str) -> Case | None:
        return await case_node(info, case_number)
