"""What a case produces over its life, derived on demand from the frozen case and the seed.

Served documents (notices, summonses, judgments, to parties and to their lawyers), copies of some of
them sent through the national unified service platform, and the case file (正卷 and 副卷) with
materials rendered as small real PDFs. Derivation is pure: the same case and seed always give the
same documents, volumes and bytes, so nothing has to be stored for a bench-size world.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import lru_cache

from gateway.adapters.model import (
    CHINA_TZ,
    Case,
    CaseFileVolume,
    CaseStatus,
    Material,
    PartyKind,
    PartyRole,
    PersonRef,
    ServedDocument,
    ServiceChannel,
    VolumeKind,
)

_STARTING_ROLES = frozenset({PartyRole.PLAINTIFF, PartyRole.APPLICANT, PartyRole.APPELLANT})
PLATFORM_SHARE = 0.35
PLATFORM_ID_PREFIX = "NP-"  # the platform numbers its copy after the court's document  # judgments and summonses that also went out through the national platform


def _judgment_title(case: Case) -> tuple[str, str]:
    prefix = {"刑": "刑事", "行": "行政", "执": "执行"}.get(case.type_code[0], "民事")
    if case.type_code.startswith("执") or case.type_code in ("民特", "民督", "财保", "破申", "民申", "行申"):
        return f"{prefix}裁定书", "裁定书"
    return f"{prefix}判决书", "判决书"


def _fingerprint(case: Case, title: str, addressee: str) -> str:
    return hashlib.sha256(f"{case.court_code}|{case.case_number}|{title}|{addressee}".encode()).hexdigest()


def case_documents(seed: int, case: Case, now: datetime) -> tuple[ServedDocument, ...]:
    """Every document the court served in this case up to ``now``, in serving order per addressee.

    Each document's id, times and flags derive from the seed, the case and that document alone (its
    addressee and title), never from what else the case holds: a hearing scheduled or a lawyer entered
    later adds documents and changes none of those already served.
    """
    recipients: list[tuple[str, PersonRef, PartyRole]] = [
        (p.name, PersonRef.party(p.id_number), p.role) for p in case.parties if p.kind == PartyKind.PERSON
    ]
    roles = {p.id_number: p.role for p in case.parties}
    recipients += [
        (a.name, PersonRef.lawyer(a.licence_number), roles.get(a.client_id_number, PartyRole.PLAINTIFF))
        for a in case.agents
    ]
    filed = datetime.combine(case.filed_on, time(10, 0), CHINA_TZ)
    docs: list[ServedDocument] = []
    for name, ref, role in recipients:
        notice = "受理案件通知书" if role in _STARTING_ROLES else "应诉通知书"
        plan: list[tuple[str, str, Callable[[random.Random], datetime]]] = [
            (notice, notice, _after(filed, days=(1, 6), minutes=600))
        ]
        for hearing in case.hearings:
            title = f"传票（{hearing.starts_at:%Y年%m月%d日}{hearing.kind}）"
            plan.append((title, "传票", _before(hearing.starts_at, days=(10, 20))))
        if case.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED) and case.closed_on:
            title, doc_type = _judgment_title(case)
            plan.append((title, doc_type, _after(datetime.combine(case.closed_on, time(15, 0), CHINA_TZ), days=(1, 4))))
        for title, doc_type, when in plan:
            fingerprint = _fingerprint(case, title, ref.number)
            rng = random.Random(f"{seed}:doc:{fingerprint}")
            served_at = when(rng)
            if served_at > now:
                continue
            signed = served_at + timedelta(hours=rng.randrange(1, 72))
            signs = rng.random() < 0.85
            signed_at = signed if signs and now - served_at > timedelta(days=20) else None
            docs.append(
                ServedDocument(
                    document_id=f"{case.case_id}-D{fingerprint[:12]}",
                    source_code=case.court_code,
                    court_code=case.court_code,
                    case_number=case.case_number,
                    title=f"{case.case_number}{title}",
                    doc_type=doc_type,
                    addressee_name=name,
                    addressee=ref,
                    channel=ServiceChannel.COURT_PLATFORM,
                    served_at=served_at,
                    address_confirmed=rng.random() < 0.75,
                    signed_at=signed_at if signed_at is None or signed_at <= now else None,
                    fingerprint=fingerprint,
                )
            )
    return tuple(docs)


def _after(at: datetime, *, days: tuple[int, int], minutes: int = 0) -> Callable[[random.Random], datetime]:
    """A serving time some days (and minutes) after ``at``, drawn from the document's own generator."""

    def when(rng: random.Random) -> datetime:
        later = at + timedelta(days=rng.randrange(*days))
        return later + timedelta(minutes=rng.randrange(minutes)) if minutes else later

    return when


