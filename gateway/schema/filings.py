"""Filings: types and root fields (Query, Mutation, Subscription) contributed to the schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from gateway.adapters import model
from gateway.context import Context
from gateway.errors import NotFound
from gateway.filings import service
from gateway.resolvers import filings as resolvers
from gateway.schema.common import (
    Node,
    PageInfo,
    check_first,
    china_time,
    global_id,
    mirror_enum,
    parse_global_id,
    refetchable,
)

FilingKind = mirror_enum(
    model.FilingKind,
    "FilingKind",
    "What is filed: DEFENCE_STATEMENT 答辩状, AGENT_OPINION 代理词, EVIDENCE 补充证据材料, APPLICATION 申请书.",
)
FilingStatus = mirror_enum(
    service.FilingStatus,
    "FilingStatus",
    "SUBMITTED (stored, being delivered) → DELIVERED (the court gave a receipt) → HANDLED (the panel has "
    "handled it); or REJECTED (the court refused it, or you are not a party or agent of the case).",
)


@strawberry.type(description="One uploaded file of a filing, as stored.")
class FilingFile:
    name: str = strawberry.field(description="The file name as uploaded (without any directory).")
    content_type: str = strawberry.field(description="application/pdf, image/jpeg or image/png, read from the content.")
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the content, hex: what the court received.")


@strawberry.type(description="Materials submitted to a court (网上提交材料) and how far their delivery got.")
class Filing(Node):
    case_number: str = strawberry.field(description="The case filed into, canonical form.")
    court_code: str = strawberry.field(description="The court the filing goes to.")
    kind: FilingKind = strawberry.field(description="What is filed.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="The title given by the filer.")
    files: list[FilingFile] = strawberry.field(description="The files, in upload order.")
    status: FilingStatus = strawberry.field(description="Where the filing is.")  # type: ignore[valid-type]
    submitted_at: datetime = strawberry.field(
        description="When the gateway stored it: the filing time you can rely on."
    )
    delivered_at: datetime | None = strawberry.field(description="When the court received it (the court's time).")
    receipt_number: str | None = strawberry.field(description="The court's receipt number (回执号), once delivered.")
    handled_at: datetime | None = strawberry.field(description="When the panel handled it.")
    result: str | None = strawberry.field(description="What the panel did with it, in the court's words.")
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="While SUBMITTED: when delivery is tried next (it is tried until the court accepts)."
    )
    last_error_code: str | None = strawberry.field(
        description="Why the last attempt failed (COURT_UNAVAILABLE, COURT_TIMEOUT, …) or, when REJECTED, why "
        "(COURT_REJECTED, CASE_NOT_FOUND, NOT_A_PARTY)."
    )
    last_error: str | None = strawberry.field(description="The same, in words.")

    @classmethod
    def from_view(cls, view: service.FilingView) -> Filing:
        return cls(
            id=global_id("Filing", view.id),
            case_number=view.case_number,
            court_code=view.court_code,
            kind=FilingKind(view.kind.value),
            title=view.title,
            files=[
                FilingFile(name=f.name, content_type=f.content_type, size=f.size, sha256=f.sha256) for f in view.files
            ],
            status=FilingStatus(view.status.value),
            submitted_at=china_time(view.submitted_at),
            delivered_at=china_time(view.delivered_at),
            receipt_number=view.receipt_number,
            handled_at=china_time(view.handled_at),
            result=view.result,
            attempts=view.attempts,
            next_attempt_at=china_time(view.next_attempt_at),
            last_error_code=view.last_error_code,
            last_error=view.last_error,
        )


@strawberry.type(description="A filing in a list.")
class FilingEdge:
    node: Filing = strawberry.field(description="The filing.")
    cursor: str = strawberry.field(description="Opaque position after this filing.")


@strawberry.type(description="A page of your filings, newest first (Relay connection).")
class FilingConnection:
    edges: list[FilingEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many filings the list holds.")


def filing_connection(page: service.FilingPage) -> FilingConnection:
    return FilingConnection(
        edges=[FilingEdge(node=Filing.from_view(f), cursor=c) for f, c in zip(page.filings, page.cursors, strict=True)],
        page_info=PageInfo.forward(page.cursors, page.has_next_page),
        total_count=page.total,
    )


@refetchable("Filing")
async def filing_node(info: Info[Context, None], key: str) -> Filing:
    return Filing.from_view(await resolvers.filing(info, key))


@strawberry.type(description="Filings: reads.")
class FilingsQuery:
    @strawberry.field(description="Your filings across all courts, newest first; optionally those of one case.")
    async def my_filings(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        case_number: Annotated[
            str | None, strawberry.argument(description="Only this case's filings (any format of its number).")
        ] = None,
    ) -> FilingConnection:
        return filing_connection(await resolvers.my_filings(info, check_first(first), after, case_number))

    @strawberry.field(description="One of your filings by its ID; NOT_FOUND when it is not yours.")
    async def filing(self, info: Info[Context, None], id: strawberry.ID) -> Filing:
        type_name, key = parse_global_id(id)
        if type_name != "Filing":
            raise NotFound("no such filing of yours")
        return Filing.from_view(await resolvers.filing(info, key))


@strawberry.type(description="Filings: writes.")
class FilingsMutation:
    @strawberry.mutation(
        description="File materials into a case you are a party or agent of (GraphQL multipart request spec). "
        "The filing and its files are stored before this answers (status SUBMITTED), then delivered to the "
        "court until it accepts, exactly once, however long the court is down; the clerk and judge get an SMS "
        "when it arrives, you get one when it is handled. Files: PDF, JPEG or PNG, checked by content; at most "
        "10 files, 20 MB each, 50 MB together (configurable). Errors: NOT_FOUND (no such case of yours), "
        "INVALID_CASE_NUMBER, and BAD_USER_INPUT with `extensions.reason` (NO_FILES, TOO_MANY_FILES, FILE_TYPE, "
        "FILE_EMPTY, FILE_TOO_LARGE, FILES_TOO_LARGE, FILE_NAME_MISSING, FILE_NAME_TOO_LONG, TITLE_MISSING, "
        "TITLE_TOO_LONG, IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_REUSED) and `extensions.file` naming the file. The "
        "same idempotencyKey with the same content answers the same filing again; with other content it is "
        "IDEMPOTENCY_KEY_REUSED. When the case's court cannot be reached, the filing is accepted and your place "
        "in the case is checked before delivery (REJECTED with NOT_A_PARTY if you have none)."
    )
    async def submit_filing(
        self,
        info: Info[Context, None],
        case_number: Annotated[str, strawberry.argument(description="The case's number, any format.")],
        kind: FilingKind,  # type: ignore[valid-type]
        title: Annotated[str, strawberry.argument(description="Title, up to 200 characters.")],
        files: Annotated[list[Upload], strawberry.argument(description="The files, in the order the court gets them.")],
        idempotency_key: Annotated[
            str,
            strawberry.argument(description="Your key for this filing (1 to 128 characters): retry with it safely."),
        ],
    ) -> Filing:
        view = await resolvers.submit_filing(
            info,
            case_number,
            model.FilingKind(kind.value),  # type: ignore[attr-defined]
            title,
            files,  # type: ignore[arg-type]
            idempotency_key,
        )
        return Filing.from_view(view)
