"""What a court's change events mean for the gateway: filing receipts, service and hearing notices.

Effects are prepared first (any lookup at the court happens here, outside a database transaction),
then applied in one short transaction together with the feed cursor. Notices carry the event's id as
dedupe key, so applying an event twice (two gateway processes, a crash before the cursor was saved)
notifies nobody twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.contract import CourtAdapter
from gateway.adapters.model import Case, ChangeEvent, ChangeKind, PartyKind, PersonRef
from gateway.config import CourtConfig
from gateway.filings.service import mark_handled
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key

log = logging.getLogger("gateway.sync")

Effect = Callable[[AsyncSession], Awaitable[None]]


def people_of(case: Case) -> list[tuple[PersonRef, Recipient]]:
    """Everyone a court notice about the case may go to: natural-person parties and lawyers of record."""
    people = [
        (PersonRef.party(p.id_number), Recipient(p.name, p.phone, person_key(PersonRef.party(p.id_number))))
        for p in case.parties
        if p.kind == PartyKind.PERSON
    ]
    people += [
        (PersonRef.lawyer(a.licence_number), Recipient(a.name, a.phone, person_key(PersonRef.lawyer(a.licence_number))))
        for a in case.agents
    ]
    return people


class FeedSync:
    def __init__(self, courts: dict[str, CourtConfig], *, clock: Callable[[], datetime] | None = None) -> None:
        self.courts = courts
        self.clock = clock or (lambda: datetime.now(UTC))

    async def prepare(self, adapter: CourtAdapter, event: ChangeEvent) -> list[Effect]:
        court = self.courts[event.court_code]
        dedupe = f"event:{event.court_code}:{event.event_id}"
        if event.kind == ChangeKind.FILING_HANDLED and event.filing_receipt_number:
            return [_mark_handled(court, event, self.clock)]
        if event.kind == ChangeKind.DOCUMENT_SERVED and event.document_id:
            case = await adapter.find_case(event.case_number)
            for ref, recipient in people_of(case) if case else []:
                for doc in await adapter.list_documents(ref):
                    if doc.document_id == event.document_id:
                        params = {"title": doc.title.removeprefix(doc.case_number)}
                        return [
                            _notify(
                                NotificationKind.DOCUMENT_SERVED, court, event, [recipient], params, dedupe, self.clock
                            )
                        ]
            return []
        if event.kind == ChangeKind.HEARING_SCHEDULED and event.hearing_id:
            case = await adapter.find_case(event.case_number)
            hearing = next((h for h in case.hearings if h.hearing_id == event.hearing_id), None) if case else None
            if case is None or hearing is None:
                return []
            params = {
                "starts_at": f"{hearing.starts_at:%Y年%m月%d日 %H:%M}",
                "room": hearing.room,
                "kind": hearing.kind,
            }
            recipients = [r for _, r in people_of(case)]
            return [_notify(NotificationKind.HEARING_SCHEDULED, court, event, recipients, params, dedupe, self.clock)]
        return []  # closed, archived, a lawyer entered: the cache generation bump is the whole effect


def _notify(
    kind: NotificationKind,
    court: CourtConfig,
    event: ChangeEvent,
    recipients: list[Recipient],
    params: dict[str, Any],
    dedupe: str,
    clock: Callable[[], datetime],
) -> Effect:
    async def apply(session: AsyncSession) -> None:
        await notify(
            session,
            kind=kind,
            court=court,
            case_number=event.case_number,
            recipients=recipients,
            params=params,
            dedupe_key=dedupe,
            now=clock(),
        )

    return apply


def _mark_handled(court: CourtConfig, event: ChangeEvent, clock: Callable[[], datetime]) -> Effect:
    async def apply(session: AsyncSession) -> None:
        await mark_handled(
            session,
            event.court_code,
            event.filing_receipt_number or "",
            event.result or "",
            event.occurred_at,
            now=clock(),
            court=court,
        )

    return apply
