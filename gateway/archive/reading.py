"""Reading case files: which materials a grant shows, the audit of each view, download links, and the
download itself (the court's PDF, watermarked on every page for its reader, then sealed with the court's PDF signature,
``gateway.core.pdfsign``).

A download is authorised when its link is issued, over GraphQL with the reader's token: the link's row
(``material_links``) records who (with their identity claims), what and under which access, and its
``trace_id`` goes on every page and into the seal: the trace id of the request that issued the link when
a trace is active (``gateway.observability.tracing``), so a leaked page leads to the request's logs and
trace; a random one otherwise, or when another link already has it. The link itself carries only the ``trace_id`` and the
subject, never a name or an ID number (``gateway.core.links``). At download time the same rule that issued
the link is asked again for the same reader (:func:`reading_grant`, then :func:`readable`): a case since
archived, a party or agent since removed, a window since closed, a material since withdrawn each refuse
it. Then the material is read from the court, stamped, sealed and counted, and the download audited as
the link's reader, before a byte is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.model import Case, CaseFileVolume, Material, VolumeKind
from gateway.archive.service import Access, ArchiveService, NoSuchCase, ReadingGrant, reading_grant
from gateway.archive.watermark import Watermark, prepare_fonts, watermark
from gateway.bindings.service import approved_bindings
from gateway.core.access import mask_id_number
from gateway.core.errors import NotFoundError, NotPermitted
from gateway.core.links import LinkClaims, SignedLinks
from gateway.core.pdfsign import CourtSeals, court_seals_for, trace_reason
from gateway.core.runtime import Runtime
from gateway.identity import Viewer, viewer_from_claims
from gateway.observability.tracing import current_trace_id
from gateway.store import Store, audit
from gateway.store.archive import MaterialLinkRecord

#: the kind of file material links open (``gateway.core.links``)
LINK_KIND = "casefile-material"


class NoSuchMaterial(NotFoundError):
    """No such material in the case, or not one the grant shows (副卷, unpublished)."""


class LinkGone(NotFoundError):
    """A genuine link whose record is missing (a database restored from before it was issued), or names
    another subject than its record."""


class AccessLost(NotPermitted):
    """The link's reader may no longer read the case or the material (no longer of record, no longer in the
    staff's scope, the case gone or withdrawn from them)."""


def readable(case: Case, volumes: Sequence[CaseFileVolume], grant: ReadingGrant) -> list[CaseFileVolume]:
    """What the grant shows: everything to the court's staff; to everyone else the 正卷's published
    materials only, and nothing of a case heard in private (不公开审理)."""
    if grant.access == Access.STAFF:
        return list(volumes)
    return [
        CaseFileVolume(
            v.volume_id, v.kind, v.title, tuple(m for m in v.materials if m.published and case.public_hearing)
        )
        for v in volumes
        if v.kind == VolumeKind.MAIN
    ]


def find_material(volumes: Sequence[CaseFileVolume], material_id: str) -> Material:
    for volume in volumes:
        for material in volume.materials:
            if material.material_id == material_id:
                return material
    raise NoSuchMaterial("no such material in this case file that you may read")


def reader_number(viewer: Viewer) -> str:
    """What the watermark prints after the reader's name: their ID number masked (else licence, else staff
    number), with its label."""
    if viewer.id_number:
        return f"身份证号 {mask_id_number(viewer.id_number)}"
    if viewer.licence_number:
        return f"执业证号 {mask_id_number(viewer.licence_number)}"
    return f"工号 {viewer.staff_id or viewer.subject}"


def _grant_details(grant: ReadingGrant) -> dict[str, str | None]:
    return {"access": grant.access.value, "application_id": grant.application_id}


async def record_view(
    store: Store, viewer: Viewer, case: Case, grant: ReadingGrant, shown: Sequence[CaseFileVolume]
) -> None:
    """Audit one listing of a case file (``casefile.viewed``): who, which case, under which access, what."""
    async with store.session() as session:
        await audit.append(
            session,
            actor=viewer.subject,
            client_id=viewer.client_id,
            action="casefile.viewed",
            subject_type="case",
            subject_id=case.case_number,
            court_code=case.court_code,
            details={**_grant_details(grant), "materials": [m.material_id for v in shown for m in v.materials]},
        )


@dataclass(frozen=True, slots=True)
class IssuedLink:
    trace_id: str
    token: str
    expires_at: datetime
    material: Material
    case_number: str
    access: Access


@dataclass(frozen=True, slots=True)
class Delivery:
    """A sealed file ready to send."""

    link: MaterialLinkRecord
    content: bytes
    sha256: str
    pages: int
    sealed_at: datetime

    @property
    def filename(self) -> str:
        """案号-材料名.pdf, without characters a file system or a header would trip on."""
        name = f"{self.link.case_number}-{self.link.material_title}.pdf"
        return "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name)


