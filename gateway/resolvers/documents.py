"""Served-document resolvers (电子送达): the viewer's documents, signing them, and service certificates with
their download route.

Signing is the person served, with a verified identity (在线诉讼规则 art. 7). A certificate goes to the
person served, or to the staff of the court that issued the document, as a short-lived signed link;
the link's route (``certificate_download``) needs no bearer token, so a browser can follow it, and asks
the same rule again for the link's subject.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info

from gateway.adapters import model
from gateway.adapters.errors import CourtError
from gateway.adapters.model import PersonRef, ServedDocument
from gateway.context import Context
from gateway.core.errors import NotFoundError
from gateway.core.federation import CourtFailure
from gateway.documents.acts import ActKey, acts_in_cases
from gateway.documents.certificate import LINK_KIND, certificate_facts
from gateway.documents.outbox import SignatureOutbox
from gateway.documents.service import DocumentPage, ServedDocumentGroup, group_copies
from gateway.documents.service_time import EffectiveService, ProceduralAct
from gateway.documents.signing import (
    CERTIFICATE_STAFF,
    SIGNING_LEVEL,
    DocumentNotFound,
    effective_of,
    group_key,
)
from gateway.errors import BadUserInput, CourtFailureError, Forbidden, refusal_response
from gateway.identity import Scope
from gateway.schema.common import PERSON_ROLES, parse_global_id
from gateway.services import Services
from gateway.store.signatures import CertificateRecord, SignatureRecord


async def documents_to_sign(info: Info[Context, None], first: int, after: str | None) -> DocumentPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.DOCUMENTS_READ)
    signed_here = context.services.signing.signed_here
    page = await context.services.documents.documents_to_sign(viewer, first=first, after=after, signed_here=signed_here)
    context.report(page.failures, [info.path.key])
    return page


async def served_in_case(info: Info[Context, None], case: model.Case) -> list[ServedDocumentGroup] | None:
    """The viewer's own documents in this case, from its court and the national platforms."""
    context = info.context
    viewer = context.require_viewer(scope=Scope.DOCUMENTS_READ)
    sources = [case.court_code] + [p.court.code for p in context.services.registry.platforms()]
    keys = [(source, ref) for source in sources for ref in viewer.person_refs()]
    found = await context.loader(load_documents).load_many(keys)
    docs = [d for by_case in found for d in by_case.get(case.case_number, ())]
    return group_copies(docs)


async def load_documents(context: Context, keys: list[tuple[str, PersonRef]]) -> list[dict[str, list[ServedDocument]]]:
    """Documents served to a person at a source, by (source code, person) (a per-request DataLoader's batch),
    each source's grouped by case number once, so that each case of a list of many picks out its own
    without reading every document again; a source that cannot answer is reported and gives none."""
    services = context.services
    generations = await services.cache.generations({court for court, _ in keys})

    async def one(court: str, ref: PersonRef) -> dict[str, list[ServedDocument]]:
        try:
            found = await services.documents.documents_at(services.registry[court], ref, generations[court])
        except CourtError as e:
            context.report([CourtFailure.from_error(e)], ["servedDocuments"])
            return {}
        by_case: dict[str, list[ServedDocument]] = {}
        for document in found:
            by_case.setdefault(document.case_number, []).append(document)
        return by_case

    return list(await asyncio.gather(*(one(court, ref) for court, ref in keys)))


DOWNLOAD_PATH = "/downloads/certificates/"


def _document_key(document_id: str) -> tuple[str, str]:
    """``(source code, document id)`` of a ServedDocument's global ID."""
    type_name, key = parse_global_id(document_id)
    source, sep, local_id = key.partition("|")
    if type_name != "ServedDocument" or not sep:
        raise DocumentNotFound("no such document that you may see")
    return source, local_id


# -- signing --------------------------------------------------------------------------------------------


async def sign_document(info: Info[Context, None], document_id: str, method: str) -> SignatureRecord:
    """Store the viewer's signature (the outbox delivers it); FORBIDDEN below REAL_NAME, NOT_FOUND for a
    document not served to them, a COURT_* error when its court cannot say whether it was."""
    context = info.context
    viewer = context.require_viewer(level=SIGNING_LEVEL, roles=PERSON_ROLES)
    source, local_id = _document_key(document_id)
    service = context.services.signing
    group, _ = await service.find_for_person(viewer, source, local_id)
    record = await service.sign(viewer, group, method=method)
    context.services.workers.wake(SignatureOutbox.name)
    return record