def _before(at: datetime, *, days: tuple[int, int]) -> Callable[[random.Random], datetime]:
    def when(rng: random.Random) -> datetime:
        return at - timedelta(days=rng.randrange(*days))

    return when


def platform_copies(seed: int, platform_code: str, case: Case, now: datetime) -> tuple[ServedDocument, ...]:
    """The documents of this case that also went out through the national platform, unsigned there (each
    copy's presence and time derive from its own document only, as in :func:`case_documents`)."""
    copies = []
    for doc in case_documents(seed, case, now):
        rng = random.Random(f"{seed}:platform:{doc.fingerprint}")
        if doc.doc_type not in ("判决书", "裁定书", "传票") or rng.random() >= PLATFORM_SHARE:
            continue
        served_at = doc.served_at + timedelta(minutes=rng.randrange(-360, 2880))
        if served_at > now:
            continue
        copies.append(
            ServedDocument(
                document_id=f"{PLATFORM_ID_PREFIX}{doc.document_id}",
                source_code=platform_code,
                court_code=doc.court_code,
                case_number=doc.case_number,
                title=doc.title,
                doc_type=doc.doc_type,
                addressee_name=doc.addressee_name,
                addressee=doc.addressee,
                channel=ServiceChannel.NATIONAL_PLATFORM,
                served_at=served_at,
                address_confirmed=True,
                signed_at=None,
                fingerprint=doc.fingerprint,
            )
        )
    return tuple(copies)


def case_volumes(seed: int, case: Case, now: datetime) -> tuple[CaseFileVolume, ...]:
    """正卷 (published unless the case was heard in private) and 副卷 (never published), as of ``now``."""
    rng = random.Random(f"{seed}:volumes:{case.court_code}:{case.case_id}")
    opening = {"刑": "起诉书", "执": "强制执行申请书"}.get(case.type_code[0], "起诉状")
    if case.type_code.endswith("终"):
        opening = "上诉状"
    main = [opening, "证据材料（一）", "受理案件通知书", "送达回证"]
    if rng.random() < 0.5:
        main.insert(2, "证据材料（二）")
    main += [f"庭审笔录（{h.starts_at:%Y年%m月%d日}）" for h in case.hearings if h.starts_at <= now]
    if case.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED):
        main.append(_judgment_title(case)[0])
    internal = ["审理报告"]
    if len(case.panel) > 2:
        internal.append("合议庭评议笔录")
    if rng.random() < 0.05:
        internal.append("审判委员会讨论记录")
    volumes = [
        CaseFileVolume(
            f"{case.case_id}-Z",
            VolumeKind.MAIN,
            "正卷第一册",
            tuple(
                Material(f"{case.case_id}-Z{n:02d}", title, rng.randrange(1, 30), case.public_hearing)
                for n, title in enumerate(main, start=1)
            ),
        ),
        CaseFileVolume(
            f"{case.case_id}-F",
            VolumeKind.INTERNAL,
            "副卷",
            tuple(
                Material(f"{case.case_id}-F{n:02d}", title, rng.randrange(1, 12), False)
                for n, title in enumerate(internal, start=1)
            ),
        ),
    ]
    return tuple(volumes)


@lru_cache(maxsize=1)
def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def material_pdf(court_name: str, case: Case, material: Material) -> bytes:
    """A small, real, byte-for-byte reproducible PDF standing in for a scanned material."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    pdf.setTitle(f"{case.case_number} {material.title}")
    font = _font()
    for page in range(1, min(material.pages, 3) + 1):
        pdf.setFont(font, 16)
        pdf.drawString(72, 770, court_name)
        pdf.setFont(font, 13)
        pdf.drawString(72, 740, f"{case.case_number}  {material.title}")
        pdf.setFont(font, 11)
        pdf.drawString(72, 710, f"案由：{case.cause}    承办部门：{case.division}")
        parties = "、".join(p.name for p in case.parties[:4])
        pdf.drawString(72, 690, f"当事人：{parties}")
        pdf.drawString(72, 670, f"材料编号：{material.material_id}")
        pdf.drawString(500, 40, f"第{page}页")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()
