"""Cases across all courts: merged, paginated lists (a person's cases, a staff member's court), and
single cases by number.

``merged`` asks every court for one page per identity of the viewer, k-way merges them newest
filing first, and writes every court's position (its adapter's page token plus how many of that page
were used) into the opaque cursor, so the next page resumes each court exactly where it stopped. A
court that fails is reported and skipped; its position is kept, so it resumes when it is back.
Pages are cached per court, list owner and position; every key embeds the court's generation, which the
change feed bumps. While a court is down, its last known page or case record is served instead, marked
``Stale`` (``gateway.last_known``; kinds ``case_lists`` and ``cases``): a page's copy is keyed like the
page (court, list owner, position), a case record's copy by the caller's scope as well, and only a caller
that was shown the record fresh gets its copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from gateway.adapters.contract import CourtAdapter
from gateway.adapters.errors import CourtError
from gateway.adapters.model import Case, CasePage, CaseScope, CaseStatus, PartyRole, PersonRef
from gateway.casenumber import CaseNumber
from gateway.core.access import can_see_case, is_party_or_agent
from gateway.core.cursors import InvalidCursor, Position, PositionCursors, Positions, decode_cursor, encode_cursor
from gateway.core.federation import CourtFailure, Deadline, Partial, gather_by_court
from gateway.core.runtime import Runtime
from gateway.identity import Role, Viewer
from gateway.last_known import LastKnown, Stale

MAX_PAGE = 100
#: the page asked of each court when the gateway filters what it gets (the smallest family maximum, soap's 20)
NARROW_PAGE = 20
#: a narrow filter reads on until the page is full, the courts are done or half the deadline is spent;
#: this bounds the rounds however fast the courts answer
MAX_ROUNDS = 200


class CaseOrder(StrEnum):
    FILED_DESC = "FILED_DESC"
    LAST_ACTIVITY_DESC = "LAST_ACTIVITY_DESC"


@dataclass(frozen=True)
class CaseFilter:
    courts: frozenset[str] = frozenset()
    statuses: frozenset[CaseStatus] = frozenset()
    roles: frozenset[PartyRole] = frozenset()
    filed_from: date | None = None
    filed_to: date | None = None
    text: str | None = None

    @property
    def narrows(self) -> bool:
        """True when the filter drops cases the courts would count (totals are then unknown)."""
        return bool(self.statuses or self.roles or self.filed_from or self.filed_to or self.text)

    def accepts(self, case: Case, viewer_roles: set[PartyRole]) -> bool:
        if self.statuses and case.status not in self.statuses:
            return False
        if self.roles and not (viewer_roles & self.roles):
            return False
        if self.filed_from and case.filed_on < self.filed_from:
            return False
        if self.filed_to and case.filed_on > self.filed_to:
            return False
        return not self.text or self.text in case.cause or self.text in case.case_number


@dataclass
class CaseList:
    cases: list[Case]
    cursors: Sequence[str]  # one per case: where the list resumes after it (encoded when read)
    has_next_page: bool
    total: int | None
    failures: list[CourtFailure] = field(default_factory=list)
    #: courts whose cases here are their last known answer (the court is down), one per court
    stale: list[Stale] = field(default_factory=list)
    #: where the next page starts when it is not after the last case (cases skipped by a filter after it,
    #: or a page cut short by the request's deadline); None: after the last case
    resume_cursor: str | None = None


def viewer_roles_in(viewer: Viewer, case: Case, bound: Sequence[BoundCase] = ()) -> set[PartyRole]:
    """The viewer's side in the case: their own role, or (for a lawyer) their clients' roles, as the court
    records them or as an approved binding names them (before, or without, the court's record)."""
    roles = {p.role for p in case.parties if p.id_number == viewer.id_number}
    clients = {a.client_id_number for a in case.agents if a.licence_number == viewer.licence_number}
    clients |= {
        b.client_id_number
        for b in bound
        if b.client_id_number and (b.court_code, b.case_id) == (case.court_code, case.case_id)
    }
    return roles | {p.role for p in case.parties if p.id_number in clients}


@dataclass(frozen=True)
class BoundCase:
    """A case the viewer is linked to by an approved case binding the gateway holds: listed among their
    cases at once, before the court's own record names them (and at courts that never will)."""

    court_code: str
    case_id: str
    case_number: str
    #: the party a lawyer is bound for (their side in the case), when the binding names one
    client_id_number: str | None = None


@dataclass(frozen=True)
class ListSource:
    """One court's list for one purpose: a person's cases, or a staff member's scope of the court.

    ``label`` names whose list it is (it goes into cache keys, so it must carry the caller's scope);
    ``fetch(position, limit)`` reads one page of it.
    """

    key: str
    adapter: CourtAdapter
    label: str
    fetch: Callable[[str | None, int], Awaitable[CasePage]]


class _Stream:
    """A source being read: the buffered page and where it sits in the court's list."""

    def __init__(self, source: ListSource, position: str | None, skip: int) -> None:
        self.source = source
        self.key = source.key
        self.adapter = source.adapter
        self.position = position
        self.skip = skip
        self.buffer: list[Case] = []
        self.next_position: str | None = None
        self.loaded = False
        self.total: int | None = None

    @property
    def court(self) -> str:
        return self.adapter.court.code

    @property
    def needs_page(self) -> bool:
        return not self.loaded

    @property
    def exhausted(self) -> bool:
        return self.loaded and not self.buffer and self.next_position is None

    def take_page(self, page: CasePage) -> None:
        self.buffer = list(page.cases[self.skip :])
        self.next_position = page.next_position
        self.total = page.total
        self.loaded = True

    def pop(self) -> Case:
        case = self.buffer.pop(0)
        self.skip += 1
        if not self.buffer and self.next_position is not None:
            self.position, self.skip, self.loaded = self.next_position, 0, False
        return case

    def state(self) -> Position:
        return None if self.exhausted else (self.position, self.skip)


def _resume(kind: str, after: str | None) -> Positions:
    """Where a merged list resumes: each source's position (a finished source is None, one never seen
    starts at its list's start), and the total of those finished. Cursors of the earlier JSON form are
    still read, without a total (so a page resumed from one has no totalCount)."""
    if after is None:
        return Positions({}, 0)
    try:
        return Positions.decode(kind, after)
    except InvalidCursor:
        state = decode_cursor(kind, after)  # the earlier form, issued before the compact one
    positions = state.get("s")
    if not isinstance(positions, dict):
        raise InvalidCursor()
    for value in positions.values():
        if value is None:
            continue
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | None)):
            raise InvalidCursor()
        if type(value[1]) is not int or value[1] < 0:
            raise InvalidCursor()
    return Positions({k: None if v is None else (v[0], v[1]) for k, v in positions.items()}, None)


