"""Deadlines in working days, and the escalation ladder when they are missed: one engine for every workflow.

A workflow (12368 tickets, case bindings, …) tells the engine what it tracks and forgets about it:

- :func:`track` (in the workflow's own transaction, when the item is created) records who must act and
  by when: ``working_days`` working days on the State Council calendar (调休 included), ending when
  office hours end (``WorkingCalendar.deadline``);
- :func:`settle` (in the transaction that answers, decides or closes the item) stops the clock and records
  how it was settled (:class:`Settlement`): the 通报 counts an item closed without an answer as such,
  never as answered;
- :class:`EscalationScheduler`, a background worker, walks every unsettled deadline: once it is overdue,
  level 1 goes to the head of the answerable division (庭长) by SMS and in-app notice; once it is
  ``escalation_second_working_days`` more working days overdue, level 2 goes to the court's leaders
  (院领导). Nobody is asked to urge themselves: a rung whose recipient is one of the item's handlers
  (a ticket routed to the 立案庭 head) goes to the next rung's people instead. Each step is recorded (``deadline_escalations``, visible on the subject) and audited
  (``<subject_type>.escalated``).

The scheduler is idempotent across rounds and across processes: a level is sent by whichever scheduler
inserts its unique (deadline, level) row, in the same transaction as the texts and the audit record,
and by no other. It knows nothing of the subjects it escalates: the texts take their wording from a
small registry keyed by ``subject_type`` (:func:`register_wording`), and the people from the court's
roster (read before any write transaction opens: never call a court inside one).

Who acts on what is by staff id, as the court's roster knows it; staff ids are unique within a court.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, delete, func, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import CourtError
from gateway.adapters.model import CHINA_TZ, Staff, StaffRole
from gateway.config import CourtConfig, Settings
from gateway.core.roster import court_leaders, division_head
from gateway.core.runtime import Runtime
from gateway.core.schedule_overrides import ScheduleOverrides
from gateway.core.workdays import WorkingCalendar
from gateway.notifications.service import NotificationKind, Recipient, notify, staff_key
from gateway.store import audit
from gateway.store.deadlines import DeadlineHandler, DeadlineRecord, EscalationRecord

log = logging.getLogger("gateway.deadlines")

#: the scheduler's worker name, for ``services.workers.wake``
WORKER_NAME = "escalations"
#: level 1: the division head (庭长); level 2: the court leaders (院领导)
DIVISION_HEAD_LEVEL = 1
COURT_LEADER_LEVEL = 2
TOP_LEVEL = COURT_LEADER_LEVEL


class Settlement(StrEnum):
    """How a deadline was settled (stored in ``deadlines.settlement``)."""

    #: answered (a ticket): the requester got an answer
    ANSWERED = "ANSWERED"
    #: decided (a binding, an application): approved or rejected
    DECIDED = "DECIDED"
    #: closed without an answer: the clock stops, but nothing was done for the requester
    CLOSED_UNANSWERED = "CLOSED_UNANSWERED"


#: settlements that count as the item having been acted on (answered on time or late in the 通报)
ACTED = (Settlement.ANSWERED, Settlement.DECIDED)


# -- what callers get back ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackedDeadline:
    """A tracked item's deadline as stored (a detached copy of its row)."""

    id: str
    subject_type: str
    subject_id: str
    court_code: str
    division: str | None
    #: staff ids, in the order they were named
    handlers: tuple[str, ...]
    started_at: datetime
    due_at: datetime
    working_days: int
    settled_at: datetime | None
    #: the highest escalation level sent so far (0: none)
    escalation_level: int
    case_number: str | None = None
    category: str | None = None
    #: how it was settled (None while pending)
    settlement: Settlement | None = None
    #: a number a person can quote on the phone (a ticket's 12368 number), for the texts
    reference: str | None = None

    def overdue(self, now: datetime) -> bool:
        """Unsettled past its deadline (a settled item is never overdue, however late it was settled)."""
        return self.settled_at is None and now > self.due_at

    def settled_late(self) -> bool:
        return self.settled_at is not None and self.settled_at > self.due_at


