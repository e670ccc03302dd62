"""The procedural acts the gateway witnessed, as service-time evidence (在线诉讼规则 art. 31 ¶2).

A document that reached an address the person never confirmed takes effect when they reply, sign or act
on it. Signatures are the signing module's; the acts are what the person did in the document's case
through the gateway: a filing (答辩状, 代理词, evidence, an application) they submitted, under their own
account (art. 7), that the court did not refuse. Its time is when the gateway stored it, the moment the
person acted. The rule itself (which acts count for which copy) is ``service_time``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from gateway.adapters.model import IdentityKind, PersonRef
from gateway.documents.service_time import ProceduralAct
from gateway.store import Store
from gateway.store.filings import FilingRecord

#: how the certificate names a filing's kind
FILING_KINDS = {
    "DEFENCE_STATEMENT": "答辩状",
    "AGENT_OPINION": "代理词",
    "EVIDENCE": "补充证据材料",
    "APPLICATION": "申请书",
}
#: a filing the court refused was not an act in the case
REFUSED = "REJECTED"

#: (who, case number): whose acts in which case
ActKey = tuple[PersonRef, str]


async def acts_in_cases(store: Store, keys: Sequence[ActKey]) -> dict[ActKey, list[ProceduralAct]]:
    """Each person's acts in each case, earliest first, in one query (a DataLoader's batch)."""
    found: dict[ActKey, list[ProceduralAct]] = {k: [] for k in keys}
    if not keys:
        return found
    ids = {ref.number for ref, _ in keys if ref.kind == IdentityKind.ID_NUMBER}
    licences = {ref.number for ref, _ in keys if ref.kind == IdentityKind.LICENCE_NUMBER}
    query = (
        select(FilingRecord)
        .where(
            FilingRecord.case_number.in_({number for _, number in keys}),
            FilingRecord.status != REFUSED,
            or_(FilingRecord.filer_id_number.in_(ids), FilingRecord.filer_licence_number.in_(licences)),
        )
        .order_by(FilingRecord.submitted_at, FilingRecord.id)
    )
    async with store.session(read_only=True) as session:
        rows = list(await session.scalars(query))
    for row in rows:
        act = ProceduralAct(
            at=row.submitted_at,
            kind="FILING",
            description=f"提交{FILING_KINDS.get(row.kind, row.kind)}《{row.title}》",
            reference=row.id,
        )
        for ref in (PersonRef.party(row.filer_id_number or ""), PersonRef.lawyer(row.filer_licence_number or "")):
            if (ref, row.case_number) in found:
                found[ref, row.case_number].append(act)
    return found
