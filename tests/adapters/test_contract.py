"""The adapter contract suite: identical assertions for every configured backend.

Parametrised from configuration, so adding a court to a court file adds it here. Each adapter must
return exactly the generator's ground truth in canonical form for the demo persons (cases, parties,
agents, panel, hearings, documents, volumes, material bytes, the staff roster); its writes must be
idempotent and visible afterwards (a lawyer entered on a case lists it; a family without that write
says so, typed, and changes nothing); and its family's faults must surface as the same typed errors, through the same
resilience layer the gateway uses.

The module runs on a cluster of its own, so other modules' writes never disturb the ground truth.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from gateway.adapters.contract import CourtAdapter
from gateway.adapters.errors import CourtAuthFailed, CourtTimeout, CourtUnavailable, CourtUnsupported, NotSupported
from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    Attachment,
    Case,
    CaseScope,
    CaseStatus,
    ChangeKind,
    Filing,
    FilingKind,
    PersonRef,
    ServedDocument,
    Signature,
    StaffRole,
    VolumeKind,
)
from gateway.adapters.registry import build_adapter
from gateway.adapters.resilience import ResiliencePolicy, ResilientAdapter
from gateway.config import CourtConfig, Settings
from simulators.casefiles import case_documents, case_volumes, material_pdf, platform_copies
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import TEST_DEADLINE_MS, loopback_settings

CONFIGURED = Settings().courts
COURTS = [c.code for c in CONFIGURED if c.is_court]
BACKENDS = [c.code for c in CONFIGURED]
DEMO_LOGINS = ["lawyer-chen", "lawyer-li", "party-wang"]


@pytest.fixture(scope="module")
def contract_settings() -> Settings:
    return loopback_settings()


@pytest.fixture(scope="module")
async def contract_cluster(contract_settings: Settings, world: World) -> AsyncIterator[SimulatorCluster]:
    sims = SimulatorCluster(contract_settings.courts, world)
    await sims.start()
    yield sims
    await sims.stop()


@pytest.fixture
async def sims(contract_cluster: SimulatorCluster) -> AsyncIterator[SimulatorCluster]:
    yield contract_cluster
    await contract_cluster.clear_faults()


def config_of(settings: Settings, code: str) -> CourtConfig:
    return settings.court(code)


@pytest.fixture
async def adapter(
    request: pytest.FixtureRequest, contract_settings: Settings, contract_cluster: SimulatorCluster
) -> AsyncIterator[CourtAdapter]:
    async with build_adapter(contract_settings.court(request.param)) as a:
        yield a


def person(world: World, login: str) -> PersonRef:
    p = world.demo[login]
    return PersonRef(p.kind, p.number)


def truth_cases(world: World, code: str, who: PersonRef) -> list[Case]:
    return world.courts[code].cases_of(who)


def truth_documents(world: World, config: CourtConfig, who: PersonRef) -> list[ServedDocument]:
    if config.is_court:
        docs = [d for c in truth_cases(world, config.code, who) for d in case_documents(world.seed, c, world.now)]
    else:
        docs = [
            d
            for court in world.courts.values()
            for c in court.cases_of(who)
            for d in platform_copies(world.seed, config.code, c, world.now)
        ]
    return sorted((d for d in docs if d.addressee == who), key=lambda d: (d.served_at, d.document_id))


async def all_pages(adapter: CourtAdapter, who: PersonRef, limit: int) -> tuple[list[Case], int]:
    cases: list[Case] = []
    position: str | None = None
    pages = 0
    while True:
        page = await adapter.list_cases(who, position=position, limit=limit)
        pages += 1
        cases += page.cases
        if page.next_position is None:
            return cases, pages
        position = page.next_position
        assert pages < 100, "pagination does not terminate"


# -- ground truth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
@pytest.mark.parametrize("login", DEMO_LOGINS)
async def test_cases_of_demo_person_match_ground_truth(adapter: CourtAdapter, world: World, login: str) -> None:
    who = person(world, login)
    expected = truth_cases(world, adapter.court.code, who)
    cases, pages = await all_pages(adapter, who, limit=2)
    assert cases == expected
    assert pages == max(1, -(-len(expected) // 2)), "pages of two, newest filing first"


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_demo_persons_span_the_courts_they_are_seeded_in(adapter: CourtAdapter, world: World) -> None:
    for login in DEMO_LOGINS:
        if adapter.court.code in world.demo[login].courts:
            page = await adapter.list_cases(person(world, login), limit=20)
            assert page.cases, f"{login} has no cases at {adapter.court.code}"
            if page.total is not None:
                assert page.total == len(truth_cases(world, adapter.court.code, person(world, login)))


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_batch_get_and_find_by_number_match_ground_truth(adapter: CourtAdapter, world: World) -> None:
    court = world.courts[adapter.court.code]
    sample = list(court.cases.values())[:: max(1, len(court.cases) // 25)]
    ids = [c.case_id for c in sample]
    got = await adapter.get_cases([*ids[:3], "does-not-exist", *ids[3:]])
    assert got == sample, "in the order asked, unknown ids left out"
    for case in sample[:4]:
        assert await adapter.find_case(case.case_number) == case
    unknown = sample[0].case_number.replace("号", "999999号")
    assert await adapter.find_case(unknown) is None


@pytest.mark.parametrize("adapter", BACKENDS, indirect=True)
@pytest.mark.parametrize("login", DEMO_LOGINS)
async def test_served_documents_match_ground_truth(adapter: CourtAdapter, world: World, login: str) -> None:
    who = person(world, login)
    got = sorted(await adapter.list_documents(who), key=lambda d: (d.served_at, d.document_id))
    assert got == truth_documents(world, adapter.court, who)


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_case_file_volumes_and_material_bytes_match_ground_truth(adapter: CourtAdapter, world: World) -> None:
    case = (
        truth_cases(world, adapter.court.code, person(world, "lawyer-chen"))[0]
        if adapter.court.code in (world.demo["lawyer-chen"].courts)
        else next(iter(world.courts[adapter.court.code].cases.values()))
    )
    volumes = await adapter.list_volumes(case.case_id)
    assert tuple(volumes) == case_volumes(world.seed, case, world.now)
    assert {v.kind for v in volumes} == {VolumeKind.MAIN, VolumeKind.INTERNAL}
    material = volumes[0].materials[0]
    content = await adapter.read_material(case.case_id, material.material_id)
    assert content.content == material_pdf(adapter.court.name, case, material)
    assert content.content.startswith(b"%PDF")


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_staff_views_of_the_court_match_ground_truth(adapter: CourtAdapter, world: World) -> None:
    """A panel member's, a division's and the whole court's cases, read in pages of 7, newest filing first."""
    court = world.courts[adapter.court.code]
    every = list(court.cases.values())
    member, division = every[0].panel[0].staff_id, every[0].division
    views = [
        (CaseScope(staff_id=member), [c for c in every if member in {s.staff_id for s in c.panel}]),
        (CaseScope(division=division), [c for c in every if c.division == division]),
        (CaseScope(), every),
    ]
    for scope, expected in views:
        cases: list[Case] = []
        position: str | None = None
        for _ in range(100):
            page = await adapter.list_court_cases(scope, position=position, limit=7)
            assert len(page.cases) <= 7
            assert page.total in (None, len(expected))
            cases += page.cases
            position = page.next_position
            if position is None:
                break
        else:
            raise AssertionError("pagination does not terminate")
        assert cases == expected, scope


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_staff_roster_matches_ground_truth(adapter: CourtAdapter, world: World, sims: SimulatorCluster) -> None:
    """The whole roster in the court's order, with the people the gateway's workflows route work to."""
    truth = world.courts[adapter.court.code].staff
    staff = await adapter.list_staff()
    assert len(staff) == len(truth) and set(staff) == set(truth), "the roster, whatever order the family keeps"
    roles = {(s.division, s.role) for s in staff}
    case_divisions = {c.division for c in world.courts[adapter.court.code].cases.values()}
    judged = {s.division for s in staff if s.role == StaffRole.JUDGE}
    assert case_divisions <= judged
    assert all((d, StaffRole.DIVISION_HEAD) in roles for d in judged), "a 庭长 for every trial division"
    assert {StaffRole.COURT_LEADER, StaffRole.ARCHIVE_ADMIN, StaffRole.CLERK} <= {s.role for s in staff}
    assert sims.state(adapter.court.code).counters["list_staff"] <= -(-len(truth) // 20), "one paged walk"


@pytest.mark.parametrize("adapter", [c.code for c in CONFIGURED if not c.is_court], indirect=True)
async def test_platform_has_no_cases(adapter: CourtAdapter, world: World, sims: SimulatorCluster) -> None:
    with pytest.raises(NotSupported):
        await adapter.list_cases(person(world, "party-wang"))
    with pytest.raises(NotSupported):
        await adapter.list_court_cases(CaseScope())
    # no staff, nor cases to enter a lawyer on: the platform is no court
    assert adapter.supports_agent_writes is False
    assert await adapter.list_staff() == []
    with pytest.raises(CourtUnsupported):
        await adapter.add_agent("any", Agent("周律师", "14401202010300999", "某所", "x"), idempotency_key="k")
    assert not {"list_staff", "add_agent"} & set(sims.state(adapter.court.code).counters), "asked without a call"


# -- writes ------------------------------------------------------------------------------------------


def _unsigned_document(world: World, config: CourtConfig, taken: set[str]) -> ServedDocument:
    """An unsigned document of someone who is not a demo person (their truth stays untouched)."""
    demo = {p.number for p in world.demo.values()}
    for court in world.courts.values():
        if config.is_court and court.court.code != config.code:
            continue
        for case in court.cases.values():
            docs = (
                case_documents(world.seed, case, world.now)
                if config.is_court
                else platform_copies(world.seed, config.code, case, world.now)
            )
            for doc in docs:
                if doc.signed_at is None and doc.addressee.number not in demo and doc.document_id not in taken:
                    return doc
    raise AssertionError("no unsigned document in the world")


SIGNED: set[str] = set()


@pytest.mark.parametrize("adapter", BACKENDS, indirect=True)
async def test_signing_is_idempotent_and_visible_afterwards(
    adapter: CourtAdapter, world: World, sims: SimulatorCluster
) -> None:
    doc = _unsigned_document(world, adapter.court, SIGNED)
    SIGNED.add(doc.document_id)
    signed_at = datetime.now(CHINA_TZ).replace(microsecond=0)
    signature = Signature(
        str(uuid.uuid4()), doc.document_id, doc.addressee_name, doc.addressee.number, "REAL_NAME", signed_at
    )
    first = await adapter.sign_document(signature)
    again = await adapter.sign_document(signature)
    assert first == again and first.document_id == doc.document_id
    record = sims.state(adapter.court.code).signatures[doc.document_id]
    assert record.deliveries == 2, "the court saw both deliveries and kept one signature"
    listed = {d.document_id: d for d in await adapter.list_documents(doc.addressee)}
    assert listed[doc.document_id].signed_at == first.signed_at


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_filing_is_idempotent_by_key_and_recorded_once(
    adapter: CourtAdapter, world: World, sims: SimulatorCluster
) -> None:
    case = next(iter(world.courts[adapter.court.code].cases.values()))
    lawyer = case.agents[0] if case.agents else None
    filing = Filing(
        idempotency_key=str(uuid.uuid4()),
        case_id=case.case_id,
        case_number=case.case_number,
        kind=FilingKind.DEFENCE_STATEMENT,
        title="答辩状",
        filer_name=lawyer.name if lawyer else case.parties[0].name,
        filer_id_number=lawyer.licence_number if lawyer else case.parties[0].id_number,
        attachments=(Attachment("答辩状.pdf", "application/pdf", b"%PDF-1.4 defence statement"),),
    )
    receipt = await adapter.submit_filing(filing)
    assert receipt.receipt_number
    assert await adapter.submit_filing(filing) == receipt
    records = sims.court_state(adapter.court.code).filings
    assert records[filing.idempotency_key].deliveries == 2
    assert [r.receipt.receipt_number for r in records.values()].count(receipt.receipt_number) == 1


def _quiet_case_and_new_lawyer(world: World, code: str) -> tuple[Case, Agent]:
    """A case no demo person is in, and a lawyer of this court (not a demo person) who is not on it.

    The lawyer with the fewest cases here, so listing their cases stays one short page.
    """
    court = world.courts[code]
    demo = {p.number for p in world.demo.values()}
    lawyers = {a.licence_number: a for c in court.cases.values() for a in c.agents if a.licence_number not in demo}
    for case in court.cases.values():
        people = {p.id_number for p in case.parties} | {a.licence_number for a in case.agents}
        if people & demo:
            continue
        fits = [a for a in lawyers.values() if a.licence_number not in people]
        lawyer = min(fits, key=lambda a: (len(court.by_person[a.licence_number]), a.licence_number))
        return case, Agent(lawyer.name, lawyer.licence_number, lawyer.firm, case.parties[-1].id_number, lawyer.phone)
    raise AssertionError(f"no quiet case at {code}")


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_entering_a_lawyer_is_idempotent_by_key_and_makes_the_case_theirs(
    adapter: CourtAdapter, world: World, sims: SimulatorCluster
) -> None:
    code = adapter.court.code
    case, agent = _quiet_case_and_new_lawyer(world, code)
    lawyer = PersonRef.lawyer(agent.licence_number)
    state = sims.court_state(code)
    events_before = len(state.events)
    key = str(uuid.uuid4())
    if not adapter.supports_agent_writes:
        with pytest.raises(CourtUnsupported) as error:
            await adapter.add_agent(case.case_id, agent, idempotency_key=key)
        assert error.value.court_code == code
        assert state.case(case.case_id) == case and len(state.events) == events_before, "nothing changed"
        assert key not in state.agent_writes and state.counters["add_agent"] == 0
        assert case.case_id not in {c.case_id for c in (await all_pages(adapter, lawyer, limit=20))[0]}
        return
    receipt = await adapter.add_agent(case.case_id, agent, idempotency_key=key)
    assert (receipt.case_id, receipt.licence_number) == (case.case_id, agent.licence_number)
    assert await adapter.add_agent(case.case_id, agent, idempotency_key=key) == receipt, "a retry: the first receipt"
    record = state.agent_writes[key]
    assert (record.deliveries, record.receipt) == (2, receipt), "the court saw both deliveries and entered once"
    assert state.case(case.case_id).agents == (*case.agents, agent)
    added = [e for e in state.events[events_before:] if e.kind == ChangeKind.AGENT_ADDED]
    assert [(e.case_id, e.licence_number) for e in added] == [(case.case_id, agent.licence_number)]
    listed = {c.case_id: c for c in (await all_pages(adapter, lawyer, limit=20))[0]}
    assert agent in listed[case.case_id].agents, "the lawyer now sees the case, with themselves on it"


@pytest.mark.parametrize("adapter", COURTS, indirect=True)
async def test_change_feed_reports_staff_actions_once(
    adapter: CourtAdapter, world: World, sims: SimulatorCluster
) -> None:
    first = await adapter.changes(None)
    cursor = first.cursor
    case = next(c for c in world.courts[adapter.court.code].cases.values() if c.status == CaseStatus.IN_TRIAL)
    desk = sims.desk(adapter.court.code)
    desk.schedule_hearing(case.case_id, datetime(2026, 12, 8, 9, 30, tzinfo=CHINA_TZ), "第3法庭")
    desk.close_case(case.case_id)
    page = await adapter.changes(cursor)
    kinds = [(e.kind.value, e.case_number) for e in page.events]
    assert kinds == [("HEARING_SCHEDULED", case.case_number), ("CASE_CLOSED", case.case_number)]
    assert (await adapter.changes(page.cursor)).events == ()


# -- faults, through the resilience layer the gateway uses --------------------------------------------


@pytest.fixture
async def resilient(
    request: pytest.FixtureRequest, contract_settings: Settings, contract_cluster: SimulatorCluster
) -> AsyncIterator[ResilientAdapter]:
    config = contract_settings.court(request.param)
    async with ResilientAdapter(build_adapter(config)) as a:
        yield a


def _probe(adapter: CourtAdapter, world: World) -> object:
    who = person(world, "party-wang")
    return adapter.list_documents(who) if not adapter.court.is_court else adapter.list_cases(who)


@pytest.mark.parametrize("resilient", BACKENDS, indirect=True)
async def test_outage_is_a_fast_typed_unavailable_error(
    resilient: ResilientAdapter, world: World, sims: SimulatorCluster
) -> None:
    await sims.set_outage(resilient.court.code, True)
    started = time.monotonic()
    with pytest.raises(CourtUnavailable) as error:
        await _probe(resilient, world)  # type: ignore[misc]
    assert error.value.court_code == resilient.court.code
    assert time.monotonic() - started < TEST_DEADLINE_MS / 1000, "fails fast, well inside the deadline"


@pytest.mark.parametrize("resilient", BACKENDS, indirect=True)
async def test_hang_is_a_timeout_at_the_deadline(
    resilient: ResilientAdapter, world: World, sims: SimulatorCluster
) -> None:
    await sims.set_faults(resilient.court.code, hang=True)
    started = time.monotonic()
    with pytest.raises(CourtTimeout) as error:
        await _probe(resilient, world)  # type: ignore[misc]
    elapsed = time.monotonic() - started
    assert error.value.court_code == resilient.court.code
    assert TEST_DEADLINE_MS / 1000 * 0.9 <= elapsed < TEST_DEADLINE_MS / 1000 + 0.4


@pytest.mark.parametrize("code", BACKENDS)
async def test_rate_limiting_is_retried_and_succeeds(
    code: str, contract_settings: Settings, world: World, sims: SimulatorCluster
) -> None:
    # the bucket is the court's, shared with whatever else reads it meanwhile (the session gateway's change
    # follower): enough attempts and time that eight callers all get through at 4 requests a second
    policy = ResiliencePolicy(deadline_s=20.0, max_attempts=40, backoff_base_s=0.1, backoff_cap_s=1.0)
    async with ResilientAdapter(build_adapter(contract_settings.court(code)), policy=policy) as adapter:
        await _probe(adapter, world)  # type: ignore[misc]  # log in before the limit
        await sims.set_faults(code, rate_limit_per_s=4)
        results = await asyncio.gather(*(_probe(adapter, world) for _ in range(8)))  # type: ignore[call-overload]
    assert len(results) == 8
    assert sims.state(code).counters["rate_limited"] > 0, "the court really did push back"


@pytest.mark.parametrize("adapter", BACKENDS, indirect=True)
async def test_expired_token_or_session_is_renewed_transparently(
    adapter: CourtAdapter, world: World, sims: SimulatorCluster
) -> None:
    before = await _probe(adapter, world)  # type: ignore[misc]
    await sims.set_faults(adapter.court.code, expire_sessions=True)
    assert await _probe(adapter, world) == before  # type: ignore[misc]


@pytest.mark.parametrize("code", BACKENDS)
async def test_wrong_credentials_are_detected(
    code: str, contract_settings: Settings, world: World, contract_cluster: SimulatorCluster
) -> None:
    config = contract_settings.court(code)
    wrong = {
        k: ("wrong-" + v if any(s in k for s in ("secret", "password")) else v) for k, v in config.credentials.items()
    }
    async with build_adapter(config.model_copy(update={"credentials": wrong})) as adapter:
        with pytest.raises(CourtAuthFailed) as error:
            await _probe(adapter, world)  # type: ignore[misc]
    assert error.value.court_code == code