@dataclass(frozen=True, slots=True)
class EscalationRecipient:
    staff_id: str
    name: str
    role: StaffRole


@dataclass(frozen=True, slots=True)
class Escalation:
    """One step up the ladder: when, which level, and to whom."""

    level: int
    at: datetime
    recipients: tuple[EscalationRecipient, ...]


# -- tracking ----------------------------------------------------------------------------------------


async def track(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: str,
    court_code: str,
    division: str | None,
    handlers: Sequence[str],
    started_at: datetime,
    working_days: int,
    calendar: WorkingCalendar,
    case_number: str | None = None,
    category: str | None = None,
    reference: str | None = None,
) -> TrackedDeadline:
    """Start the clock on one item, inside the caller's transaction (it exists only if that commits).

    ``subject_type`` names the workflow (``"ticket"``, ``"binding"``, …; it also picks the texts'
    wording, see :func:`register_wording`) and ``subject_id`` the item within it. ``division`` is the
    division answerable for it: its head gets the first escalation (None: the court leaders do).
    ``handlers`` are the staff ids of who must act (they see it in their work queue and the report
    counts it for them). The deadline is the end of office hours on the ``working_days``-th working day
    after ``started_at``, on ``calendar``. ``case_number`` (canonical form) goes into the texts;
    ``category`` refines the subject type for settings and wording (a ticket's category); ``reference``
    is how a person names the item on the phone (a ticket's number), named in the texts too.

    Tracking the same subject twice keeps the first deadline and returns it (a retried request must not
    move a deadline).
    """
    if not subject_type or not subject_id:
        raise ValueError("a deadline needs a subject_type and a subject_id")
    if working_days < 0:
        raise ValueError("working_days cannot be negative")
    if started_at.tzinfo is None:
        raise ValueError("started_at needs a time zone")
    deadline_id = uuid.uuid4().hex
    values: dict[str, Any] = {
        "id": deadline_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "court_code": court_code,
        "division": division,
        "case_number": case_number,
        "category": category,
        "reference": reference,
        "started_at": started_at,
        "due_at": calendar.deadline(started_at, working_days),
        "working_days": working_days,
        "settled_at": None,
        "escalation_level": 0,
    }
    values["next_escalation_at"] = values["due_at"]
    inserted = await session.scalar(
        _insert(session, DeadlineRecord).values(values).on_conflict_do_nothing().returning(DeadlineRecord.id)
    )
    if inserted is not None:
        unique = list(dict.fromkeys(h for h in handlers if h))
        if unique:
            await session.execute(
                _insert(session, DeadlineHandler).values(
                    [{"deadline_id": deadline_id, "staff_id": h, "position": i} for i, h in enumerate(unique)]
                )
            )
    found = await deadline_of(session, subject_type, subject_id)
    assert found is not None  # inserted above, or by whoever tracked it first
    return found


async def settle(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: str,
    at: datetime,
    outcome: Settlement = Settlement.ANSWERED,
) -> None:
    """Stop the clock: the item was answered, decided or closed (``outcome``) at ``at`` (inside the
    caller's transaction).

    Settling twice keeps the first time and outcome; settling an untracked subject does nothing. A settled item is
    never escalated again, and a scheduler that is escalating it concurrently either commits first (the
    escalation stands) or sees it settled and sends nothing.
    """
    await session.execute(
        update(DeadlineRecord)
        .where(
            DeadlineRecord.subject_type == subject_type,
            DeadlineRecord.subject_id == subject_id,
            DeadlineRecord.settled_at.is_(None),
        )
        .values(settled_at=at, settlement=outcome.value, next_escalation_at=None)
        .execution_options(synchronize_session=False)
    )