def _filed_key(case: Case) -> tuple[date, str, str]:
    return (case.filed_on, case.court_code, case.case_id)


class CaseService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = runtime.registry
        self.cache = runtime.cache
        self.parser = runtime.parser
        self.request_deadline_s = runtime.settings.request_deadline_s
        self.page_ttl_s = runtime.settings.cache_ttl_s
        settings = runtime.settings
        self.last_known = LastKnown(runtime.cache, settings.stale_kinds, settings.stale_keep_s, runtime.now)

    # -- pages, cached -----------------------------------------------------------------------------

    async def _page(self, stream: _Stream, limit: int, generation: int, stale: dict[str, Stale]) -> CasePage:
        """One page, cached; while its court is down, its last known copy (noted in ``stale``) if one is kept."""
        source, position, court = stream.source, stream.position, stream.court
        kept = f"{court}:{source.label}:{position}:{limit}"  # the page's key without the generation
        load = self.last_known.keeping("case_lists", kept, lambda: source.fetch(position, limit))
        key = f"cases:{court}:{generation}:{source.label}:{position}:{limit}"
        page, mark = await self.last_known.read(
            "case_lists", kept, lambda: self.cache.get_or_load(key, load, ttl=self.page_ttl_s)
        )
        if mark is not None and (court not in stale or stale[court].age_seconds < mark.age_seconds):
            stale[court] = mark  # the oldest page's age stands for the court's
        return page

    # -- my cases ------------------------------------------------------------------------------------

    def person_sources(self, viewer: Viewer, courts: frozenset[str]) -> list[ListSource]:
        """Every court, once per identity the courts know the viewer by."""
        return [
            ListSource(
                f"{adapter.court.code}:{i}", adapter, f"{ref.kind.value}={ref.number}", _person_fetch(adapter, ref)
            )
            for adapter in self.registry.courts()
            if not courts or adapter.court.code in courts
            for i, ref in enumerate(viewer.person_refs())
        ]

    def bound_sources(self, viewer: Viewer, bound: Sequence[BoundCase], courts: frozenset[str]) -> list[ListSource]:
        """One source per court where the viewer has approved bindings: those cases, read from the court in
        one batch, newest filing first, minus any the court already lists as theirs (so none shows twice)."""
        by_court: dict[str, list[BoundCase]] = {}
        for b in bound:
            if b.court_code in self.registry and (not courts or b.court_code in courts):
                by_court.setdefault(b.court_code, []).append(b)
        sources = []
        for code, cases in sorted(by_court.items()):
            adapter = self.registry[code]
            ids = sorted({b.case_id for b in cases})
            digest = hashlib.sha256("|".join(ids).encode()).hexdigest()[:16]
            label = f"bound={viewer.scope}/{digest}"
            sources.append(ListSource(f"{code}:bound", adapter, label, _bound_fetch(adapter, viewer, ids)))
        return sources

    def staff_source(self, viewer: Viewer) -> ListSource:
        """The viewer's own court, narrowed to their panel, division or the whole court by role."""
        scope = staff_scope(viewer)
        adapter = self.registry[viewer.court_code or ""]
        label = f"staff={scope.staff_id or ''}/{scope.division or ''}"
        return ListSource(f"{adapter.court.code}:staff", adapter, label, _scope_fetch(adapter, scope))

    async def my_cases(
        self,
        viewer: Viewer,
        *,
        first: int,
        after: str | None,
        filter: CaseFilter,
        order: CaseOrder,
        bound: Sequence[BoundCase] = (),
    ) -> CaseList:
        """The viewer's cases at every court, plus those ``bound`` to them by approved case bindings."""
        if order == CaseOrder.LAST_ACTIVITY_DESC:
            return await self._my_cases_by_activity(viewer, first=first, after=after, filter=filter, bound=bound)
        sources = self.person_sources(viewer, filter.courts) + self.bound_sources(viewer, bound, filter.courts)
        return await self.merged("myCases", sources, viewer, first=first, after=after, filter=filter, bound=bound)

    async def court_cases(self, viewer: Viewer, *, first: int, after: str | None, filter: CaseFilter) -> CaseList:
        return await self.merged(
            "courtCases", [self.staff_source(viewer)], viewer, first=first, after=after, filter=filter
        )

    async def merged(
        self,
        kind: str,
        sources: list[ListSource],
        viewer: Viewer,
        *,
        first: int,
        after: str | None,
        filter: CaseFilter,
        bound: Sequence[BoundCase] = (),
    ) -> CaseList:
        """One page of several court lists merged newest filing first; each court resumes where it was.
        ``bound``: the viewer's approved bindings, which give them their side in those cases."""
        resumed = _resume(kind, after)
        finished = {key: None for key, value in resumed.positions.items() if value is None}
        streams = [
            _Stream(source, *(resumed.positions.get(source.key) or (None, 0)))
            for source in sources
            if source.key not in finished
        ]
        deadline = Deadline(self.request_deadline_s)
        generations = await self.cache.generations({s.court for s in streams})
        # a filter the courts cannot apply makes short pages: then ask for pages of a useful size
        limit = min(max(first, NARROW_PAGE if filter.narrows else 1), MAX_PAGE)
        failures: dict[str, CourtFailure] = {}
        stale: dict[str, Stale] = {}
        live = list(streams)
        cases: list[Case] = []
        cursors = PositionCursors(kind)
        seen: set[tuple[str, str]] = set()
        for round_ in range(MAX_ROUNDS):
            if round_ and deadline.remaining < self.request_deadline_s / 2:
                break  # keep the rest of the deadline for the courts' answers; the cursor resumes here
            await self._fill(live, limit, generations, deadline, failures, stale)
            live = [s for s in live if s.court not in failures]
            heap = [(_Desc(_filed_key(s.buffer[0])), i) for i, s in enumerate(live) if s.buffer]
            heapq.heapify(heap)
            while heap and len(cases) < first:
                _, i = heapq.heappop(heap)
                stream = live[i]
                case = stream.pop()
                if (case.court_code, case.case_id) not in seen and filter.accepts(
                    case, viewer_roles_in(viewer, case, bound)
                ):
                    seen.add((case.court_code, case.case_id))
                    cases.append(case)
                    cursors.add(self._positions(streams, finished, resumed.finished_total))
                if stream.buffer:
                    heapq.heappush(heap, (_Desc(_filed_key(stream.buffer[0])), i))
                elif stream.needs_page:
                    break  # refill this court before merging further: its next case may come first
            if len(cases) >= first or all(s.exhausted for s in live):
                break
        has_next = any(not s.exhausted for s in streams if s.court not in failures)
        total = _sum([resumed.finished_total, *(s.total for s in streams)])
        if filter.narrows or failures:
            total = None
        resume = self._cursor(kind, streams, finished, resumed.finished_total) if has_next else None
        # a court may be both: its first page from a kept copy, a later one missing (named in ``failures``)
        stale_courts = [mark for _, mark in sorted(stale.items())]
        return CaseList(cases, cursors, has_next, total, list(failures.values()), stale_courts, resume)

    @staticmethod
    def _positions(streams: list[_Stream], finished: dict[str, None], finished_total: int | None) -> Positions:
        """Every stream's position; streams finished on earlier pages stay finished, and the total of every
        finished stream is carried on, so each later page still knows the whole list's count."""
        done = [s.total for s in streams if s.exhausted]
        return Positions({**finished, **{s.key: s.state() for s in streams}}, _sum([finished_total, *done]))

    @classmethod
    def _cursor(cls, kind: str, streams: list[_Stream], finished: dict[str, None], finished_total: int | None) -> str:
        return cls._positions(streams, finished, finished_total).encode(kind)

    async def _fill(
        self,
        streams: list[_Stream],
        limit: int,
        generations: dict[str, int],
        deadline: Deadline,
        failures: dict[str, CourtFailure],
        stale: dict[str, Stale],
    ) -> None:
        calls = [
            (s.key, s.court, _loader(self, s, limit, generations[s.court], stale))
            for s in streams
            if s.needs_page and s.court not in failures
        ]
        pages, failed = await gather_by_court(calls, deadline)
        for failure in failed:
            failures.setdefault(failure.court_code, failure)
        for s in streams:
            if s.key in pages:
                s.take_page(pages[s.key])

    async def _my_cases_by_activity(
        self, viewer: Viewer, *, first: int, after: str | None, filter: CaseFilter, bound: Sequence[BoundCase] = ()
    ) -> CaseList:
        """Courts list by filing date only, so activity order needs each court's whole list (cached)."""
        state = decode_cursor("myCasesByActivity", after) if after else {}
        every = await self.all_cases_of(viewer, filter.courts, bound)
        ordered = sorted(
            (c for c in every.value if filter.accepts(c, viewer_roles_in(viewer, c, bound))),
            key=lambda c: (c.last_activity_at or c.filed_on, c.court_code, c.case_id),
            reverse=True,
        )
        start = state.get("o", 0)
        if type(start) is not int or start < 0:
            raise InvalidCursor()
        page = ordered[start : start + first]
        cursors = [encode_cursor("myCasesByActivity", {"o": start + i + 1}) for i in range(len(page))]
        return CaseList(page, cursors, start + first < len(ordered), len(ordered), every.failures, stale=every.stale)

    async def all_cases_of(
        self, viewer: Viewer, courts: frozenset[str] = frozenset(), bound: Sequence[BoundCase] = ()
    ) -> Partial[list[Case]]:
        found: list[Case] = []
        failures: list[CourtFailure] = []
        stale: dict[str, Stale] = {}
        after: str | None = None
        while True:
            page = await self.my_cases(
                viewer,
                first=MAX_PAGE,
                after=after,
                filter=CaseFilter(courts=courts),
                order=CaseOrder.FILED_DESC,
                bound=bound,
            )
            found += page.cases
            failures += page.failures
            stale.update((m.court_code, m) for m in page.stale if m.court_code not in stale)
            if not page.has_next_page or not page.cursors:
                return Partial(found, failures, list(stale.values()))
            after = page.cursors[-1]

    # -- one case --------------------------------------------------------------------------------------

    async def case_by_number(
        self, viewer: Viewer, text: str, *, bound: Collection[str] = (), stale: list[Stale] | None = None
    ) -> Case | None:
        """The case if it exists and the viewer may see it, else None (the two are indistinguishable).
        ``bound``: the case numbers of the viewer's approved case bindings, which let them see those cases.
        ``stale``: given, a court that is down answers with the last record this viewer was shown of the
        case (appending its ``Stale`` mark here) when one is kept; not given, it never does.

        Raises InvalidCaseNumber for input that is not a case number, CourtError when its court fails.
        """
        number = self.parser.parse(text)
        if number.court_code not in self.registry:
            return None
        kept = f"{number.court_code}:{number.text}:{viewer.scope}"
        fresh = lambda: cached_record(self.runtime, number)  # noqa: E731
        if stale is None or not self.last_known.enabled("cases"):
            _, case = await fresh()
            return case if case is not None and can_see_case(viewer, case, bound) else None
        (answered_at, case), mark = await self.last_known.read("cases", kept, fresh)
        if case is None or not can_see_case(viewer, case, bound):
            return None
        if mark is None:  # shown to this viewer: kept for them, dated when the court gave it
            await self.last_known.remember("cases", kept, answered_at, (answered_at, case))
        else:
            stale.append(mark)
        return case

    async def cases_by_number(
        self, viewer: Viewer, numbers: list[str], *, bound: Collection[str] = ()
    ) -> list[Case | CourtError | None]:
        """Many cases by number, batched per court (a DataLoader's batch function)."""

        async def one(text: str) -> Case | CourtError | None:
            try:
                return await self.case_by_number(viewer, text, bound=bound)
            except CourtError as e:
                return e

        return list(await asyncio.gather(*(one(n) for n in numbers)))


