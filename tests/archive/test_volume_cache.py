"""Case-file volumes are cached like other case data (by court generation), and every view is still audited."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.adapters.model import CaseStatus
from gateway.store.models import AuditRecord
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.archive.test_archive import CASE_FILE, cases_of, codes, services_of
from tests.conftest import GraphQLClient, background_paused


async def views_of(gateway: GraphQLClient, case_number: str) -> int:
    async with services_of(gateway).store.session(read_only=True) as session:
        query = select(func.count()).where(
            AuditRecord.action == "casefile.viewed", AuditRecord.subject_id == case_number
        )
        return int(await session.scalar(query) or 0)


async def test_a_case_file_read_twice_asks_its_court_once_and_audits_both_views(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World
) -> None:
    licence = world.demo["lawyer-li"].number
    case = next(
        c
        for c in cases_of(sims, world, "lawyer-li")
        if c.public_hearing and c.status != CaseStatus.ARCHIVED and any(a.licence_number == licence for a in c.agents)
    )
    counters = sims.backends[case.court_code].state.counters
    services = services_of(gateway)
    async with background_paused(gateway.app):  # type: ignore[attr-defined]
        await services.cache.bump(case.court_code)  # nothing cached from earlier tests
        viewed = await views_of(gateway, case.case_number)
        sims.reset_counters()
        first = await gateway.query(CASE_FILE, {"n": case.case_number}, as_="lawyer-li")
        second = await gateway.query(CASE_FILE, {"n": case.case_number}, as_="lawyer-li")
        assert counters["list_volumes"] == 1
        assert await views_of(gateway, case.case_number) == viewed + 2
        # the court's change feed retires the cached file with the rest of the court's data
        await services.cache.bump(case.court_code)
        third = await gateway.query(CASE_FILE, {"n": case.case_number}, as_="lawyer-li")
        assert counters["list_volumes"] == 2
        assert await views_of(gateway, case.case_number) == viewed + 3
    assert codes(first) == codes(second) == codes(third) == []
    assert first["data"] == second["data"] == third["data"] and first["data"]["case"]["caseFile"]