async def reassign(session: AsyncSession, *, subject_type: str, subject_id: str, handlers: Sequence[str]) -> None:
    """Who must act on the item is now ``handlers`` (a case reassigned to another panel), inside the
    caller's transaction; the deadline itself does not move. Reassigning an untracked subject does nothing."""
    deadline_id = await session.scalar(
        select(DeadlineRecord.id).where(
            DeadlineRecord.subject_type == subject_type, DeadlineRecord.subject_id == subject_id
        )
    )
    if deadline_id is None:
        return
    await session.execute(
        delete(DeadlineHandler)
        .where(DeadlineHandler.deadline_id == deadline_id)
        .execution_options(synchronize_session=False)
    )
    unique = list(dict.fromkeys(h for h in handlers if h))
    if unique:
        await session.execute(
            _insert(session, DeadlineHandler).values(
                [{"deadline_id": deadline_id, "staff_id": h, "position": i} for i, h in enumerate(unique)]
            )
        )


# -- reading ------------------------------------------------------------------------------------------


async def deadline_of(session: AsyncSession, subject_type: str, subject_id: str) -> TrackedDeadline | None:
    return (await deadlines_of(session, subject_type, [subject_id])).get(subject_id)


async def deadlines_of(
    session: AsyncSession, subject_type: str, subject_ids: Sequence[str]
) -> dict[str, TrackedDeadline]:
    """The deadlines of these subjects, by subject id (untracked ones are left out)."""
    if not subject_ids:
        return {}
    rows = list(
        await session.scalars(
            select(DeadlineRecord).where(
                DeadlineRecord.subject_type == subject_type, DeadlineRecord.subject_id.in_(set(subject_ids))
            )
        )
    )
    return {d.subject_id: d for d in await _with_handlers(session, rows)}


async def pending_for(
    session: AsyncSession, *, court_code: str, staff_id: str, subject_type: str | None = None
) -> list[TrackedDeadline]:
    """Unsettled deadlines a staff member of ``court_code`` is a handler of, soonest due first."""
    query = (
        select(DeadlineRecord)
        .join(DeadlineHandler, DeadlineHandler.deadline_id == DeadlineRecord.id)
        .where(
            DeadlineHandler.staff_id == staff_id,
            DeadlineRecord.court_code == court_code,
            DeadlineRecord.settled_at.is_(None),
        )
        .order_by(DeadlineRecord.due_at, DeadlineRecord.started_at)
    )
    if subject_type is not None:
        query = query.where(DeadlineRecord.subject_type == subject_type)
    return await _with_handlers(session, list(await session.scalars(query)))


async def escalations_of(
    session: AsyncSession, subject_type: str, subject_ids: Sequence[str]
) -> dict[str, list[Escalation]]:
    """Each subject's escalations, lowest level first (subjects without any map to an empty list)."""
    found: dict[str, list[Escalation]] = {s: [] for s in subject_ids}
    if not subject_ids:
        return found
    query = (
        select(DeadlineRecord.subject_id, EscalationRecord)
        .join(EscalationRecord, EscalationRecord.deadline_id == DeadlineRecord.id)
        .where(DeadlineRecord.subject_type == subject_type, DeadlineRecord.subject_id.in_(set(subject_ids)))
        .order_by(DeadlineRecord.subject_id, EscalationRecord.level)
    )
    for subject_id, row in await session.execute(query):
        found[subject_id].append(
            Escalation(
                level=row.level,
                at=row.escalated_at,
                recipients=tuple(
                    EscalationRecipient(r["staff_id"], r["name"], StaffRole(r["role"])) for r in row.recipients
                ),
            )
        )
    return found


async def _with_handlers(session: AsyncSession, rows: Sequence[DeadlineRecord]) -> list[TrackedDeadline]:
    handlers: dict[str, list[str]] = {r.id: [] for r in rows}
    if rows:
        query = (
            select(DeadlineHandler.deadline_id, DeadlineHandler.staff_id)
            .where(DeadlineHandler.deadline_id.in_(list(handlers)))
            .order_by(DeadlineHandler.deadline_id, DeadlineHandler.position)
        )
        for deadline_id, staff_id in await session.execute(query):
            handlers[deadline_id].append(staff_id)
    return [_view(r, handlers[r.id]) for r in rows]


