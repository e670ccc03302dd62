"""Case binding applications are no oracle, and cannot be used to text a panel again and again.

Whether the client a lawyer names is one of the case's parties used to decide the answer
(CLIENT_NOT_A_PARTY, or PENDING and a text to the panel), so anyone could probe who is a party to a case.
Now both probes are stored, texted and answered alike (same data, no error, the same court calls and
database writes, the same order of time), and only the panel sees ``clientOnCase``. Each applicant may
apply ``binding_applications_per_day`` times in any 24 hours; more are RATE_LIMITED with the time to retry.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from gateway.bindings import service
from gateway.config import Settings
from gateway.core.runtime import Runtime
from gateway.services import Services
from gateway.store.bindings import BindingRecord
from gateway.store.notifications import SmsMessage
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.bindings.test_bindings import (
    DECIDE,
    FOR_PANEL,
    FRIDAY,
    JSONRPC,
    ONE,
    apply,
    attorney,
    clerk_of,
    codes,
    count,
    fresh_case,
    li_token,
    reasons,
    services_of,
    stack,  # noqa: F401 (the fixture)
    staff_token,
    viewer_of,
)
from tests.conftest import GraphQLClient, background_paused

#: what differs between any two applications whatever they probe (their ids, times and case)
OWN_FIELDS = {"id", "caseNumber", "appliedAt", "dueAt", "clientName", "reviewers"}
PANEL_VIEW = "query ($id: ID!) { caseBindingApplication(id: $id) { clientName clientOnCase } }"


async def probe(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings, client: str | None
) -> dict[str, Any]:
    """One application by a fresh lawyer to a fresh 粤0104 case naming ``client`` (None: the case's first
    party): its answer, its time, the court calls it made and the texts it queued."""
    services = services_of(gateway)
    case = fresh_case(sims, world, JSONRPC)
    named = client or case.parties[0].name
    court = sims.court_state(JSONRPC)
    texts_before = await count(services, SmsMessage)
    calls_before = Counter(court.counters)
    started = time.perf_counter()
    body = await apply(gateway, li_token(world, settings), case.case_number, client=named)
    seconds = time.perf_counter() - started
    calls = Counter(court.counters)
    calls.subtract(calls_before)
    return {
        "case": case,
        "body": body,
        "seconds": seconds,
        "calls": +calls,
        "texts": await count(services, SmsMessage) - texts_before,
    }


async def test_a_client_who_is_no_party_is_answered_exactly_as_one_who_is(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    async with background_paused(gateway.app):  # type: ignore[attr-defined]
        party = await probe(gateway, sims, world, settings, None)
        stranger = await probe(gateway, sims, world, settings, "查无此人")
    for p in (party, stranger):
        assert "errors" not in p["body"], p["body"]
    answers = [
        {k: v for k, v in p["body"]["data"]["applyForCaseBinding"].items() if k not in OWN_FIELDS}
        for p in (party, stranger)
    ]
    assert answers[0] == answers[1] and answers[0]["status"] == "PENDING"
    assert party["calls"] == stranger["calls"] and party["calls"], "the same calls at the court"
    assert party["texts"] == stranger["texts"] == len(service.reviewers_of(party["case"])), "the panel is told alike"
    fast, slow = sorted((party["seconds"], stranger["seconds"]))
    assert slow < 4 * fast + 0.3, f"the same timing class: {fast:.3f} s vs {slow:.3f} s"

    # the panel sees what the applicant is not told, and decides
    for p, on_case in ((party, True), (stranger, False)):
        application = p["body"]["data"]["applyForCaseBinding"]
        clerk = staff_token(world, settings, clerk_of(p["case"]), JSONRPC)
        seen = await gateway.query(PANEL_VIEW, {"id": application["id"]}, token=clerk)
        assert seen["data"]["caseBindingApplication"]["clientOnCase"] is on_case
        listed = await gateway.query(FOR_PANEL, {"status": "PENDING"}, token=clerk)
        assert application["id"] in [e["node"]["id"] for e in listed["data"]["caseBindingApplications"]["edges"]]
    applicant = li_token(world, settings)
    own = await apply(gateway, applicant, fresh_case(sims, world, JSONRPC).case_number, client="查无此人")
    mine = await gateway.query(PANEL_VIEW, {"id": own["data"]["applyForCaseBinding"]["id"]}, token=applicant)
    assert mine["data"]["caseBindingApplication"] == {"clientName": "查无此人", "clientOnCase": None}

    # the clerk rejects the stranger's: the applicant hears the decision, not the reason the gateway saw
    clerk = staff_token(world, settings, clerk_of(stranger["case"]), JSONRPC)
    stranger_id = stranger["body"]["data"]["applyForCaseBinding"]["id"]
    decided = await gateway.query(
        DECIDE, {"id": stranger_id, "approve": False, "note": "委托人并非本案当事人"}, token=clerk
    )
    assert decided["data"]["decideCaseBinding"]["status"] == "REJECTED"


async def test_a_client_name_longer_than_the_record_holds_is_refused_before_the_court_is_asked(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = fresh_case(sims, world, JSONRPC)
    body = await apply(gateway, li_token(world, settings), case.case_number, client="名" * (service.MAX_CLIENT + 1))
    assert reasons(body) == ["CLIENT_TOO_LONG"]
    assert len(body["errors"][0]["message"]) < 100, "the name is not echoed back"


async def test_applications_beyond_the_daily_limit_are_rate_limited_alike_for_every_probe(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    limit = settings.binding_applications_per_day
    li = li_token(world, settings, sub=f"prober-{uuid.uuid4().hex[:8]}")
    services = services_of(gateway)
    for _ in range(limit):
        case = fresh_case(sims, world, JSONRPC)
        body = await apply(gateway, li, case.case_number, client=case.parties[0].name)
        assert "errors" not in body, body
    texts = await count(services, SmsMessage)
    refused = []
    for client in (None, "查无此人"):
        case = fresh_case(sims, world, JSONRPC)
        body = await apply(gateway, li, case.case_number, client=client or case.parties[0].name)
        assert codes(body) == ["RATE_LIMITED"] and body["data"] is None
        refused.append(body["errors"][0])
    assert refused[0]["message"] == refused[1]["message"]
    assert refused[0]["extensions"]["retryAt"] == refused[1]["extensions"]["retryAt"]
    assert 0 < int(refused[0]["extensions"]["retryAfterSeconds"]) <= 24 * 3600
    assert await count(services, SmsMessage) == texts, "no panel was texted"
    # nor were the refused ones stored
    mine = await gateway.query("{ myCaseBindings(first: 50) { totalCount } }", token=li)
    assert mine["data"]["myCaseBindings"]["totalCount"] == limit
    # another applicant is not held back by this one
    other = fresh_case(sims, world, JSONRPC)
    assert "errors" not in await apply(
        gateway, li_token(world, settings), other.case_number, client=other.parties[0].name
    )


async def test_the_limit_counts_24_hours_from_the_oldest_application_in_them(
    stack: Services,  # noqa: F811
    sims: SimulatorCluster,
    world: World,
    settings: Settings,
) -> None:
    fields = {name: getattr(stack, name) for name in Runtime.__dataclass_fields__}
    runtime = Runtime(**fields | {"settings": stack.settings.model_copy(update={"binding_applications_per_day": 2})})
    bindings = service.BindingService(runtime)
    li = viewer_of(world, settings, "lawyer-li", sub=f"li-{uuid.uuid4().hex[:6]}")

    async def one(at: Any) -> str:
        case = fresh_case(sims, world, JSONRPC)
        try:
            await bindings.apply(
                li, case_number=case.case_number, files=attorney(), client_name=case.parties[0].name, now=at
            )
        except service.RateLimited as e:
            return f"RATE_LIMITED until {e.details['retryAt']}"
        return "stored"

    first = FRIDAY
    assert await one(first) == "stored"
    assert await one(first + timedelta(hours=5)) == "stored"
    retry = (first + timedelta(days=1)).astimezone(service.UTC).isoformat(timespec="seconds")
    assert await one(first + timedelta(hours=6)) == f"RATE_LIMITED until {retry}"
    assert await one(first + timedelta(hours=23, minutes=59)) == f"RATE_LIMITED until {retry}"
    assert await one(first + timedelta(days=1, seconds=1)) == "stored", "the oldest left the window"
    second_retry = (first + timedelta(days=1, hours=5)).astimezone(service.UTC).isoformat(timespec="seconds")
    assert await one(first + timedelta(days=1, minutes=1)) == f"RATE_LIMITED until {second_retry}"
    assert await count(stack, BindingRecord, BindingRecord.applicant_subject == li.subject) == 3


async def test_the_panel_decides_on_a_stranger_named_as_client(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    """Approved all the same (the power of attorney convinced the panel): the case is the lawyer's in the
    gateway, and no court write is attempted for a client the court does not list."""
    case = fresh_case(sims, world, JSONRPC)
    li = li_token(world, settings)
    body = await apply(gateway, li, case.case_number, client="查无此人")
    application = body["data"]["applyForCaseBinding"]
    clerk = staff_token(world, settings, clerk_of(case), JSONRPC)
    decided = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, token=clerk)
    assert decided["data"]["decideCaseBinding"]["courtWrite"] == "UNSUPPORTED"
    state = await gateway.query(ONE, {"id": application["id"]}, token=li)
    assert state["data"]["caseBindingApplication"]["status"] == "APPROVED"