class ReadingService:
    """Links and downloads of case-file materials. ``clock`` is injectable (tests move time); ``archive``
    finds a link's case again when it is followed."""

    def __init__(self, runtime: Runtime, archive: ArchiveService) -> None:
        self.services = runtime
        self.archive = archive
        self.store = runtime.store
        self.clock = runtime.now
        settings = runtime.settings
        self.links = SignedLinks(
            settings.download_secret, ttl_s=settings.download_link_ttl_s, clock=lambda: runtime.now().timestamp()
        )
        self.seals: CourtSeals = court_seals_for(settings)

    async def issue(self, viewer: Viewer, case: Case, grant: ReadingGrant, material: Material) -> IssuedLink:
        """Record a link for ``viewer`` to download ``material`` and audit it (``material.link_issued``)."""
        async with self.store.session() as session:
            trace_id = await _unused_trace_id(session)
            token, expires_at = self.links.issue(LINK_KIND, trace_id, viewer.subject)
            await self._record_link(session, viewer, case, grant, material, trace_id, expires_at)
        return IssuedLink(trace_id, token, expires_at, material, case.case_number, grant.access)

    async def _record_link(
        self,
        session: AsyncSession,
        viewer: Viewer,
        case: Case,
        grant: ReadingGrant,
        material: Material,
        trace_id: str,
        expires_at: datetime,
    ) -> None:
        now = self.clock()
        row = MaterialLinkRecord(
            trace_id=trace_id,
            subject=viewer.subject,
            reader_name=viewer.name,
            reader_number=reader_number(viewer),
            court_code=case.court_code,
            case_number=case.case_number,
            case_id=case.case_id,
            material_id=material.material_id,
            material_title=material.title,
            access=grant.access.value,
            application_id=grant.application_id,
            issued_at=now,
            expires_at=expires_at,
            downloads=0,
            identity=viewer.access_claims(),
        )
        session.add(row)
        await session.flush()
        await audit.append(
            session,
            actor=viewer.subject,
            client_id=viewer.client_id,
            action="material.link_issued",
            subject_type="material",
            subject_id=f"{case.case_number}|{material.material_id}",
            court_code=case.court_code,
            details={
                "access": grant.access.value,
                "application_id": grant.application_id,
                "trace_id": trace_id,
                "title": material.title,
            },
        )

    def verify_link(self, token: str) -> LinkClaims:
        """The link's claims; LinkInvalid or LinkExpired from ``gateway.core.links``."""
        return self.links.verify(LINK_KIND, token)

    async def download(self, claims: LinkClaims) -> Delivery:
        """The material behind a verified link, watermarked for its reader, sealed, counted and audited.

        Raises LinkGone; AccessLost, NeedsApplication or WindowClosed when the reader may no longer have it
        (:meth:`recheck`); CourtError.
        """
        now = self.clock()
        async with self.store.session(read_only=True) as session:
            link = await session.get(MaterialLinkRecord, claims.key)
        if link is None or link.subject != claims.subject or not link.identity:
            raise LinkGone("no such download")
        grant = await self.recheck(link, now)
        content = await self.services.registry[link.court_code].read_material(link.case_id, link.material_id)
        mark = Watermark(link.reader_name, link.reader_number, now, link.trace_id)
        prepare_fonts()
        stamped, pages = await asyncio.to_thread(watermark, content.content, mark)
        sealed, sealed_by = await asyncio.to_thread(
            self.seals.sign,
            stamped,
            court_code=link.court_code,
            signed_at=now,
            reason=trace_reason("电子阅卷", link.trace_id),
        )
        digest = hashlib.sha256(sealed).hexdigest()
        async with self.store.session() as session:
            row = await session.scalar(
                select(MaterialLinkRecord).where(MaterialLinkRecord.trace_id == link.trace_id).with_for_update()
            )
            assert row is not None
            row.downloads += 1
            row.last_downloaded_at = now
            row.last_sha256 = digest
            await audit.append(
                session,
                actor=link.subject,
                action="material.downloaded",
                subject_type="material",
                subject_id=f"{link.case_number}|{link.material_id}",
                court_code=link.court_code,
                details={
                    "access": grant.access.value,
                    "application_id": grant.application_id,
                    "trace_id": link.trace_id,
                    "sha256": digest,
                    "size": len(sealed),
                    "pages": pages,
                    "seal_key": sealed_by.fingerprint,
                    "seal_signer": sealed_by.subject,
                    "sealed_at": now.isoformat(),
                },
            )
        return Delivery(link, sealed, digest, pages, now)

    async def recheck(self, link: MaterialLinkRecord, now: datetime) -> ReadingGrant:
        """The rule that issued ``link``, asked again for its reader at ``now``: how they may read the case
        (directly, through an open window, as staff in scope) and that the material is still among what
        that shows them. Raises AccessLost, NeedsApplication, WindowClosed; CourtError."""
        assert link.identity is not None
        reader = viewer_from_claims(link.identity)
        number = self.services.parser.parse(link.case_number)
        case = await self.archive.find_case(number)
        if case is None or case.case_id != link.case_id:
            raise AccessLost("you may no longer read this material")
        bound = [] if reader.is_staff else await approved_bindings(self.store, reader.subject)
        try:
            grant = await reading_grant(self.store, reader, case, now=now, bound={b.case_number for b in bound})
        except NoSuchCase:
            raise AccessLost("you may no longer read this material") from None
        volumes = await self.services.registry[link.court_code].list_volumes(link.case_id)
        try:
            find_material(readable(case, volumes, grant), link.material_id)
        except NoSuchMaterial:
            raise AccessLost("you may no longer read this material") from None
        return grant


async def _unused_trace_id(session: AsyncSession) -> str:
    """The active trace's id, unless a link already has it (a request that issues two links, a client that
    sends one ``traceparent`` twice): then, as without a trace, a random one."""
    active = current_trace_id()
    if active is not None and await session.get(MaterialLinkRecord, active) is None:
        return active
    return secrets.token_hex(16)