async def cached_record(runtime: Runtime, number: CaseNumber) -> tuple[float, Case | None]:
    """One case as its court records it (None: no such case), whoever asks, and when the court gave it
    (POSIX time: what a last known copy is dated by): cached under the court's generation, one entry
    shared by every caller (each caller's access is checked on what it returns)."""
    adapter = runtime.registry[number.court_code]
    generation = (await runtime.cache.generations([number.court_code]))[number.court_code]
    key = f"case:{number.court_code}:{generation}:{number.text}"

    async def stamped() -> tuple[float, Case | None]:
        return runtime.now().timestamp(), await adapter.find_case(number.text)

    return await runtime.cache.get_or_load(key, stamped, ttl=runtime.settings.cache_ttl_s)


def _sum(counts: Sequence[int | None]) -> int | None:
    """The sum, or None when any count is unknown."""
    return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


@dataclass(frozen=True)
class _Desc:
    """Inverts a sort key so heapq (a min-heap) pops the newest filing first."""

    key: tuple[date, str, str]

    def __lt__(self, other: _Desc) -> bool:
        return other.key < self.key


def _loader(
    service: CaseService, stream: _Stream, limit: int, generation: int, stale: dict[str, Stale]
) -> Callable[[], Any]:
    return lambda: service._page(stream, limit, generation, stale)