def _view(row: DeadlineRecord, handlers: Sequence[str]) -> TrackedDeadline:
    return TrackedDeadline(
        id=row.id,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        court_code=row.court_code,
        division=row.division,
        handlers=tuple(handlers),
        started_at=row.started_at,
        due_at=row.due_at,
        working_days=row.working_days,
        settled_at=row.settled_at,
        escalation_level=row.escalation_level,
        case_number=row.case_number,
        category=row.category,
        settlement=Settlement(row.settlement) if row.settlement else None,
        reference=row.reference,
    )


# -- reports (通报) ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineFigures:
    """How one division's or one handler's items fared: received in the period, and their outcome so far."""

    key: str | None  # the division, or the handler's staff id
    received: int
    #: answered or decided by the deadline, and after it (closed without an answer counts in neither)
    settled_on_time: int
    settled_late: int
    #: never acted on and past due: unsettled at the report's ``now``, or closed without an answer after
    #: the deadline
    overdue: int
    escalated: int
    #: mean wall-clock hours from start to answer or decision, over those; None when there is none
    mean_hours_to_settle: float | None
    #: closed without an answer (whether before or after the deadline)
    closed_unanswered: int = 0


@dataclass(frozen=True, slots=True)
class DeadlineReport:
    by_division: list[DeadlineFigures]
    by_handler: list[DeadlineFigures]
    total: DeadlineFigures


async def report(
    session: AsyncSession,
    *,
    subject_type: str,
    court_code: str,
    start: datetime,
    end: datetime,
    now: datetime,
    division: str | None = None,
) -> DeadlineReport:
    """The 通报 figures of one court's ``subject_type`` items started in ``[start, end)`` (of one
    ``division`` when given), per division and per handler (an item with two handlers counts for each),
    computed by the database: one aggregate query per grouping. Overdue means unsettled past due at
    ``now``."""
    scope = [
        DeadlineRecord.subject_type == subject_type,
        DeadlineRecord.court_code == court_code,
        DeadlineRecord.started_at >= start,
        DeadlineRecord.started_at < end,
    ]
    if division is not None:
        scope.append(DeadlineRecord.division == division)
    figures = _figures(session, now)
    by_division = select(DeadlineRecord.division, *figures).where(*scope).group_by(DeadlineRecord.division)
    by_handler = (
        select(DeadlineHandler.staff_id, *figures)
        .select_from(DeadlineRecord)
        .join(DeadlineHandler, DeadlineHandler.deadline_id == DeadlineRecord.id)
        .where(*scope)
        .group_by(DeadlineHandler.staff_id)
    )
    total = select(null(), *figures).select_from(DeadlineRecord).where(*scope)
    divisions = [_figures_of(r) for r in await session.execute(by_division)]
    handlers = [_figures_of(r) for r in await session.execute(by_handler)]
    overall = _figures_of((await session.execute(total)).one())
    return DeadlineReport(
        by_division=sorted(divisions, key=lambda f: f.key or ""),
        by_handler=sorted(handlers, key=lambda f: f.key or ""),
        total=overall,
    )


async def overdue_counts(
    session: AsyncSession, *, now: datetime, subject_types: Sequence[str]
) -> dict[tuple[str, str], int]:
    """Unsettled deadlines past due at ``now``, per (court code, subject type): what the operators' page
    shows of each court's missed answers. One aggregate query; pairs with none are absent."""
    d = DeadlineRecord
    rows = await session.execute(
        select(d.court_code, d.subject_type, func.count())
        .where(d.settled_at.is_(None), d.due_at < now, d.subject_type.in_(list(subject_types)))
        .group_by(d.court_code, d.subject_type)
    )
    return {(court, subject): count for court, subject, count in rows}


def _figures(session: AsyncSession, now: datetime) -> list[ColumnElement[Any]]:
    d = DeadlineRecord
    acted = and_(d.settled_at.is_not(None), d.settlement.in_([s.value for s in ACTED]))
    dropped = and_(d.settled_at.is_not(None), d.settlement == Settlement.CLOSED_UNANSWERED.value)
    acted_at = case((acted, d.settled_at), else_=None)
    return [
        func.count(),
        func.count().filter(and_(acted, d.settled_at <= d.due_at)),
        func.count().filter(and_(acted, d.settled_at > d.due_at)),
        func.count().filter(or_(and_(d.settled_at.is_(None), d.due_at < now), and_(dropped, d.settled_at > d.due_at))),
        func.count().filter(d.escalation_level > 0),
        func.avg(_seconds_between(session, d.started_at, acted_at)),
        func.count().filter(dropped),
    ]


