"""Calendar feeds: a person's hearings and deadlines as iCalendar (RFC 5545), at a secret URL.

A feed is one person's: created (or rotated) by them, or by a client's token with ``calendar:read``, it
stores the SHA-256 of a random token and the person's access claims (never a client's: the feed shows
what the person may see). A feed a client created answers only while the person's grant to that client
still includes ``calendar:read`` (:class:`~gateway.webhooks.grants.Grants`); after that it is a 404
like any other. The URL is ``/calendar/<token>.ics``; rotating replaces the row, so the old
token finds nothing, and an unknown token is answered exactly as a rotated one (404).

What the feed holds, read live from the courts and the store each time it is fetched:

- every hearing of the person's cases at every court (开庭, 询问, 调解, 宣判);
- the appeal period's last day for each served first-instance civil judgment (15 days) and ruling (10
  days), from the document's effective service (``gateway.calendar.appeals``);
- the court's answer deadlines of the person's pending 12368 tickets and case-binding applications
  (the deadline engine's rows, ``gateway.core.deadlines``).

Times are in Asia/Shanghai, with its VTIMEZONE. Event UIDs are stable (the hearing's id, the document's
key, the deadline's id), so a calendar app updates events in place rather than duplicating them. A court
that does not answer leaves its events out of this fetch (the next fetch brings them back).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import and_, delete, or_, select

from gateway.adapters.model import Case, Hearing, ServedDocument
from gateway.calendar.appeals import AppealPeriod, appeal_period, opens_period
from gateway.cases.service import CaseService
from gateway.core.deadlines import calendar_for, china_clock
from gateway.core.errors import NotPermitted
from gateway.core.runtime import Runtime
from gateway.documents.acts import acts_in_cases
from gateway.documents.service import DocumentService, group_copies
from gateway.documents.signing import SigningService, effective_of, group_key
from gateway.identity import Scope, Viewer, viewer_from_claims
from gateway.store import audit
from gateway.store.bindings import BindingRecord
from gateway.store.deadlines import DeadlineRecord
from gateway.store.tickets import TicketRecord
from gateway.store.webhooks import CalendarFeed
from gateway.webhooks.grants import Grants

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODID = "-//Guangzhou courts//court-gateway calendar//ZH"
HEARING_LENGTH = timedelta(hours=2)  # courts announce the start only; a block for the diary
TOKEN_BYTES = 32
MAX_TOKEN = 64
CLIENT_CLAIMS = ("client_id", "scope")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    uid: str
    summary: str
    starts: datetime
    ends: datetime
    description: str
    location: str | None = None


class CalendarService:
    def __init__(
        self,
        runtime: Runtime,
        cases: CaseService,
        documents: DocumentService,
        signing: SigningService,
        grants: Grants,
    ) -> None:
        self.runtime = runtime
        self.grants = grants
        self.cases = cases
        self.documents = documents
        self.signing = signing

    async def rotate(self, viewer: Viewer) -> str:
        """A new secret token for the viewer's feed; any earlier one stops working."""
        if not viewer.person_refs():
            raise NotPermitted("calendar feeds are a party's or a lawyer's own")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        claims = {k: v for k, v in viewer.access_claims().items() if k not in CLIENT_CLAIMS}
        async with self.runtime.store.session() as session:
            await session.execute(delete(CalendarFeed).where(CalendarFeed.subject == viewer.subject))
            await audit.append(
                session,
                actor=viewer.subject,
                action="calendar.rotated",
                subject_type="calendar_feed",
                subject_id=viewer.subject,
                details={"client_id": viewer.client_id} if viewer.client_id else {},
            )
            session.add(
                CalendarFeed(
                    token_hash=token_hash(token),
                    subject=viewer.subject,
                    claims=claims,
                    client_id=viewer.client_id,
                    scopes=None if viewer.scopes is None else sorted(viewer.scopes),
                    created_at=self.runtime.now(),
                )
            )
        return token

    async def feed(self, token: str) -> bytes | None:
        """The feed's iCalendar text; None for a token that names no feed (unknown or rotated)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        async with self.runtime.store.session(read_only=True) as session:
            row = await session.get(CalendarFeed, token_hash(token))
            claims = None if row is None else dict(row.claims)
            client_id = None if row is None else row.client_id
        if claims is None:
            return None
        if client_id is not None:  # a client's feed lives as long as the person's grant of calendar:read
            scopes = await self.grants.active_scopes(client_id, str(claims["sub"]))
            if scopes is None or Scope.CALENDAR_READ.value not in scopes:
                return None
        viewer = viewer_from_claims(claims)
        entries = [*await self._hearings(viewer), *await self._appeals(viewer), *await self._deadlines(viewer)]
        return render(entries, self.runtime.now())

    async def _hearings(self, viewer: Viewer) -> list[Entry]:
        cases = (await self.cases.all_cases_of(viewer)).value
        return [_hearing(case, h) for case in cases for h in case.hearings]

    async def _appeals(self, viewer: Viewer) -> list[Entry]:
        docs = (await self.documents.documents_of(viewer)).value
        groups = [g for g in group_copies(docs) if opens_period(g.primary.doc_type, g.primary.case_number)]
        if not groups:
            return []
        signatures = await self.signing.signatures(group_key(g) for g in groups)
        acts = await acts_in_cases(self.runtime.store, [(g.primary.addressee, g.primary.case_number) for g in groups])
        working = calendar_for(self.runtime.settings)
        entries = []
        for group in groups:
            doc = group.primary
            effective = effective_of(group, signatures.get(group_key(group)), acts[(doc.addressee, doc.case_number)])
            if effective is None:
                continue
            period = appeal_period(doc.doc_type, doc.case_number, effective.at, working)
            if period is not None:
                entries.append(_appeal(doc, group_key(group), period))
        return entries

    async def _deadlines(self, viewer: Viewer) -> list[Entry]:
        tickets = select(TicketRecord.id).where(TicketRecord.requester_subject == viewer.subject)
        bindings = select(BindingRecord.id).where(BindingRecord.applicant_subject == viewer.subject)
        query = select(DeadlineRecord).where(
            DeadlineRecord.settled_at.is_(None),
            or_(
                and_(DeadlineRecord.subject_type == "ticket", DeadlineRecord.subject_id.in_(tickets)),
                and_(DeadlineRecord.subject_type == "binding", DeadlineRecord.subject_id.in_(bindings)),
            ),
        )
        async with self.runtime.store.session(read_only=True) as session:
            rows = list(await session.scalars(query))
        return [_deadline(r) for r in rows]


def _hearing(case: Case, hearing: Hearing) -> Entry:
    starts = hearing.starts_at.astimezone(SHANGHAI)
    return Entry(
        uid=f"hearing-{case.court_code}-{hearing.hearing_id}@court-gateway",
        summary=f"{hearing.kind}：{case.case_number}",
        starts=starts,
        ends=starts + HEARING_LENGTH,
        description=f"{case.case_number}（{case.cause}）{hearing.kind}，{hearing.room}",
        location=hearing.room,
    )


def _appeal(doc: ServedDocument, key: str, period: AppealPeriod) -> Entry:
    last_day = period.last_day
    starts = datetime(last_day.year, last_day.month, last_day.day, tzinfo=SHANGHAI)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return Entry(
        uid=f"appeal-{digest}@court-gateway",
        summary=f"{period.label}届满：{doc.case_number}",
        starts=starts,
        ends=starts + timedelta(days=1),
        description=(
            f"《{doc.title}》于{period.served_on}生效送达；上诉期{period.days}日，至{last_day}届满"
            "（期间最后一日为法定休假日的，顺延至休假日后第一日）。"
        ),
    )


def _deadline(row: DeadlineRecord) -> Entry:
    what = "12368诉求答复期限" if row.subject_type == "ticket" else "案件绑定审核期限"
    about = row.reference or row.case_number or ""
    due = row.due_at.astimezone(SHANGHAI)
    return Entry(
        uid=f"deadline-{row.id}@court-gateway",
        summary=f"{what}：{about}".rstrip("："),
        starts=due,
        ends=due,
        description=f"法院应于{china_clock(row.due_at)}前办结（{row.working_days}个工作日）。",
    )


def render(entries: list[Entry], now: datetime) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "法院日程")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    for entry in sorted(entries, key=lambda e: (e.starts, e.uid)):
        event = icalendar.Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", now)
        event.add("dtstart", entry.starts)
        event.add("dtend", entry.ends)
        event.add("summary", entry.summary)
        event.add("description", entry.description)
        if entry.location:
            event.add("location", entry.location)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
