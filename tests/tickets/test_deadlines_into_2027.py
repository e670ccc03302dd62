"""12368 deadlines and escalations that run past the holiday library's last year (2026), by default.

With no schedule published for 2027, the calendar still knows the statutory holidays: 元旦 (Fri Jan 1)
and the Spring Festival from 除夕 (Fri Feb 5) to 初三 (Mon Feb 8) are not working days, so neither a
deadline nor an escalation lands on them. Tickets go through the service with an explicit ``now`` (the
real simulators answer for rosters) and the scheduler runs at chosen moments, as in test_escalation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from gateway.adapters.model import CHINA_TZ
from gateway.config import Settings
from gateway.core.deadlines import EscalationScheduler
from gateway.identity import Viewer, viewer_from_claims
from gateway.services import Services, build_services
from gateway.store.migrate import upgrade_async
from gateway.store.testing import sqlite_url
from gateway.tickets.service import TicketCategory, TicketView
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.identities import demo_claims

YUEXIU = "粤0104"


def at(text: str) -> datetime:
    """A moment in court time (China Standard Time)."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


@pytest.fixture
async def own(tmp_path: Path, settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[Services]:
    """Services on a new database with the default calendar settings and no background workers."""
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    services = build_services(Settings(court_overrides=settings.court_overrides, database_url=url))
    try:
        yield services
    finally:
        await services.registry.aclose()
        await services.cache.close()
        await services.store.dispose()


def lawyer(world: World, settings: Settings) -> Viewer:
    return viewer_from_claims(demo_claims(world, settings.seed_file, "lawyer-chen"))


async def urge(services: Services, who: Viewer, created: str) -> TicketView:
    return await services.tickets.create(
        who, court_code=YUEXIU, category=TicketCategory.URGE, content="请尽快安排开庭。", now=at(created)
    )


async def levels(services: Services, who: Viewer, ticket: TicketView) -> list[tuple[int, datetime]]:
    seen = await services.tickets.get(who, ticket.id)
    assert seen is not None
    return [(e.level, e.at) for e in seen.escalations]


async def test_a_ticket_of_december_30_is_due_after_new_years_day_2027(
    own: Services, world: World, settings: Settings
) -> None:
    chen = lawyer(world, settings)
    ticket = await urge(own, chen, "2026-12-30 10:00")
    assert ticket.due_at == at("2027-01-04 17:30"), "Dec 31, then Mon Jan 4: Jan 1 is 元旦, Jan 2–3 a weekend"

    scheduler = EscalationScheduler(own)
    assert await scheduler.run_once(at("2027-01-01 18:00")) == 0, "nothing is overdue on New Year's Day"
    assert await scheduler.run_once(at("2027-01-04 17:31")) == 1
    assert await scheduler.run_once(at("2027-01-05 17:30")) == 0
    assert await scheduler.run_once(at("2027-01-05 17:31")) == 1
    assert await levels(own, chen, ticket) == [(1, at("2027-01-04 17:31")), (2, at("2027-01-05 17:31"))]


async def test_the_court_leaders_are_not_called_on_spring_festival_eve_2027(
    own: Services, world: World, settings: Settings
) -> None:
    chen = lawyer(world, settings)
    ticket = await urge(own, chen, "2027-02-02 10:00")
    assert ticket.due_at == at("2027-02-04 17:30")

    scheduler = EscalationScheduler(own)
    assert await scheduler.run_once(at("2027-02-04 17:31")) == 1
    # one working day after Thu Feb 4: not 除夕 (Fri Feb 5) nor 初一–初三 (Feb 6–8), but Tue Feb 9
    assert await scheduler.run_once(at("2027-02-05 17:31")) == 0
    assert await scheduler.run_once(at("2027-02-08 18:00")) == 0
    assert await scheduler.run_once(at("2027-02-09 17:31")) == 1
    assert await levels(own, chen, ticket) == [(1, at("2027-02-04 17:31")), (2, at("2027-02-09 17:31"))]
