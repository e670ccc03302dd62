"""Case-file reading (电子阅卷): archive applications, material downloads and seal checks, contributed to the
schema as Query and Mutation fields."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from gateway.adapters import model
from gateway.archive import service
from gateway.context import Context
from gateway.core import seal
from gateway.errors import NotFound
from gateway.resolvers import archive as resolvers
from gateway.schema.cases import CaseFileVolume, CaseStatus, Material, VolumeKind
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

ArchiveApplicationStatus = mirror_enum(
    service.ApplicationStatus,
    "ArchiveApplicationStatus",
    "PENDING (waiting for the archive office), APPROVED (a reading window was opened), REJECTED.",
)
CaseFileAccess = mirror_enum(
    service.Access,
    "CaseFileAccess",
    "How a case file is read: STAFF (the court's own staff: both volumes), DIRECT (a party or agent of record "
    "of a case not archived: the 正卷's published materials), WINDOW (an approved application's reading window: "
    "the same materials, until the window closes).",
)
SealProblem = mirror_enum(
    seal.SealProblem,
    "SealProblem",
    "Why a seal does not verify: UNSEALED (no seal), MALFORMED (unreadable seal), UNKNOWN_KEY (not our key), "
    "TAMPERED (the file changed after sealing), BAD_SIGNATURE (the seal itself was altered or forged).",
)
SealForm = mirror_enum(
    seal.SealForm,
    "SealForm",
    "Which seal a file carries: PDF_SIGNATURE (the court's PDF signature, PAdES, which PDF readers check too) or "
    "LEGACY_ED25519 (the earlier seal line after %%EOF, still verified for files delivered before).",
)


@strawberry.enum(description="How the courts know an applicant.")
class ApplicantKind(Enum):
    PARTY = "PARTY"
    LAWYER = "LAWYER"


def case_file_volumes(volumes: list[model.CaseFileVolume]) -> list[CaseFileVolume]:
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


@strawberry.type(description="A file attached to an archive application, as stored.")
class ArchiveApplicationFile:
    name: str = strawberry.field(description="The file name as uploaded (without any directory).")
    content_type: str = strawberry.field(description="application/pdf, image/jpeg or image/png, read from the content.")
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the content, hex.")


@strawberry.type(
    description="An application to read a case file (查阅档案申请): an archived case, or a case the lawyer is not "
    "of record in. The court's archive office decides it within 2 working days; an approval opens a reading "
    "window (72 hours by default) for the applicant alone."
)
class ArchiveApplication(Node):
    case_number: str = strawberry.field(description="The case, canonical form.")
    court_code: str = strawberry.field(description="The case's court, whose archive office decides.")
    case_status: CaseStatus = strawberry.field(description="The case's status when the application was made.")
    applicant_name: str = strawberry.field(description="Who applied.")
    applicant_kind: ApplicantKind = strawberry.field(description="A party (by ID number) or a lawyer (by licence).")
    applicant_number: str = strawberry.field(
        description="The applicant's ID number (parties) or licence number (lawyers); only the applicant and "
        "the archive office see applications."
    )
    of_record: bool = strawberry.field(description="Whether the applicant was a party or agent of record.")
    reason: str = strawberry.field(description="Why the applicant wants to read the file.")
    attachments: list[ArchiveApplicationFile] = strawberry.field(
        description="Files attached (power of attorney, licence …)."
    )
    status: ArchiveApplicationStatus = strawberry.field(description="Where the application stands.")  # type: ignore[valid-type]
    submitted_at: datetime = strawberry.field(description="When the gateway stored it.")
    due_at: datetime = strawberry.field(description="When the archive office's decision is due (working days).")
    decided_at: datetime | None = strawberry.field(description="When it was decided.")
    decided_by_name: str | None = strawberry.field(description="The archive administrator who decided.")
    decision_note: str | None = strawberry.field(description="The archive office's note (the reason, for a rejection).")
    window_opens_at: datetime | None = strawberry.field(description="An approval: when the reading window opened.")
    window_closes_at: datetime | None = strawberry.field(description="An approval: when the reading window closes.")
    _view: strawberry.Private[service.ApplicationView]

    @classmethod
    def from_view(cls, view: service.ApplicationView) -> ArchiveApplication:
        return cls(
            id=global_id("ArchiveApplication", view.id),
            case_number=view.case_number,
            court_code=view.court_code,
            case_status=CaseStatus(view.case_status.value),
            applicant_name=view.applicant_name,
            applicant_kind=ApplicantKind.LAWYER
            if view.applicant_kind == model.IdentityKind.LICENCE_NUMBER
            else ApplicantKind.PARTY,
            applicant_number=view.applicant_number,
            of_record=view.of_record,
            reason=view.reason,
            attachments=[
                ArchiveApplicationFile(name=a.name, content_type=a.content_type, size=a.size, sha256=a.sha256)
                for a in view.attachments
            ],
            status=ArchiveApplicationStatus(view.status.value),
            submitted_at=china_time(view.submitted_at),
            due_at=china_time(view.due_at),
            decided_at=china_time(view.decided_at),
            decided_by_name=view.decided_by_name,
            decision_note=view.decision_note,
            window_opens_at=china_time(view.window_opens_at),
            window_closes_at=china_time(view.window_closes_at),
            _view=view,
        )

    @strawberry.field(description="Whether the reading window is open now: the applicant may read the file.")
    def window_open(self, info: Info[Context, None]) -> bool:
        return self._view.window_open(info.context.services.clock())

    @strawberry.field(
        description="The case file you may read through this application: the 正卷's published materials while "
        "the window is open (staff of the court: everything). Null until approved and after a rejection; "
        "ACCESS_WINDOW_CLOSED once the window has closed. Every listing is audited."
    )
    async def case_file(self, info: Info[Context, None]) -> list[CaseFileVolume] | None:
        volumes = await resolvers.application_case_file(info, self._view)
        return None if volumes is None else case_file_volumes(volumes)


@strawberry.type(description="An archive application in a list.")
class ArchiveApplicationEdge:
    node: ArchiveApplication = strawberry.field(description="The application.")
    cursor: str = strawberry.field(description="Opaque position after this application.")


@strawberry.type(description="A page of archive applications (Relay connection).")
class ArchiveApplicationConnection:
    edges: list[ArchiveApplicationEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many applications the list holds.")


def application_connection(page: service.ApplicationPage) -> ArchiveApplicationConnection:
    return ArchiveApplicationConnection(
        edges=[
            ArchiveApplicationEdge(node=ArchiveApplication.from_view(a), cursor=c)
            for a, c in zip(page.applications, page.cursors, strict=True)
        ],
        page_info=PageInfo.forward(page.cursors, page.has_next_page),
        total_count=page.total,
    )


@strawberry.type(description="A short-lived link to download one case-file material, issued to you alone.")
class MaterialDownload:
    url: str = strawberry.field(
        description="GET it (no token needed) for the PDF: every page watermarked with your name, masked ID "
        "number, the time and the trace ID, and the file sealed (check it with `verifyDocumentSeal` or "
        "`court-gateway seal verify`). 410 once expired, 403 when forged or when your reading window has closed."
    )
    expires_at: datetime = strawberry.field(description="When the link stops working.")
    trace_id: str = strawberry.field(description="Printed on every page and carried by the seal; in the audit log.")
    case_number: str = strawberry.field(description="The case.")
    material: Material = strawberry.field(description="The material.")
    access: CaseFileAccess = strawberry.field(description="Under which access it was issued.")  # type: ignore[valid-type]


@strawberry.type(description="What checking a file's integrity seal found.")
class SealVerification:
    valid: bool = strawberry.field(description="True: the file is byte for byte as the gateway delivered it.")
    problem: SealProblem | None = strawberry.field(description="Why not, when not valid.")  # type: ignore[valid-type]
    reason: str = strawberry.field(description="The finding, in words.")
    trace_id: str | None = strawberry.field(description="The seal's trace ID (also printed on every page).")
    sealed_at: datetime | None = strawberry.field(description="When the file was sealed (delivered).")
    key_id: str | None = strawberry.field(
        description="The sealing key's ID (of a PDF signature: the signing certificate's SHA-256)."
    )
    sha256: str | None = strawberry.field(description="SHA-256 of the sealed bytes, as the seal states it.")
    form: SealForm | None = strawberry.field(description="Which seal the file carries, when it carries one.")  # type: ignore[valid-type]
    signer: str | None = strawberry.field(
        description="Who sealed it: the signing certificate's name (the court), for a PDF signature."
    )
    intact: bool | None = strawberry.field(
        description="Whether the bytes the seal covers are unchanged (null when that could not be checked)."
    )

    @classmethod
    def from_check(cls, check: seal.SealCheck) -> SealVerification:
        return cls(
            valid=check.valid,
            problem=SealProblem(check.problem.value) if check.problem else None,
            reason=check.reason,
            trace_id=check.trace_id,
            sealed_at=china_time(check.sealed_at),
            key_id=check.key_id,
            sha256=check.sha256,
            form=SealForm(check.form.value) if check.form else None,
            signer=check.signer,
            intact=check.intact,
        )


def _status(value: object | None) -> service.ApplicationStatus | None:
    return None if value is None else service.ApplicationStatus(value.value)  # type: ignore[attr-defined]


def _application_key(value: strawberry.ID) -> str:
    type_name, key = parse_global_id(value)
    if type_name != "ArchiveApplication":
        raise NotFound("no such archive application")
    return key


@refetchable("ArchiveApplication")
async def archive_application_node(info: Info[Context, None], key: str) -> ArchiveApplication:
    return ArchiveApplication.from_view(await resolvers.archive_application(info, key))


@strawberry.type(description="Case-file reading: reads.")
class ArchiveQuery:
    @strawberry.field(description="Your archive applications (parties and lawyers), newest first.")
    async def my_archive_applications(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        status: Annotated[
            ArchiveApplicationStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only applications in this status."),
        ] = None,
    ) -> ArchiveApplicationConnection:
        page = await resolvers.my_archive_applications(info, check_first(first), after, _status(status))
        return application_connection(page)

    @strawberry.field(
        description="Archive administrators: your court's applications (no other court's), pending ones soonest "
        "due first, decided ones newest first."
    )
    async def archive_applications(
        self,
        info: Info[Context, None],
        status: Annotated[
            ArchiveApplicationStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only applications in this status (e.g. PENDING: the ones to decide)."),
        ] = None,
        first: int = 20,
        after: str | None = None,
    ) -> ArchiveApplicationConnection:
        page = await resolvers.archive_applications(info, _status(status), check_first(first), after)
        return application_connection(page)

    @strawberry.field(description="One archive application: yours, or your court's (archive administrators).")
    async def archive_application(self, info: Info[Context, None], id: strawberry.ID) -> ArchiveApplication:
        return ArchiveApplication.from_view(await resolvers.archive_application(info, _application_key(id)))


@strawberry.type(description="Case-file reading: writes.")
class ArchiveMutation:
    @strawberry.mutation(
        description="Apply to read a case file (查阅档案申请): an archived case of yours, or, for a lawyer, any case "
        "(a retrial being prepared, say; attach the power of attorney and licence). Parties and lawyers with a "
        "REAL_NAME or FACE identity. Attachments by the GraphQL multipart request spec: PDF, JPEG or PNG, checked "
        "by content. The archive office is told and decides within 2 working days. Errors: NOT_FOUND (no such "
        "case, or a party's application for someone else's case), INVALID_CASE_NUMBER, FORBIDDEN (identity "
        "level, role), and BAD_USER_INPUT with `extensions.reason`: REASON_MISSING, REASON_TOO_LONG, NO_FILES, "
        "TOO_MANY_FILES, FILE_TYPE, FILE_EMPTY, FILE_TOO_LARGE, FILES_TOO_LARGE, DIRECT_ACCESS (you may read it "
        "without applying), NOT_ARCHIVED (a lawyer not of record, case not archived: its file is with the panel; "
        "apply to be bound with `applyForCaseBinding`), ALREADY_PENDING, WINDOW_OPEN."
    )
    async def apply_for_archive_access(
        self,
        info: Info[Context, None],
        case_number: Annotated[str, strawberry.argument(description="The case's number, any format.")],
        reason: Annotated[str, strawberry.argument(description="Why you need to read it, up to 1000 characters.")],
        attachments: Annotated[
            list[Upload] | None,
            strawberry.argument(description="Supporting files (required for lawyers not of record)."),
        ] = None,
    ) -> ArchiveApplication:
        view = await resolvers.apply_for_archive_access(info, case_number, reason, list(attachments or []))  # type: ignore[arg-type]
        return ArchiveApplication.from_view(view)

    @strawberry.mutation(
        description="Archive administrators: approve or reject an application of your court (NOT_FOUND for another "
        "court's). An approval opens the applicant's reading window now. The applicant is told by SMS and in-app "
        "notice. BAD_USER_INPUT with `extensions.reason`: NOTE_MISSING (a rejection needs a note), NOTE_TOO_LONG, "
        "ALREADY_DECIDED, NOT_ARCHIVED (an approval of an application made for a case not archived: its panel "
        "decides who reads it)."
    )
    async def decide_archive_access(
        self,
        info: Info[Context, None],
        application_id: Annotated[strawberry.ID, strawberry.argument(description="The ArchiveApplication's ID.")],
        approve: Annotated[bool, strawberry.argument(description="True to approve, false to reject.")],
        note: Annotated[
            str | None, strawberry.argument(description="The reason for a rejection; optional for an approval.")
        ] = None,
    ) -> ArchiveApplication:
        view = await resolvers.decide_archive_access(info, _application_key(application_id), approve, note)
        return ArchiveApplication.from_view(view)

    @strawberry.mutation(
        description="A short-lived link to download one material of a case file you may read now (`caseFile` "
        "lists them): parties and agents of record of a case not archived, an open reading window, or the "
        "court's staff. REAL_NAME or FACE identity. Issuing and downloading are audited. Errors: NOT_FOUND (no "
        "such case or material you may read: 副卷 and unpublished materials are never issued to parties or "
        "lawyers), APPLICATION_REQUIRED (an archived case: apply first), ACCESS_WINDOW_CLOSED, FORBIDDEN "
        "(identity level), INVALID_CASE_NUMBER, COURT_* when the court cannot answer."
    )
    async def download_material(
        self,
        info: Info[Context, None],
        case_number: Annotated[str, strawberry.argument(description="The case's number, any format.")],
        material_id: Annotated[strawberry.ID, strawberry.argument(description="The material's id (`Material.id`).")],
    ) -> MaterialDownload:
        issued, url = await resolvers.download_material(info, case_number, str(material_id))
        m = issued.material
        return MaterialDownload(
            url=url,
            expires_at=china_time(issued.expires_at),
            trace_id=issued.trace_id,
            case_number=issued.case_number,
            material=Material(id=strawberry.ID(m.material_id), title=m.title, pages=m.pages, published=m.published),
            access=CaseFileAccess(issued.access.value),
        )

    @strawberry.mutation(
        description="Check the court seal of a downloaded case-file PDF or service certificate: its PDF signature "
        "against the courts' trust roots (or a seal of the earlier form). GraphQL multipart request spec; any "
        "signed-in user. Nothing is stored. BAD_USER_INPUT (FILE_TOO_LARGE) beyond the upload size limit."
    )
    async def verify_document_seal(
        self,
        info: Info[Context, None],
        file: Annotated[Upload, strawberry.argument(description="The file as received.")],
    ) -> SealVerification:
        return SealVerification.from_check(await resolvers.verify_document_seal(info, file))  # type: ignore[arg-type]