async def load_signatures(context: Context, keys: list[str]) -> list[SignatureRecord | None]:
    """The gateway's signatures by document key (a per-request DataLoader's batch)."""
    found = await context.services.signing.signatures(keys)
    return [found.get(k) for k in keys]


async def signature_of(info: Info[Context, None], group: ServedDocumentGroup) -> SignatureRecord | None:
    """The gateway's signature of a document the viewer was served (batched per request)."""
    return await info.context.loader(load_signatures).load(group_key(group))


async def load_acts(context: Context, keys: list[ActKey]) -> list[list[ProceduralAct]]:
    """The served people's procedural acts in their documents' cases (a per-request DataLoader's batch)."""
    found = await acts_in_cases(context.services.store, keys)
    return [found[k] for k in keys]


def act_key(group: ServedDocumentGroup) -> ActKey:
    return (group.primary.addressee, group.primary.case_number)


async def effective_service_of(info: Info[Context, None], group: ServedDocumentGroup) -> EffectiveService | None:
    """Counting the viewer's signature and their acts in the case (在线诉讼规则 art. 31 ¶2), batched."""
    signature, acts = await asyncio.gather(
        signature_of(info, group), info.context.loader(load_acts).load(act_key(group))
    )
    return effective_of(group, signature, acts)


# -- certificates ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCertificate:
    record: CertificateRecord
    url: str
    expires_at: datetime


async def service_certificate(
    info: Info[Context, None], document_id: str, case_number: str | None
) -> IssuedCertificate:
    """The document's certificate and a link to download it: for the person served, or the staff of the
    issuing court (who name the case it was served in)."""
    context = info.context
    viewer = context.require_viewer(level=SIGNING_LEVEL, scope=Scope.DOCUMENTS_READ)
    services = context.services
    source, local_id = _document_key(document_id)
    service = services.signing
    if viewer.is_staff:
        if not viewer.roles & CERTIFICATE_STAFF:
            raise Forbidden("only clerks, judges, division heads and court leaders may download certificates")
        if not case_number:
            raise BadUserInput("staff: give the caseNumber the document was served in", reason="CASE_NUMBER_MISSING")
        number = services.parser.parse(case_number)
        case = None
        if number.court_code == viewer.court_code and number.court_code in services.registry:
            case = await services.registry[number.court_code].find_case(number.text)
        if case is None:
            raise DocumentNotFound("no such document that you may see")
        group, failures = await service.find_for_staff(viewer, case, source, local_id)
    else:
        viewer = context.require_viewer(level=SIGNING_LEVEL, roles=PERSON_ROLES, scope=Scope.DOCUMENTS_READ)
        group, failures = await service.find_for_person(viewer, source, local_id)
    if failures:  # a certificate must show every channel, or its effective time may be wrong
        failure = failures[0]
        reason = f"{failure.court_code} is not answering: a certificate needs every channel's record"
        raise CourtFailureError(failure.code, failure.court_code, reason)
    signature = await service.signature(group_key(group))
    acts = (await acts_in_cases(services.store, [act_key(group)]))[act_key(group)]
    facts = certificate_facts(group, signature, {c.code: c for c in services.settings.courts}, acts)
    certificates = services.certificates
    record = await certificates.issue(viewer.subject, group, facts)
    token, expires_at = await certificates.link(record, viewer)
    return IssuedCertificate(record, f"{services.settings.public_url.rstrip('/')}{DOWNLOAD_PATH}{token}", expires_at)


def certificate_download(services: Services) -> Callable[[Request], Awaitable[Response]]:
    """``GET /downloads/certificates/{token}``: the PDF, for a genuine, unexpired link whose subject may still
    have it; audited as theirs."""
    certificates = services.certificates

    async def download(request: Request) -> Response:
        try:
            found = await certificates.download(certificates.links.verify(LINK_KIND, request.path_params["token"]))
            if found is None:
                raise NotFoundError("no such certificate")
        except Exception as e:
            return refusal_response(e)
        record, pdf = found
        filename = quote(f"电子送达凭证-{record.number}.pdf")
        headers = {
            "Content-Disposition": f"attachment; filename=\"{record.number}.pdf\"; filename*=UTF-8''{filename}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(pdf, media_type="application/pdf", headers=headers)

    return download