def _person_fetch(adapter: CourtAdapter, ref: PersonRef) -> Callable[[str | None, int], Awaitable[CasePage]]:
    return lambda position, limit: adapter.list_cases(ref, position=position, limit=limit)


def _bound_fetch(
    adapter: CourtAdapter, viewer: Viewer, case_ids: list[str]
) -> Callable[[str | None, int], Awaitable[CasePage]]:
    """Bound cases at one court as a list source: one batch read, newest filing first, an offset as the
    position; cases the court already lists as the viewer's are left to the court's own list."""

    async def fetch(position: str | None, limit: int) -> CasePage:
        start = int(position or 0)
        found = await adapter.get_cases(case_ids)
        mine = sorted((c for c in found if not is_party_or_agent(viewer, c)), key=_filed_key, reverse=True)
        end = start + limit
        return CasePage(tuple(mine[start:end]), str(end) if end < len(mine) else None, len(mine))

    return fetch


def _scope_fetch(adapter: CourtAdapter, scope: CaseScope) -> Callable[[str | None, int], Awaitable[CasePage]]:
    return lambda position, limit: adapter.list_court_cases(scope, position=position, limit=limit)


def staff_scope(viewer: Viewer) -> CaseScope:
    """Court leaders and archive administrators see the court; division heads their division; judges
    and clerks the cases of panels they sit on."""
    if viewer.roles & {Role.COURT_LEADER, Role.ARCHIVE_ADMIN}:
        return CaseScope()
    if Role.DIVISION_HEAD in viewer.roles:
        return CaseScope(division=viewer.division)
    return CaseScope(staff_id=viewer.staff_id)
