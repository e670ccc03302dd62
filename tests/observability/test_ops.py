"""``/ops``: who may open the operators' page, and what it tells them about each court."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

from gateway.adapters.resilience import CourtHealth
from gateway.config import Settings
from gateway.core import deadlines
from gateway.observability.exposition import Backlog
from gateway.observability.ops import CourtLine, OpsView, render
from gateway.observability.recent import Recent
from simulators.generator import World
from tests.conftest import GraphQLClient
from tests.observability.conftest import SCRAPE_TOKEN, get, operator_token

HEADINGS = (
    "Court",
    "Health",
    "Breaker",
    "Calls (5 min)",
    "Error rate (5 min)",
    "Latency (5 min, mean / max)",
    "Calls",
    "Error rate",
    "Latency (avg)",
    "Last error",
    "Feed lag",
)


def court_cells(page: str, code: str) -> dict[str, str]:
    """One court's row, by column heading (text unescaped)."""
    heads = [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', page)]
    row = re.search(rf'<tr data-court="{re.escape(html.escape(code))}">(.*?)</tr>', page)
    assert row is not None, f"no row for {code}"
    cells = [
        html.unescape(re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row[1])
    ]
    assert len(cells) == len(heads)
    return dict(zip(heads, cells, strict=True))


async def open_ops(observed: GraphQLClient, token: str) -> str:
    status, headers, page = await get(ops_url(observed), {"Authorization": f"Bearer {token}"})
    assert status == 200 and headers["content-type"].startswith("text/html"), page
    assert headers["cache-control"] == "no-store" and "script-src" not in headers["content-security-policy"]
    return page


def ops_url(observed: GraphQLClient) -> str:
    return observed.url.removesuffix("/graphql") + "/ops"


async def test_only_operators_and_the_scrape_token_may_open_the_ops_page(
    observed: GraphQLClient, world: World, settings: Settings
) -> None:
    court = settings.courts[0]
    status, headers, body = await get(ops_url(observed))
    assert status == 401 and headers["www-authenticate"] == "Bearer" and '"UNAUTHENTICATED"' in body
    assert court.name not in body
    status, _, body = await get(ops_url(observed) + f"?token={operator_token(world, settings)}")
    assert status == 401, "a token in the URL is not accepted"
    for login in ("lawyer-chen", "judge-0104"):  # a party's lawyer, a judge: not operators
        status, _, body = await get(ops_url(observed), {"Authorization": f"Bearer {observed.tokens[login]}"})
        assert status == 403 and '"FORBIDDEN"' in body and court.name not in body, login
    for token in (operator_token(world, settings), SCRAPE_TOKEN):
        page = await open_ops(observed, token)
        assert '<table id="courts">' in page


async def test_the_page_lists_every_court_with_its_health_and_overdue_items(
    observed: GraphQLClient, world: World, settings: Settings
) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    court = settings.courts[0]
    # a call to the court, so its figures are the ones seen by this process
    assert "errors" not in await observed.query("{ myCases(first: 1) { totalCount } }", as_="lawyer-chen")
    token = operator_token(world, settings)
    before = court_cells(await open_ops(observed, token), court.code)

    now = datetime.now(UTC)
    calendar = services.tickets.calendar
    answered = uuid.uuid4().hex
    async with services.store.session() as session:
        for subject_type, subject_id, started in (
            ("ticket", uuid.uuid4().hex, now - timedelta(days=40)),  # overdue
            ("ticket", answered, now - timedelta(days=40)),  # overdue, then answered late: not counted
            ("binding", uuid.uuid4().hex, now - timedelta(days=40)),  # overdue
            ("binding", uuid.uuid4().hex, datetime(2027, 12, 30, 10, tzinfo=UTC)),  # not due; a year with no schedule
        ):
            await deadlines.track(
                session,
                subject_type=subject_type,
                subject_id=subject_id,
                court_code=court.code,
                division=None,
                handlers=["s-1"],
                started_at=started,
                working_days=2,
                calendar=calendar,
            )
        await deadlines.settle(session, subject_type="ticket", subject_id=answered, at=now)
    page = await open_ops(observed, token)

    for c in settings.courts:
        cells = court_cells(page, c.code)
        assert c.name in cells["Court"] and cells["Health"] in {"HEALTHY", "DEGRADED", "DOWN"}
        assert cells["Breaker"] in {"CLOSED", "OPEN", "HALF_OPEN"}
    after = court_cells(page, court.code)
    assert int(after["Calls"]) >= 1 and after["Error rate"].endswith("%")
    assert int(after["Calls (5 min)"]) >= 1 and after["Error rate (5 min)"].endswith("%")
    assert re.fullmatch(r"\d+ ms / \d+ ms", after["Latency (5 min, mean / max)"])
    assert after["Latency (avg)"].endswith(" ms")
    assert int(after["Overdue bindings"]) == int(before["Overdue bindings"]) + 1
    assert int(after["Overdue 12368 tickets"]) == int(before["Overdue 12368 tickets"]) + 1
    assert '<table id="outboxes">' in page and "signatures" in page
    warning = re.search(r'<p class="warning" id="calendar">(.*?)</p>', page)
    assert warning is not None and "2027" in warning[1] and "GATEWAY_CALENDAR_OVERRIDE_FILE" in warning[1]


def test_every_value_on_the_page_is_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    health = CourtHealth(
        court_code=hostile,
        state="DEGRADED",
        breaker_state="CLOSED",
        consecutive_failures=2,
        last_error_code=hostile,
        last_error_at=None,
        last_success_at=None,
        latency_ms_ewma=12.4,
        calls=8,
        failures=2,
    )
    recent = Recent(5, calls=4, failures=1, latency_s=0.4, slowest_s=0.25)
    view = OpsView(
        at=datetime(2026, 12, 7, 12, tzinfo=UTC),
        courts=[CourtLine(code=hostile, name=hostile, health=health, recent=recent, feed_lag_s=None, overdue=None)],
        backlogs=[Backlog(kind=hostile, rows=3, oldest_age_s=61.0)],
        unpublished_years=(),
    )
    page = render(view)
    assert "<script" not in page and "&lt;script&gt;" in page
    cells = court_cells(page, hostile)
    assert cells["Error rate"] == "25.0%" and cells["Latency (avg)"] == "12 ms"
    assert cells["Calls (5 min)"] == "4" and cells["Error rate (5 min)"] == "25.0%"
    assert cells["Latency (5 min, mean / max)"] == "100 ms / 250 ms"
    assert cells["Feed lag"] == "not followed here" and cells["Overdue 12368 tickets"] == "unavailable"
    assert 'id="calendar"' not in page, "no warning while every year used has a published schedule"
