"""Documents served to the viewer (电子送达), one entry per document whatever the channels; signing them
(文书签收) and their service certificates (电子送达凭证): types and root fields."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.adapters import model
from gateway.context import Context
from gateway.documents import service_time
from gateway.documents.service import ServedDocumentGroup, group_copies
from gateway.errors import NotFound
from gateway.identity import Scope
from gateway.resolvers import documents as resolvers
from gateway.schema.common import Node, PageInfo, check_first, china_time, global_id, mirror_enum, refetchable
from gateway.schema.courts import UnavailableCourt, unavailable_courts
from gateway.schema.viewer import IdentityLevel
from gateway.store.signatures import SignatureRecord

ServiceChannel = mirror_enum(model.ServiceChannel, "ServiceChannel", "Where a document reached the person.")


@strawberry.type(description="One channel a document reached you on.")
class ServiceDelivery:
    channel: ServiceChannel = strawberry.field(description="The court's platform, the national one, SMS …")  # type: ignore[valid-type]
    source_code: str = strawberry.field(description="The court or platform that sent it.")
    served_at: datetime = strawberry.field(description="When it reached your address on this channel.")
    address_confirmed: bool = strawberry.field(description="You gave or confirmed this address.")
    signed_at: datetime | None = strawberry.field(description="When you signed for it on this channel.")


@strawberry.type(description="A document a court served on you (判决书, 传票, 通知书 …).")
class ServedDocument(Node):
    title: str = strawberry.field(description="Title, with the case number.")
    doc_type: str = strawberry.field(description="判决书, 裁定书, 传票, 受理案件通知书 …")
    case_number: str = strawberry.field(description="The case it was served in.")
    court_code: str = strawberry.field(description="The court that issued it.")
    addressee_name: str = strawberry.field(description="Whom it was served on.")
    first_served_at: datetime = strawberry.field(description="When it first reached you on any channel.")
    signed: bool = strawberry.field(description="Signed for on some channel.")
    deliveries: list[ServiceDelivery] = strawberry.field(description="Every channel it reached you on, earliest first.")
    group: strawberry.Private[ServedDocumentGroup]

    @strawberry.field(
        description="When service took effect (在线诉讼规则 art. 29–31): the earliest of its channels' effective "
        "times, counting your signature here at once; null while no channel is effective."
    )
    async def effective_service_at(self, info: Info[Context, None]) -> datetime | None:

        effective = await resolvers.effective_service_of(info, self.group)
        return effective.at if effective else None

    @strawberry.field(description="The channel whose copy made service effective; null while none has.")
    async def effective_channel(self, info: Info[Context, None]) -> ServiceChannel | None:  # type: ignore[valid-type]

        effective = await resolvers.effective_service_of(info, self.group)
        return ServiceChannel(effective.channel.value) if effective else None

    @strawberry.field(description="The rule that made service effective; null while none has.")
    async def effective_rule(self, info: Info[Context, None]) -> ServiceRule | None:  # type: ignore[valid-type]

        effective = await resolvers.effective_service_of(info, self.group)
        return ServiceRule(effective.rule.value) if effective else None

    @strawberry.field(
        description="The procedural act of yours in the case that made service effective (在线诉讼规则 art. 31 ¶2: "
        "on an address you had not confirmed, a filing or other act after it reached you counts as service at "
        "that moment); null when service took effect otherwise (a confirmed address, your signature) or not yet."
    )
    async def effective_by_act(self, info: Info[Context, None]) -> ServiceAct | None:
        effective = await resolvers.effective_service_of(info, self.group)
        act = effective.act if effective else None
        return None if act is None else ServiceAct(kind=act.kind, description=act.description, at=china_time(act.at))

    @strawberry.field(description="Your signature made through the gateway, and its delivery to the court.")
    async def signature(self, info: Info[Context, None]) -> DocumentSignature | None:

        record = await resolvers.signature_of(info, self.group)
        return DocumentSignature.from_record(record) if record else None

    @classmethod
    def from_group(cls, group: ServedDocumentGroup) -> ServedDocument:
        primary = group.primary
        return cls(
            group=group,
            id=global_id("ServedDocument", f"{primary.source_code}|{primary.document_id}"),
            title=primary.title,
            doc_type=primary.doc_type,
            case_number=primary.case_number,
            court_code=primary.court_code,
            addressee_name=primary.addressee_name,
            first_served_at=group.copies[0].served_at,
            signed=group.signed,
            deliveries=[
                ServiceDelivery(
                    channel=ServiceChannel(c.channel.value),
                    source_code=c.source_code,
                    served_at=c.served_at,
                    address_confirmed=c.address_confirmed,
                    signed_at=c.signed_at,
                )
                for c in group.copies
            ],
        )


@strawberry.type(description="A served document in a list.")
class ServedDocumentEdge:
    node: ServedDocument = strawberry.field(description="The document.")
    cursor: str = strawberry.field(description="Opaque position after this document.")


@strawberry.type(description="A page of served documents, newest first (Relay connection).")
class ServedDocumentConnection:
    edges: list[ServedDocumentEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many the list holds (among the courts that answered).")
    unavailable_courts: list[UnavailableCourt] = strawberry.field(
        description="The courts and platforms that did not answer, so their documents are missing from this "
        "list (each is also an error in `errors`); empty when every source answered."
    )


@strawberry.enum(description="How the person signed for a document (在线诉讼规则 art. 29–33).")
class SignatureMethod(Enum):
    ONLINE_CONFIRMATION = strawberry.enum_value("ONLINE_CONFIRMATION", description="Confirmed online (在线确认).")
    E_SEAL = strawberry.enum_value("E_SEAL", description="With an electronic seal (电子签章).")


@strawberry.enum(description="Where a signature's delivery to the serving court or platform stands.")
class SignatureStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Stored; being delivered (retried while the court is down).")
    DELIVERED = strawberry.enum_value("DELIVERED", description="Recorded by the court or platform.")
    REJECTED = strawberry.enum_value("REJECTED", description="Refused by the court or platform; see `lastError`.")


ServiceRule = mirror_enum(
    service_time.ServiceRule,
    "ServiceRule",
    "Which rule made service effective: CONFIRMED_ADDRESS (在线诉讼规则 art. 29, 31 ¶1: reached the system of "
    "an address the person gave or confirmed) or SIGNED_OR_ACTED (art. 31 ¶2: otherwise when they replied, "
    "signed or acted on it).",
)


@strawberry.type(description="Your signature of a served document, stored by the gateway and delivered to the court.")
class DocumentSignature:
    id: strawberry.ID = strawberry.field(description="The gateway's ID of this signature.")
    document_id: strawberry.ID = strawberry.field(description="The ServedDocument copy signed (its global ID).")
    source_code: str = strawberry.field(description="The court or platform the signature is delivered to.")
    channel: ServiceChannel = strawberry.field(description="The channel of the copy signed.")  # type: ignore[valid-type]
    case_number: str = strawberry.field(description="The case the document was served in.")
    signer_name: str = strawberry.field(description="Who signed: the person served.")
    identity_level: IdentityLevel = strawberry.field(description="How strongly the signer was verified.")
    method: SignatureMethod = strawberry.field(description="How they signed.")
    signed_at: datetime = strawberry.field(description="When they signed, as the gateway recorded it.")
    status: SignatureStatus = strawberry.field(description="Delivery to the court: PENDING, DELIVERED or REJECTED.")
    delivered_at: datetime | None = strawberry.field(description="When the court or platform recorded it.")
    court_signed_at: datetime | None = strawberry.field(
        description="The signed time the court recorded (the first signature there wins)."
    )
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed, while PENDING or REJECTED.")

    @classmethod
    def from_record(cls, record: SignatureRecord) -> DocumentSignature:
        return cls(
            id=strawberry.ID(record.id),
            document_id=global_id("ServedDocument", f"{record.source_code}|{record.document_id}"),
            source_code=record.source_code,
            channel=ServiceChannel(record.channel),
            case_number=record.case_number,
            signer_name=record.signer_name,
            identity_level=IdentityLevel(record.identity_level),
            method=SignatureMethod(record.method),
            signed_at=china_time(record.signed_at),
            status=SignatureStatus(record.status),
            delivered_at=china_time(record.delivered_at),
            court_signed_at=china_time(record.court_signed_at),
            attempts=record.attempts,
            last_error=record.last_error if record.status != SignatureStatus.DELIVERED.value else None,
        )


@strawberry.type(
    description="A procedural act of the person served, in the document's case, that made service effective."
)
class ServiceAct:
    kind: str = strawberry.field(description="What kind of act: FILING (a filing submitted through the gateway).")
    description: str = strawberry.field(description="The act as the certificate names it (提交答辩状《…》).")
    at: datetime = strawberry.field(description="When the person acted: the moment service took effect.")


@strawberry.type(description="An electronic service certificate (电子送达凭证) and a link to download it as PDF.")
class ServiceCertificate:
    number: str = strawberry.field(description="Certificate number; the same facts always keep the same number.")
    document_id: strawberry.ID = strawberry.field(description="The ServedDocument it certifies.")
    case_number: str = strawberry.field(description="The case the document was served in.")
    issued_at: datetime = strawberry.field(description="When the certificate was generated.")
    effective_service_at: datetime | None = strawberry.field(
        description="When service took effect, as certified; null while it has not."
    )
    effective_rule: ServiceRule | None = strawberry.field(description="The rule applied.")  # type: ignore[valid-type]
    download_url: str = strawberry.field(
        description="The PDF behind a signed link that needs no token and works for a few minutes; whoever "
        "follows it downloads in your name (audited), so do not pass it on. Relative to the gateway unless it "
        "is configured with a public URL."
    )
    expires_at: datetime = strawberry.field(description="When `downloadUrl` stops working; ask again for a new one.")

    @classmethod
    def from_issued(cls, issued: resolvers.IssuedCertificate) -> ServiceCertificate:
        facts = issued.record.facts
        effective, document = facts.get("effective"), facts["document"]
        return cls(
            number=issued.record.number,
            document_id=global_id("ServedDocument", f"{document['source_code']}|{document['document_id']}"),
            case_number=issued.record.case_number,
            issued_at=china_time(issued.record.issued_at),
            effective_service_at=datetime.fromisoformat(effective["at"]) if effective else None,
            effective_rule=ServiceRule(effective["rule"]) if effective else None,
            download_url=issued.url,
            expires_at=china_time(issued.expires_at),
        )


@refetchable("ServedDocument")
async def served_document_node(info: Info[Context, None], key: str) -> ServedDocument:
    viewer = info.context.require_viewer(scope=Scope.DOCUMENTS_READ)
    found = await info.context.services.documents.documents_of(viewer)
    wanted = global_id("ServedDocument", key)
    document = next((d for d in map(ServedDocument.from_group, group_copies(found.value)) if d.id == wanted), None)
    if document is None:
        raise NotFound("no such object that you may see")
    return document


@strawberry.type
class DocumentsQuery:
    @strawberry.field(
        description="Documents served to you by any court or the national platform that you have not "
        "signed, newest first; a document sent on several channels is listed once."
    )
    async def documents_to_sign(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> ServedDocumentConnection:
        page = await resolvers.documents_to_sign(info, check_first(first), after)
        return ServedDocumentConnection(
            edges=[
                ServedDocumentEdge(node=ServedDocument.from_group(g), cursor=cur)
                for g, cur in zip(page.groups, page.cursors, strict=True)
            ],
            page_info=PageInfo.forward(page.cursors, page.has_next_page),
            total_count=page.total,
            unavailable_courts=unavailable_courts(info, page.failures),
        )


@strawberry.type
class SigningQuery:
    @strawberry.field(
        description="The electronic service certificate (电子送达凭证) of a document served to you, or, for the "
        "staff working on the case (its clerks and judges, its division's head, the court's leaders), of a "
        "document served in `caseNumber`. Needs a REAL_NAME or FACE identity. Every channel's record must be at hand: when a court "
        "or the platform is not answering, the error names it. Downloads are audited."
    )
    async def service_certificate(
        self,
        info: Info[Context, None],
        document_id: Annotated[strawberry.ID, strawberry.argument(description="The ServedDocument's ID.")],
        case_number: Annotated[
            str | None, strawberry.argument(description="Staff: the case the document was served in.")
        ] = None,
    ) -> ServiceCertificate:
        issued = await resolvers.service_certificate(info, document_id, case_number)
        return ServiceCertificate.from_issued(issued)


@strawberry.type
class SigningMutation:
    @strawberry.mutation(
        description="Sign for a document served to you (文书签收): REAL_NAME or FACE identity only (FORBIDDEN "
        "otherwise); NOT_FOUND for a document not served to you. The signature is stored before this answers "
        "(status PENDING) and then delivered to the serving court or platform exactly once, however long it is "
        "down. Signing again returns the first signature."
    )
    async def sign_document(
        self,
        info: Info[Context, None],
        document_id: Annotated[strawberry.ID, strawberry.argument(description="The ServedDocument to sign.")],
        method: Annotated[
            SignatureMethod, strawberry.argument(description="Online confirmation unless you sign with an e-seal.")
        ] = SignatureMethod.ONLINE_CONFIRMATION,
    ) -> DocumentSignature:
        record = await resolvers.sign_document(info, document_id, method.name)
        return DocumentSignature.from_record(record)
