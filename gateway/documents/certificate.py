"""电子送达凭证: the service certificate, its facts, its number, its PDF, issued and downloaded.

A certificate states what the gateway can prove about one document served on one person: which court
served it, on which channels it reached them and when, whether they had confirmed each address, when
they signed, and so when service took effect and under which rule (``gateway.documents.service_time``).
The facts are frozen when the certificate is issued and stored with it; the PDF is rendered from them
on each download and sealed by the issuing court (a PDF signature with its stamp, ``gateway.core.pdfsign``)
dated when it was issued: byte for byte the same while the court's certificate is, so a certificate never
changes once issued. New facts (a
signature delivered, a channel that was down now answering) issue a new certificate number.

A download link names a ``certificate_links`` row (random id) and the subject it was issued to, nothing
else: no certificate number, name or ID number travels in a URL. The row keeps who asked; following the
link asks the rule that issued it again for them (:meth:`CertificateService.may_have`), and the download
is audited as theirs.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.adapters.model import CHINA_TZ, IdentityKind, ServiceChannel
from gateway.config import CourtConfig
from gateway.core.access import mask_id_number, staff_scope_covers
from gateway.core.errors import NotPermitted
from gateway.core.links import LinkClaims, SignedLinks
from gateway.core.pdfsign import court_seals_for
from gateway.core.runtime import Runtime
from gateway.documents.service import ServedDocumentGroup
from gateway.documents.service_time import EARLIEST_TEXT, RULE_TEXT, ProceduralAct, ServiceRule, copy_effective
from gateway.documents.signing import (
    CERTIFICATE_STAFF,
    SIGNING_LEVEL,
    addressee_number,
    effective_of,
    group_key,
    with_signature,
)
from gateway.identity import Viewer, viewer_from_claims
from gateway.store import audit
from gateway.store.signatures import CertificateLinkRecord, CertificateRecord, SignatureRecord

#: the kind of file certificate links open (``gateway.core.links``)
LINK_KIND = "service-certificate"

CHANNEL_NAMES = {
    ServiceChannel.COURT_PLATFORM: "法院电子送达平台",
    ServiceChannel.NATIONAL_PLATFORM: "全国法院统一送达平台",
    ServiceChannel.SMS: "手机短信",
    ServiceChannel.EMAIL: "电子邮件",
}
LEVEL_NAMES = {"PHONE": "手机号验证", "REAL_NAME": "实名认证", "FACE": "人脸识别认证"}
METHOD_NAMES = {"ONLINE_CONFIRMATION": "在线确认签收", "E_SEAL": "电子签章签收"}
STATUS_NAMES = {"PENDING": "正在送交法院系统", "DELIVERED": "法院系统已记录", "REJECTED": "法院系统未接受"}


# -- the facts ------------------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.astimezone(CHINA_TZ).isoformat() if value else None


def certificate_facts(
    group: ServedDocumentGroup,
    signature: SignatureRecord | None,
    courts: dict[str, CourtConfig],
    acts: Sequence[ProceduralAct] = (),
) -> dict[str, Any]:
    """Everything a certificate states, as plain JSON (stored with it, and hashed into its digest).
    ``acts``: the person's procedural acts in the case; one that made service effective is named under
    ``effective.act`` (absent otherwise, so earlier certificates' facts are unchanged)."""
    primary = group.primary
    signed = with_signature(group, signature)
    effective = effective_of(group, signature, acts)
    court = courts.get(primary.court_code)
    number_kind = "执业证号" if primary.addressee.kind == IdentityKind.LICENCE_NUMBER else "身份证号码"
    return {
        "court": {"code": primary.court_code, "name": court.name if court else primary.court_code},
        "document": {
            "source_code": primary.source_code,
            "document_id": primary.document_id,
            "title": primary.title,
            "doc_type": primary.doc_type,
            "case_number": primary.case_number,
        },
        "addressee": {
            "name": primary.addressee_name,
            "number_kind": number_kind,
            "masked_number": mask_id_number(primary.addressee.number),
        },
        "channels": [
            {
                "channel": c.channel.value,
                "source_code": c.source_code,
                "source_name": courts[c.source_code].name if c.source_code in courts else c.source_code,
                "served_at": _time(c.served_at),
                "address_confirmed": c.address_confirmed,
                "signed_at": _time(c.signed_at),
                "effective_at": _time(e.at) if (e := copy_effective(c, acts)) else None,
            }
            for c in signed.copies
        ],
        "signature": None
        if signature is None
        else {
            "signer_name": signature.signer_name,
            "identity_level": signature.identity_level,
            "method": signature.method,
            "signed_at": _time(signature.signed_at),
            "status": signature.status,
            "court_signed_at": _time(signature.court_signed_at),
        },
        "effective": None
        if effective is None
        else {
            "at": _time(effective.at),
            "channel": effective.channel.value,
            "source_code": effective.source_code,
            "rule": effective.rule.value,
        }
        | ({} if effective.act is None else {"act": _act(effective.act)}),
    }


def _act(act: ProceduralAct) -> dict[str, Any]:
    """The act that made service effective, as the certificate states it."""
    return {
        "kind": act.kind,
        "description": act.description,
        "at": _time(act.at),
        "reference": act.reference,
        "text": f"受送达人于{_shown(_time(act.at))}{act.description}，视为已收悉该文书",
    }


def facts_digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def certificate_number(court_code: str, issued_at: datetime, digest: str) -> str:
    """``DZSD0104-20261122-3F9A0C1B2D7E``: the court, the day of issue, and the facts' digest."""
    digits = "".join(ch for ch in court_code if ch.isdigit()) or "00"
    return f"DZSD{digits}-{issued_at.astimezone(CHINA_TZ):%Y%m%d}-{digest[:12].upper()}"


# -- the PDF --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _font() -> str:
    """reportlab's built-in CID font for Chinese (no font file to ship)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _shown(value: str | None) -> str:
    """An ISO time as court documents print it: 2026年11月22日 14:03:05 (Beijing time)."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value).astimezone(CHINA_TZ)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M:%S}"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break CJK text by width, character by character (it has no spaces to break at)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for ch in text:
        if line and stringWidth(line + ch, font, size) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def render_certificate(facts: dict[str, Any], number: str, issued_at: datetime) -> bytes:
    """The certificate as an A4 PDF; the same facts, number and time always give the same bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    pdf.setTitle(f"电子送达凭证 {number}")
    width, height = A4
    left, right = 56.0, width - 56.0
    y = height - 72.0

    def line(text: str, size: float = 10.5, indent: float = 0.0, gap: float = 5.0) -> None:
        nonlocal y
        for part in _wrap(text, font, size, right - left - indent):
            if y < 60:
                pdf.showPage()
                y = height - 72.0
            pdf.setFont(font, size)
            pdf.drawString(left + indent, y, part)
            y -= size + gap

    pdf.setFont(font, 20)
    pdf.drawCentredString(width / 2, y, "电子送达凭证")
    y -= 34
    line(f"凭证编号：{number}")
    line(f"生成时间：{_shown(_time(issued_at))}", gap=12)

    document, addressee = facts["document"], facts["addressee"]
    line("一、送达法院", 12)
    line(f"{facts['court']['name']}（{facts['court']['code']}）", indent=14, gap=10)
    line("二、送达文书", 12)
    line(f"文书名称：{document['title']}", indent=14)
    line(f"案号：{document['case_number']}", indent=14)
    line(f"文书类型：{document['doc_type']}", indent=14)
    line(f"文书编号：{document['source_code']} {document['document_id']}", indent=14, gap=10)
    line("三、受送达人", 12)
    line(f"姓名：{addressee['name']}", indent=14)
    line(f"{addressee['number_kind']}：{addressee['masked_number']}", indent=14, gap=10)

    line("四、送达渠道", 12)
    for i, c in enumerate(facts["channels"], 1):
        name = CHANNEL_NAMES.get(ServiceChannel(c["channel"]), c["channel"])
        line(f"{i}. {name}（发送方：{c['source_name']}）", indent=14)
        line(f"到达受送达人电子地址时间：{_shown(c['served_at'])}", indent=28)
        line(f"受送达人已确认该电子地址：{'是' if c['address_confirmed'] else '否'}", indent=28)
        line(f"签收时间：{_shown(c['signed_at'])}", indent=28)
        line(f"本渠道送达生效时间：{_shown(c['effective_at']) if c['effective_at'] else '尚未生效'}", indent=28, gap=8)

    if facts["signature"]:
        s = facts["signature"]
        line("五、签收记录", 12)
        line(f"签收人：{s['signer_name']}（{LEVEL_NAMES.get(s['identity_level'], s['identity_level'])}）", indent=14)
        line(f"签收方式：{METHOD_NAMES.get(s['method'], s['method'])}", indent=14)
        line(f"签收时间：{_shown(s['signed_at'])}", indent=14)
        recorded = f"，法院系统记录签收时间：{_shown(s['court_signed_at'])}" if s["court_signed_at"] else ""
        line(f"送交状态：{STATUS_NAMES.get(s['status'], s['status'])}{recorded}", indent=14, gap=10)

    line("六、送达生效" if facts["signature"] else "五、送达生效", 12)
    effective = facts["effective"]
    if effective:
        name = CHANNEL_NAMES.get(ServiceChannel(effective["channel"]), effective["channel"])
        line(f"送达生效时间：{_shown(effective['at'])}", indent=14)
        line(f"生效渠道：{name}", indent=14)
        line(f"适用规则：{RULE_TEXT[ServiceRule(effective['rule'])]}。", indent=14)
    else:
        line("送达生效时间：尚未生效（受送达人未确认电子地址，且尚未签收或作出相应诉讼行为）", indent=14)
    if len(facts["channels"]) > 1:
        line(f"{EARLIEST_TEXT}。", indent=14)
    y -= 10
    line("本凭证由广州法院在线诉讼服务平台根据各送达渠道的记录生成，时间均为北京时间。", 9)
    line(f"凭证校验码：{facts_digest(facts)}", 9)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


# -- issuing and downloading --------------------------------------------------------------------------


class CertificateAccessLost(NotPermitted):
    """The link's subject may no longer have the certificate (no longer in the case's staff scope)."""


class CertificateService:
    """Issues certificates (stored, numbered), hands out signed links, and opens them for download, asking
    the court again about staff (``runtime.registry``); links run on ``runtime.now`` (tests move it)."""

    def __init__(self, runtime: Runtime, *, links: SignedLinks | None = None) -> None:
        self.runtime = runtime
        self.store = runtime.store
        settings = runtime.settings
        self.seals = court_seals_for(settings)
        self.links = links or SignedLinks(
            settings.download_secret, ttl_s=settings.download_link_ttl_s, clock=lambda: runtime.now().timestamp()
        )

    async def issue(self, subject: str, group: ServedDocumentGroup, facts: dict[str, Any]) -> CertificateRecord:
        """The certificate of these facts: the one issued before for the same facts, or a new one."""
        key, digest = group_key(group), facts_digest(facts)
        found = await self._find(key, digest)
        if found is not None:
            return found
        now = self.runtime.now()
        record = CertificateRecord(
            number=certificate_number(group.primary.court_code, now, digest),
            group_key=key,
            court_code=group.primary.court_code,
            case_number=group.primary.case_number,
            digest=digest,
            facts=facts,
            issued_at=now,
            issued_to=subject,
        )
        try:
            async with self.store.session() as session:
                session.add(record)
                await session.flush()
                await audit.append(
                    session,
                    actor=subject,
                    action="certificate.issued",
                    subject_type="service_certificate",
                    subject_id=record.number,
                    court_code=record.court_code,
                    details={"document": group_key(group), "case_number": record.case_number},
                )
        except IntegrityError:  # issued concurrently for the same facts
            found = await self._find(key, digest)
            assert found is not None
            return found
        return record

    async def _find(self, key: str, digest: str) -> CertificateRecord | None:
        async with self.store.session(read_only=True) as session:
            query = select(CertificateRecord).where(
                CertificateRecord.group_key == key, CertificateRecord.digest == digest
            )
            return (await session.execute(query)).scalar_one_or_none()

    async def link(self, record: CertificateRecord, viewer: Viewer) -> tuple[str, datetime]:
        """A signed token for ``viewer`` to download ``record``, and when it expires; the link's row keeps who
        asked, so the download can ask again."""
        link_id = secrets.token_hex(16)
        token, expires_at = self.links.issue(LINK_KIND, link_id, viewer.subject)
        async with self.store.session() as session:
            session.add(
                CertificateLinkRecord(
                    id=link_id,
                    certificate_number=record.number,
                    subject=viewer.subject,
                    identity=viewer.access_claims(),
                    issued_at=self.runtime.now(),
                    expires_at=expires_at,
                )
            )
        return token, expires_at

    async def may_have(self, viewer: Viewer, record: CertificateRecord) -> bool:
        """The rule ``serviceCertificate`` issues links under: the person served, with a verified identity;
        or a clerk, judge, division head or court leader of the issuing court whose scope covers the case
        (asked of the court now: a panel changes). Raises CourtError when the court cannot say."""
        if viewer.is_staff:
            registry = self.runtime.registry
            if not viewer.roles & CERTIFICATE_STAFF or record.court_code not in registry:
                return False
            case = await registry[record.court_code].find_case(record.case_number)
            return case is not None and staff_scope_covers(viewer, case)
        served = addressee_number(record.group_key)
        return viewer.level.at_least(SIGNING_LEVEL) and any(r.number == served for r in viewer.person_refs())

    def sealed_pdf(self, record: CertificateRecord) -> bytes:
        """The certificate rendered and sealed by its court, dated when it was issued: byte for byte the same
        on every download (CPU work: run it in a thread)."""
        rendered = render_certificate(record.facts, record.number, record.issued_at)
        sealed, _ = self.seals.sign(
            rendered, court_code=record.court_code, signed_at=record.issued_at, reason=f"电子送达凭证 {record.number}"
        )
        return sealed

    async def download(self, claims: LinkClaims) -> tuple[CertificateRecord, bytes] | None:
        """The certificate a verified link names, rendered, with the download audited as the link's subject;
        None if the link or the certificate is unknown. Raises CertificateAccessLost when its subject may no
        longer have it, and CourtError when the court cannot say."""
        async with self.store.session(read_only=True) as session:
            link = await session.get(CertificateLinkRecord, claims.key)
            record = (
                await session.scalar(
                    select(CertificateRecord).where(CertificateRecord.number == link.certificate_number)
                )
                if link is not None
                else None
            )
        if link is None or record is None or link.subject != claims.subject:
            return None
        if not await self.may_have(viewer_from_claims(link.identity), record):
            raise CertificateAccessLost("you may no longer download this certificate")
        _font()  # registered before the worker thread draws (reportlab's registry is process-global)
        pdf = await asyncio.to_thread(self.sealed_pdf, record)
        async with self.store.session() as session:
            await audit.append(
                session,
                actor=link.subject,
                action="certificate.downloaded",
                subject_type="service_certificate",
                subject_id=record.number,
                court_code=record.court_code,
                details={"case_number": record.case_number, "link_expires_at": claims.expires_at.isoformat()},
            )
        return record, pdf