def _seconds_between(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, NULL when ``end`` is (PostgreSQL intervals; SQLite's stored text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return cast((func.julianday(end) - func.julianday(start)) * 86400.0, Float)


def _figures_of(row: Any) -> DeadlineFigures:
    key, received, on_time, late, overdue, escalated, mean_s, closed_unanswered = row
    return DeadlineFigures(
        key=key,
        received=received,
        settled_on_time=on_time,
        settled_late=late,
        overdue=overdue,
        escalated=escalated,
        mean_hours_to_settle=None if mean_s is None else round(float(mean_s) / 3600, 2),
        closed_unanswered=closed_unanswered,
    )


# -- settings ------------------------------------------------------------------------------------------


@functools.cache
def _calendar(override_file: Path | None) -> WorkingCalendar:
    return WorkingCalendar(overrides=ScheduleOverrides.load(override_file) if override_file else None)


def calendar_for(settings: Settings) -> WorkingCalendar:
    """The courts' working calendar with the operator's override file; one instance per file (read once:
    restart after editing it), so its "no published schedule for year N" warning is logged once per
    process. Raises ScheduleFileError when the configured file is missing or malformed."""
    return _calendar(settings.calendar_override_file)


def configured_days(table: Mapping[str, int], court_code: str, category: str | None, default: int) -> int:
    """A per-court, per-category setting: ``"court:CATEGORY"`` beats ``"CATEGORY"`` beats ``"court"``."""
    keys = [f"{court_code}:{category}", category] if category else []
    for key in [*keys, court_code]:
        if key is not None and key in table:
            return table[key]
    return default


def second_threshold_days(settings: Settings, deadline: TrackedDeadline) -> int:
    """Working days after the deadline at which level 2 (the court leaders) is reached."""
    return configured_days(
        settings.escalation_second_working_days_by,
        deadline.court_code,
        deadline.category or deadline.subject_type,
        settings.escalation_second_working_days,
    )


def levels_due(deadline: TrackedDeadline, now: datetime, calendar: WorkingCalendar, second_days: int) -> list[int]:
    """The escalation levels of ``deadline`` due at ``now`` and not yet sent, lowest first."""
    if deadline.settled_at is not None or now <= deadline.due_at:
        return []
    reached = DIVISION_HEAD_LEVEL
    if now > calendar.deadline(deadline.due_at, second_days):
        reached = COURT_LEADER_LEVEL
    return list(range(deadline.escalation_level + 1, reached + 1))


# -- wording -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectWording:
    """How escalation texts name a subject type: a noun, and labels for its categories."""

    noun: str
    categories: Mapping[str, str] = field(default_factory=dict)
    #: put before the category label: 12368 for tickets (12368催办诉求)
    prefix: str = ""


#: subject_type → wording; a workflow the engine does not know registers its own (:func:`register_wording`)
WORDING: dict[str, SubjectWording] = {
    "ticket": SubjectWording(
        "诉求",
        {
            "CONSULTATION": "咨询",
            "URGE": "催办",
            "CONTACT_JUDGE": "联系法官",
            "COMPLAINT": "投诉",
            "SUGGESTION": "意见建议",
        },
        prefix="12368",
    ),
    "binding": SubjectWording("案件绑定申请"),
    "archive_application": SubjectWording("电子阅卷申请"),
}
FALLBACK_WORDING = SubjectWording("待办事项")


def register_wording(
    subject_type: str, noun: str, categories: Mapping[str, str] | None = None, *, prefix: str = ""
) -> None:
    """Name a workflow's items in escalation texts, e.g. ``register_wording("binding", "案件绑定申请")``."""
    WORDING[subject_type] = SubjectWording(noun, dict(categories or {}), prefix)


def describe(deadline: TrackedDeadline) -> str:
    """The subject as a text names it: （2026）粤0104民初12号的12368催办诉求（编号：12368-粤0104-20261207-0001）."""
    wording = WORDING.get(deadline.subject_type, FALLBACK_WORDING)
    label = wording.categories.get(deadline.category or "", "")
    of_case = f"{deadline.case_number}的" if deadline.case_number else ""
    numbered = f"（编号：{deadline.reference}）" if deadline.reference else ""
    return f"{of_case}{wording.prefix}{label}{wording.noun}{numbered}"


def china_clock(at: datetime) -> str:
    """11月3日17:30, as court texts give times."""
    local = at.astimezone(CHINA_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


# -- the ladder ----------------------------------------------------------------------------------------

#: the court's roster (every staff member, with division, role and phone); raises CourtError when the
#: court cannot say
RosterLookup = Callable[[str], Awaitable[Sequence[Staff]]]


def escalation_targets(roster: Sequence[Staff], deadline: TrackedDeadline, level: int) -> list[Staff]:
    """Level 1: the answerable division's head (the court leaders when it has none, or when the head is
    the one who is late: a handler is never asked to urge themselves); level 2: the court leaders (but
    not one who is a handler, unless nobody else is left)."""
    handlers = set(deadline.handlers)
    if level == DIVISION_HEAD_LEVEL:
        head = division_head(list(roster), deadline.division)
        if head is not None and head.staff_id not in handlers:
            return [head]
        log.warning(
            "%s %s: %s of %r in %s's roster; escalating to the court leaders",
            deadline.subject_type,
            deadline.subject_id,
            "no head" if head is None else "the handler is the head",
            deadline.division,
            deadline.court_code,
        )
    leaders = court_leaders(list(roster))
    return [s for s in leaders if s.staff_id not in handlers] or leaders


class EscalationScheduler:
    """The worker that escalates overdue deadlines (``services.workers``; also ``court-gateway tickets
    escalate``). ``clock`` (default: ``services.clock``, so a test that moves the gateway's "now" moves its
    rounds too), ``roster`` and ``calendar`` are injectable; ``run_once(now)`` runs a round at a simulated time."""

    name = WORKER_NAME

    def __init__(
        self,
        services: Runtime,
        *,
        clock: Callable[[], datetime] | None = None,
        roster: RosterLookup | None = None,
        calendar: WorkingCalendar | None = None,
        batch_size: int = 200,
    ) -> None:
        self.services = services
        self.store = services.store
        self.settings = services.settings
        self.clock = clock or (lambda: services.clock())
        self.calendar = calendar or calendar_for(services.settings)
        self.batch_size = batch_size
        self._roster = roster

    async def run_once(self, now: datetime | None = None) -> int:
        """Send every escalation due at ``now`` (default: the clock's now); returns how many levels this
        round sent (levels another scheduler sent first are not counted)."""
        now = now or self.clock()
        due = await self._due(now)
        if not due:
            return 0
        rosters = await self._rosters({d.court_code for d, _ in due})
        sent = 0
        for deadline, levels in due:
            roster = rosters.get(deadline.court_code)
            if roster is None:
                continue  # the court could not name its staff: next round
            for level in levels:
                try:
                    done = await self._escalate(deadline, level, roster, now)
                except Exception:  # one bad item must not hold up the others; it is retried next round
                    log.exception("%s %s: escalation failed", deadline.subject_type, deadline.subject_id)
                    break
                sent += done
        return sent

    async def _due(self, now: datetime) -> list[tuple[TrackedDeadline, list[int]]]:
        query = (
            select(DeadlineRecord)
            .where(DeadlineRecord.next_escalation_at < now, DeadlineRecord.settled_at.is_(None))
            .order_by(DeadlineRecord.next_escalation_at)
            .limit(self.batch_size)
        )
        async with self.store.session(read_only=True) as session:
            pending = await _with_handlers(session, list(await session.scalars(query)))
        due = []
        for deadline in pending:
            levels = levels_due(deadline, now, self.calendar, second_threshold_days(self.settings, deadline))
            if levels:
                due.append((deadline, levels))
        return due

    async def _rosters(self, courts: set[str]) -> dict[str, Sequence[Staff] | None]:
        lookup = self._roster or self._default_roster

        async def one(code: str) -> Sequence[Staff] | None:
            try:
                return await lookup(code)
            except CourtError as e:
                log.warning("escalations at %s wait: its roster is unavailable (%s)", code, e.code)
            except KeyError:
                log.error("escalations at %s wait: the court is not configured", code)
            return None

        codes = sorted(courts)
        return dict(zip(codes, await asyncio.gather(*(one(c) for c in codes)), strict=True))

    async def _default_roster(self, court_code: str) -> Sequence[Staff]:
        from gateway.core import roster

        return await roster.roster(self.services, court_code)

    async def _escalate(self, deadline: TrackedDeadline, level: int, roster: Sequence[Staff], now: datetime) -> bool:
        """One level for one deadline, once: True when this call sent it."""
        targets = escalation_targets(roster, deadline, level)
        names = {s.staff_id: s.name for s in roster}
        court = self._court(deadline.court_code)
        recipients = [{"staff_id": s.staff_id, "name": s.name, "role": s.role.value} for s in targets]
        async with self.store.session() as session:
            row = await session.get(DeadlineRecord, deadline.id, with_for_update=True, populate_existing=True)
            if row is None or row.settled_at is not None or row.escalation_level >= level:
                return False  # answered meanwhile, or another scheduler got here first
            inserted = await session.scalar(
                _insert(session, EscalationRecord)
                .values(deadline_id=row.id, level=level, escalated_at=now, recipients=recipients)
                .on_conflict_do_nothing()
                .returning(EscalationRecord.id)
            )
            if inserted is None:
                return False
            row.escalation_level = level
            row.next_escalation_at = (
                None if level >= TOP_LEVEL else self.calendar.deadline(row.due_at, self._extra_days(deadline))
            )
            if targets:
                await notify(
                    session,
                    kind=NotificationKind.DEADLINE_ESCALATED,
                    court=court,
                    case_number=deadline.case_number,
                    recipients=[
                        Recipient(s.name, s.phone, staff_key(deadline.court_code, s.staff_id)) for s in targets
                    ],
                    params=escalation_params(deadline, level, names, self._extra_days(deadline)),
                    dedupe_key=f"deadline:{deadline.id}:escalated:{level}",
                    now=now,
                )
            else:
                log.error(
                    "%s %s: level %d reached but the roster names nobody",
                    deadline.subject_type,
                    deadline.subject_id,
                    level,
                )
            await audit.append(
                session,
                actor=audit.SYSTEM_ACTOR,
                action=f"{deadline.subject_type}.escalated",
                subject_type=deadline.subject_type,
                subject_id=deadline.subject_id,
                court_code=deadline.court_code,
                details={
                    "level": level,
                    "due_at": deadline.due_at.astimezone(UTC).isoformat(),
                    "at": now.astimezone(UTC).isoformat(),
                    "recipients": recipients,
                },
            )
        log.info(
            "%s %s escalated to level %d: %s",
            deadline.subject_type,
            deadline.subject_id,
            level,
            ", ".join(r["name"] for r in recipients) or "nobody",
        )
        return True

    def _extra_days(self, deadline: TrackedDeadline) -> int:
        return second_threshold_days(self.settings, deadline)

    def _court(self, code: str) -> CourtConfig:
        return self.settings.court(code)


def escalation_params(
    deadline: TrackedDeadline, level: int, names: Mapping[str, str], extra_days: int
) -> dict[str, Any]:
    """The escalation text's fields: what, since when, whose, and how far up the ladder it is."""
    handlers = "、".join(names.get(h, h) for h in deadline.handlers) or "未指定"
    ladder = "" if level == DIVISION_HEAD_LEVEL else f"，逾期已超过{extra_days}个工作日，经庭长督办仍未办结"
    return {
        "subject": describe(deadline),
        "due": china_clock(deadline.due_at),
        "handlers": handlers,
        "ladder": ladder,
    }


def _insert(session: AsyncSession, model: Any) -> Any:
    """INSERT … that can say ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
