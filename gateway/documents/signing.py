"""Signing served documents (文书签收): find the person's document, store the signature, read it back.

A signature is the person's act (在线诉讼规则 art. 7): it is stored with its audit record in one
transaction before anyone is told it happened, then delivered to the serving court or platform by the
signature outbox (``gateway.documents.outbox``). The gateway's record also counts at once for
the document's effective service time: the person signed then, whenever the court hears of it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.adapters.errors import CourtError
from gateway.adapters.model import CHINA_TZ, Case, PersonRef, ServedDocument
from gateway.core.access import staff_scope_covers
from gateway.core.errors import NotFoundError
from gateway.core.federation import CourtFailure
from gateway.core.runtime import Runtime
from gateway.documents.service import DocumentService, ServedDocumentGroup, group_copies
from gateway.documents.service_time import EffectiveService, ProceduralAct, effective_service
from gateway.identity import IdentityLevel, Role, Viewer
from gateway.store import audit
from gateway.store.signatures import SignatureRecord, SignatureStatus

log = logging.getLogger("gateway.signing")

METHODS = ("ONLINE_CONFIRMATION", "E_SEAL")
#: who signs: a verified identity (art. 7)
SIGNING_LEVEL = IdentityLevel.REAL_NAME
#: court staff who may download the service certificates of the documents in the cases they work on
CERTIFICATE_STAFF = frozenset({Role.CLERK, Role.JUDGE, Role.DIVISION_HEAD, Role.COURT_LEADER})


class DocumentNotFound(NotFoundError):
    """No such document served to this person (or visible to this staff member)."""


def group_key(group: ServedDocumentGroup) -> str:
    """The document as one person received it, on whatever channels answered: what is signed once."""
    first = group.copies[0]
    return f"{first.addressee.number}|{first.fingerprint or first.document_id}"


def addressee_number(key: str) -> str:
    """The ID or licence number of the person a ``group_key`` names (who was served, who signs)."""
    return key.partition("|")[0]


def with_signature(group: ServedDocumentGroup, record: SignatureRecord | None) -> ServedDocumentGroup:
    """The copies with the gateway's signature on the copy it signed, before the court has recorded it.

    A rejected signature counts for nothing; the court's own signed time, once known, wins.
    """
    if record is None or record.status == SignatureStatus.REJECTED:
        return group
    signed_at = (record.court_signed_at or record.signed_at).astimezone(CHINA_TZ)
    copies = tuple(
        replace(c, signed_at=c.signed_at or signed_at)
        if (c.source_code, c.document_id) == (record.source_code, record.document_id)
        else c
        for c in group.copies
    )
    return ServedDocumentGroup(copies)


def effective_of(
    group: ServedDocumentGroup, record: SignatureRecord | None, acts: Sequence[ProceduralAct] = ()
) -> EffectiveService | None:
    """The document's effective service, counting the gateway's own signature and the person's procedural
    acts in the case (``gateway.documents.acts``)."""
    return effective_service(with_signature(group, record).copies, acts)


class SigningService:
    """Finds documents for signing and certificates, and stores signatures."""

    def __init__(self, runtime: Runtime, documents: DocumentService) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.registry = runtime.registry
        self.documents = documents

    # -- finding the document --------------------------------------------------------------------

    async def find_for_person(
        self, viewer: Viewer, source_code: str, document_id: str
    ) -> tuple[ServedDocumentGroup, list[CourtFailure]]:
        """The viewer's document with every copy that could be found; DocumentNotFound when it was not
        served to them; CourtError when its source cannot answer (so nobody can tell)."""
        copy = await self._copy_at(source_code, document_id, viewer.person_refs())
        if copy is None:
            raise DocumentNotFound("no such document that you may see")
        return await self.group_of(copy)

    async def find_for_staff(
        self, viewer: Viewer, case: Case, source_code: str, document_id: str
    ) -> tuple[ServedDocumentGroup, list[CourtFailure]]:
        """A document served in ``case`` (to any party or agent), for the staff who work on the case: its
        panel, its division's head, the court's leaders (the same scope as seeing the case at all)."""
        if not (viewer.roles & CERTIFICATE_STAFF) or not staff_scope_covers(viewer, case):
            raise DocumentNotFound("no such document that you may see")
        refs = [PersonRef.party(p.id_number) for p in case.parties]
        refs += [PersonRef.lawyer(a.licence_number) for a in case.agents]
        copy = await self._copy_at(source_code, document_id, refs)
        if copy is None or copy.case_number != case.case_number or copy.court_code != case.court_code:
            raise DocumentNotFound("no such document that you may see")
        return await self.group_of(copy)

    async def _copy_at(self, source_code: str, document_id: str, refs: Sequence[PersonRef]) -> ServedDocument | None:
        if source_code not in self.registry or not refs:
            return None
        source = self.registry[source_code]
        generation = (await self.documents.cache.generations([source_code]))[source_code]
        found = await asyncio.gather(*(self.documents.documents_at(source, ref, generation) for ref in refs))
        return next((d for docs in found for d in docs if d.document_id == document_id), None)

    async def group_of(self, copy: ServedDocument) -> tuple[ServedDocumentGroup, list[CourtFailure]]:
        """``copy`` with its copies from the issuing court and the national platforms, and which of those
        could not answer (their copies are then missing)."""
        codes = [copy.court_code, *(p.court.code for p in self.registry.platforms())]
        others = [c for c in dict.fromkeys(codes) if c != copy.source_code and c in self.registry]
        generations = await self.documents.cache.generations(others)
        found = await asyncio.gather(
            *(self.documents.documents_at(self.registry[c], copy.addressee, generations[c]) for c in others),
            return_exceptions=True,
        )
        same = (copy.fingerprint or copy.document_id, copy.addressee)
        copies, failures = [copy], []
        for result in found:
            if isinstance(result, CourtError):
                failures.append(CourtFailure.from_error(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                copies += [d for d in result if (d.fingerprint or d.document_id, d.addressee) == same and d != copy]
        return group_copies(copies)[0], failures

    # -- signatures -------------------------------------------------------------------------------

    async def sign(self, viewer: Viewer, group: ServedDocumentGroup, *, method: str) -> SignatureRecord:
        """Store the viewer's signature of ``group`` and its audit record in one transaction; signing a
        document already signed through the gateway returns that signature, whatever ``method`` says."""
        if method not in METHODS:
            raise ValueError(f"unknown signing method {method!r}")
        key = group_key(group)
        existing = await self.signature(key)
        if existing is not None:
            return existing
        try:
            return await self._insert(viewer, group, key, method)
        except IntegrityError:  # signed concurrently (PostgreSQL; SQLite serialises writers): keep the first
            existing = await self.signature(key)
            assert existing is not None
            return existing

    async def _insert(self, viewer: Viewer, group: ServedDocumentGroup, key: str, method: str) -> SignatureRecord:
        primary = group.primary
        now = self.runtime.now()
        record = SignatureRecord(
            id=str(uuid.uuid4()),
            group_key=key,
            source_code=primary.source_code,
            document_id=primary.document_id,
            channel=primary.channel.value,
            court_code=primary.court_code,
            case_number=primary.case_number,
            title=primary.title,
            doc_type=primary.doc_type,
            signer_subject=viewer.subject,
            signer_name=primary.addressee_name,
            signer_kind=primary.addressee.kind.value,
            signer_number=primary.addressee.number,
            signer_phone=viewer.phone,
            identity_level=viewer.level.value,
            method=method,
            signed_at=now,
            status=SignatureStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
        )
        async with self.store.session() as session:
            existing = (
                await session.execute(select(SignatureRecord).where(SignatureRecord.group_key == key))
            ).scalar_one_or_none()
            if existing is not None:
                return existing
            session.add(record)
            await session.flush()
            await audit.append(
                session,
                actor=viewer.subject,
                action="signature.recorded",
                subject_type="signature",
                subject_id=record.id,
                court_code=record.court_code,
                details={
                    "source_code": record.source_code,
                    "document_id": record.document_id,
                    "case_number": record.case_number,
                    "channel": record.channel,
                    "identity_level": record.identity_level,
                    "method": record.method,
                    "signed_at": now.isoformat(),
                },
            )
        log.info("signature %s of %s|%s stored", record.id, record.source_code, record.document_id)
        return record

    async def signature(self, key: str) -> SignatureRecord | None:
        return (await self.signatures([key])).get(key)

    async def signed_here(self, groups: list[ServedDocumentGroup]) -> set[int]:
        """Positions of the groups with a gateway signature that still counts (pending or delivered)."""
        keys = [group_key(g) for g in groups]
        records = await self.signatures(keys)
        return {i for i, key in enumerate(keys) if key in records and records[key].status != SignatureStatus.REJECTED}

    async def signatures(self, keys: Iterable[str]) -> dict[str, SignatureRecord]:
        """The gateway's signatures by group key (a DataLoader's batch function)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        async with self.store.session(read_only=True) as session:
            rows = await session.execute(select(SignatureRecord).where(SignatureRecord.group_key.in_(wanted)))
            return {r.group_key: r for r in rows.scalars()}
