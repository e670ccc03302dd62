"""Case binding (案件绑定申请): types and root fields (Query, Mutation) contributed to the schema."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from gateway.bindings import service
from gateway.context import Context
from gateway.errors import NotFound
from gateway.resolvers import bindings as resolvers
from gateway.schema.cases import StaffRole
from gateway.schema.common import Node, PageInfo, check_first, china_time, global_id, parse_global_id, refetchable
from gateway.schema.filings import FilingFile

TYPE_NAME = "CaseBindingApplication"


@strawberry.enum(
    description="PENDING (waiting for the panel) → APPROVED (the case is in your cases) → RECORDED (the court's own "
    "system names you too); or REJECTED."
)
class CaseBindingStatus(Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    RECORDED = "RECORDED"
    REJECTED = "REJECTED"


@strawberry.enum(
    description="Entering an approved lawyer at the court: QUEUED (being delivered, retried until the court takes "
    "it), RECORDED, UNSUPPORTED (the court's system cannot take it online, or a party bound: the gateway's record "
    "is what counts), REFUSED (the court refused it; see lastError)."
)
class CourtWriteStatus(Enum):
    QUEUED = "QUEUED"
    RECORDED = "RECORDED"
    UNSUPPORTED = "UNSUPPORTED"
    REFUSED = "REFUSED"


@strawberry.type(description="A judge or clerk of the case's panel who reviews the application.")
class CaseBindingReviewer:
    staff_id: str = strawberry.field(description="The staff member's id at the court.")
    name: str = strawberry.field(description="Their name.")
    role: StaffRole = strawberry.field(description="Their role on the panel.")


@strawberry.type(description="An application to be linked to a case (案件绑定申请), with the power of attorney.")
class CaseBindingApplication(Node):
    court_code: str = strawberry.field(description="The case's court.")
    case_number: str = strawberry.field(description="The case, canonical form.")
    applicant_name: str = strawberry.field(description="Who applied.")
    as_lawyer: bool = strawberry.field(description="True when a lawyer applied (else a party).")
    client_name: str | None = strawberry.field(description="The party the lawyer acts for (委托人).")
    client_on_case: bool | None = strawberry.field(
        description="Reviewers only (null for the applicant): whether exactly one of the case's parties bears the "
        "client's name, as the court listed them when the application came in. The applicant is never told: the "
        "application is stored and answered alike either way, and the panel decides."
    )
    note: str | None = strawberry.field(description="The applicant's note to the panel.")
    power_of_attorney: list[FilingFile] = strawberry.field(
        description="The power of attorney (授权委托书) as uploaded, in order (descriptions, not contents)."
    )
    reviewers: list[CaseBindingReviewer] = strawberry.field(description="The panel members who review it.")
    status: CaseBindingStatus = strawberry.field(description="Where the application stands.")
    applied_at: datetime = strawberry.field(description="When the gateway stored it.")
    due_at: datetime | None = strawberry.field(
        description="When the panel's review falls due: the court's own review target (3 working days by default, "
        "configured per gateway), end of office hours. Not a statutory period: the 三日 of 在线诉讼规则 art. 10 is "
        "the notified participant's time to link the case, not the court's time to review it."
    )
    decided_at: datetime | None = strawberry.field(description="When the panel decided.")
    decided_by_name: str | None = strawberry.field(description="Who decided.")
    decision_note: str | None = strawberry.field(description="The reviewer's note (a rejection's reason).")
    court_write: CourtWriteStatus | None = strawberry.field(
        description="Once approved: entering you at the court's own system."
    )
    recorded_at: datetime | None = strawberry.field(description="When the court's system entered you.")
    last_error: str | None = strawberry.field(description="Why the court has not recorded it (yet).")

    @classmethod
    def from_view(cls, view: service.BindingView) -> CaseBindingApplication:
        return cls(
            id=global_id(TYPE_NAME, view.id),
            court_code=view.court_code,
            case_number=view.case_number,
            applicant_name=view.applicant_name,
            as_lawyer=view.applicant_kind.value == "LICENCE_NUMBER",
            client_name=view.client_name,
            client_on_case=view.client_on_case,
            note=view.note,
            power_of_attorney=[
                FilingFile(name=f.name, content_type=f.content_type, size=f.size, sha256=f.sha256) for f in view.files
            ],
            reviewers=[
                CaseBindingReviewer(staff_id=r.staff_id, name=r.name, role=StaffRole(r.role.value))
                for r in view.reviewers
            ],
            status=CaseBindingStatus(view.status),
            applied_at=china_time(view.applied_at),
            due_at=china_time(view.due_at),
            decided_at=china_time(view.decided_at),
            decided_by_name=view.decided_by_name,
            decision_note=view.decision_note,
            court_write=CourtWriteStatus(view.court_write) if view.court_write else None,
            recorded_at=china_time(view.recorded_at),
            last_error=view.last_error,
        )


@strawberry.type(description="A case binding application in a list.")
class CaseBindingApplicationEdge:
    node: CaseBindingApplication = strawberry.field(description="The application.")
    cursor: str = strawberry.field(description="Opaque position after this application.")


@strawberry.type(description="A page of case binding applications, newest first (Relay connection).")
class CaseBindingApplicationConnection:
    edges: list[CaseBindingApplicationEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many applications the list holds.")


def binding_connection(page: service.BindingPage) -> CaseBindingApplicationConnection:
    return CaseBindingApplicationConnection(
        edges=[
            CaseBindingApplicationEdge(node=CaseBindingApplication.from_view(b), cursor=c)
            for b, c in zip(page.bindings, page.cursors, strict=True)
        ],
        page_info=PageInfo.forward(page.cursors, page.has_next_page),
        total_count=page.total,
    )


def _key(id: strawberry.ID) -> str:
    type_name, key = parse_global_id(id)
    if type_name != TYPE_NAME:
        raise NotFound("no such case binding application")
    return key


@refetchable("CaseBindingApplication")
async def binding_node(info: Info[Context, None], key: str) -> CaseBindingApplication:
    return CaseBindingApplication.from_view(await resolvers.case_binding_application(info, key))


@strawberry.type(description="Case binding: reads.")
class BindingsQuery:
    @strawberry.field(description="Your case binding applications across all courts, newest first.")
    async def my_case_bindings(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> CaseBindingApplicationConnection:
        return binding_connection(await resolvers.my_case_bindings(info, check_first(first), after))

    @strawberry.field(
        description="Judges and clerks: the case binding applications of your panels' cases at your court, newest "
        "first; optionally only those of one status."
    )
    async def case_binding_applications(
        self,
        info: Info[Context, None],
        status: CaseBindingStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> CaseBindingApplicationConnection:
        page = await resolvers.case_binding_applications(
            info, status.value if status else None, check_first(first), after
        )
        return binding_connection(page)

    @strawberry.field(
        description="One case binding application: yours, or one your panel reviews; NOT_FOUND for anyone else."
    )
    async def case_binding_application(self, info: Info[Context, None], id: strawberry.ID) -> CaseBindingApplication:
        return CaseBindingApplication.from_view(await resolvers.case_binding_application(info, _key(id)))


@strawberry.type(description="Case binding: writes.")
class BindingsMutation:
    @strawberry.mutation(
        description="Apply to be linked to a case you are not on yet (案件绑定申请), attaching the power of attorney "
        "(授权委托书; GraphQL multipart request spec; PDF, JPEG or PNG, checked by content). Needs a REAL_NAME or "
        "FACE identity. A lawyer names their client (委托人), one of the case's parties. The case's judge and "
        "clerk are told by SMS and review it within 3 working days (whether the client is a party is theirs to "
        "judge: the answer is the same either way). Errors: NOT_FOUND (no such case), INVALID_CASE_NUMBER, "
        "FORBIDDEN (identity level), RATE_LIMITED (too many applications in 24 hours; `extensions.retryAt` and "
        "`retryAfterSeconds` say when to try again), and BAD_USER_INPUT with `extensions.reason`: the uploads' "
        "reasons (NO_FILES, FILE_TYPE, …), ALREADY_ON_CASE, ALREADY_BOUND, DUPLICATE_APPLICATION (one is already "
        "waiting), CLIENT_MISSING, CLIENT_TOO_LONG, FIRM_MISSING, NOTE_TOO_LONG, NO_REVIEWER."
    )
    async def apply_for_case_binding(
        self,
        info: Info[Context, None],
        case_number: Annotated[str, strawberry.argument(description="The case's number, any format.")],
        power_of_attorney: Annotated[
            list[Upload], strawberry.argument(description="The power of attorney's files, in order.")
        ],
        note: Annotated[str | None, strawberry.argument(description="A note to the panel (500 characters).")] = None,
        client_name: Annotated[
            str | None,
            strawberry.argument(description="Lawyers: the party you act for, as the power of attorney names them."),
        ] = None,
        law_firm: Annotated[
            str | None,
            strawberry.argument(
                description="Lawyers: your law firm, as the court records it (default: the one your identity names)."
            ),
        ] = None,
    ) -> CaseBindingApplication:
        view = await resolvers.apply_for_case_binding(
            info,
            case_number,
            power_of_attorney,  # type: ignore[arg-type]
            note,
            client_name,
            law_firm,
        )
        return CaseBindingApplication.from_view(view)

    @strawberry.mutation(
        description="The case's judge or clerk approves or rejects a pending application. Approval puts the case in "
        "the applicant's cases at once and, where the court's system can take it, enters the lawyer there. "
        "Errors: NOT_FOUND (not an application of your panel), BAD_USER_INPUT with `extensions.reason` "
        "ALREADY_DECIDED or NOTE_TOO_LONG."
    )
    async def decide_case_binding(
        self,
        info: Info[Context, None],
        application_id: Annotated[strawberry.ID, strawberry.argument(description="The application's global ID.")],
        approve: Annotated[bool, strawberry.argument(description="True to approve, false to reject.")],
        note: Annotated[
            str | None, strawberry.argument(description="Your note to the applicant (a rejection's reason).")
        ] = None,
    ) -> CaseBindingApplication:
        view = await resolvers.decide_case_binding(info, _key(application_id), approve, note)
        return CaseBindingApplication.from_view(view)
