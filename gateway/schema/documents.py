"""Documents served to the viewer (电子送达), one entry per document whatever the channels."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from gateway.adapters import model
from gateway.context import Context
from gateway.documents.service import ServedDocumentGroup
from gateway.schema.common import Node, PageInfo, global_id, mirror_enum

if TYPE_CHECKING:
    from gateway.schema.signing import DocumentSignature, ServiceRule

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
        from gateway.resolvers.signing import effective_service_of

        effective = await effective_service_of(info, self.group)
        return effective.at if effective else None

    @strawberry.field(description="The channel whose copy made service effective; null while none has.")
    async def effective_channel(self, info: Info[Context, None]) -> ServiceChannel | None:  # type: ignore[valid-type]
        from gateway.resolvers.signing import effective_service_of

        effective = await effective_service_of(info, self.group)
        return ServiceChannel(effective.channel.value) if effective else None

    @strawberry.field(description="The rule that made service effective; null while none has.")
    async def effective_rule(
        self, info: Info[Context, None]
    ) -> Annotated[ServiceRule, strawberry.lazy("gateway.schema.signing")] | None:  # type: ignore[valid-type]
        from gateway.resolvers.signing import effective_service_of
        from gateway.schema.signing import ServiceRule

        effective = await effective_service_of(info, self.group)
        return ServiceRule(effective.rule.value) if effective else None

    @strawberry.field(description="Your signature made through the gateway, and its delivery to the court.")
    async def signature(
        self, info: Info[Context, None]
    ) -> Annotated[DocumentSignature, strawberry.lazy("gateway.schema.signing")] | None:
        from gateway.resolvers.signing import signature_of
        from gateway.schema.signing import DocumentSignature

        record = await signature_of(info, self.group)
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
