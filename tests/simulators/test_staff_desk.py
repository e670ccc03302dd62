"""The simulators' staff desk does what its options say, through the CLI and the control API.

``court-gateway sims staff <court> serve-document --addressee-kind PARTY|LAWYER`` serves a document the
addressee's court lists for them and whose feed event reaches them through the gateway;
``schedule-hearing`` adds a hearing and its summonses without touching what was served before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from gateway.adapters.model import PersonRef
from gateway.cli import main
from gateway.notifications.service import person_key
from gateway.services import Services
from gateway.store.notifications import InAppNotification
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, _free_port, following_every_feed

YUEXIU = "粤0104"


@contextlib.asynccontextmanager
async def control_api(cluster: SimulatorCluster, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The cluster's control API on a free port, where the CLI looks for it."""
    port = _free_port()
    runner = web.AppRunner(cluster.control_app(), handle_signals=False, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("GATEWAY_HOST", "127.0.0.1")
    monkeypatch.setenv("GATEWAY_SIM_CONTROL_PORT", str(port))
    try:
        yield
    finally:
        await runner.cleanup()


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """Run ``court-gateway <argv>`` and return its JSON output."""
    capsys.readouterr()
    await asyncio.to_thread(main, list(argv))
    return json.loads(capsys.readouterr().out)


async def served_notices(services: Services, key: str, case_number: str) -> list[InAppNotification]:
    async with services.store.session(read_only=True) as session:
        rows = await session.scalars(
            select(InAppNotification).where(
                InAppNotification.recipient_key == key,
                InAppNotification.kind == "DOCUMENT_SERVED",
                InAppNotification.case_number == case_number,
            )
        )
        return list(rows)


@pytest.mark.parametrize(("login", "kind"), [("lawyer-chen", "LAWYER"), ("party-wang", "PARTY")])
async def test_serve_document_on_a_lawyer_or_a_party_reaches_them(
    gateway: GraphQLClient,
    cluster: SimulatorCluster,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    login: str,
    kind: str,
) -> None:
    person = world.demo[login]
    ref = PersonRef(person.kind, person.number)
    case = cluster.court_state(YUEXIU).cases_of(ref)[0]
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    await following_every_feed(gateway.app)  # type: ignore[attr-defined]
    title = f"举证通知书（{kind}）"
    async with control_api(cluster, monkeypatch):
        doc = await cli(
            capsys,
            *("sims", "staff", YUEXIU, "serve-document", "--case-number", case.case_number),
            *("--addressee-number", person.number, "--addressee-kind", kind, "--title", title),
        )
    assert doc["addressee"] == {"kind": person.kind.value, "number": person.number}
    # the court lists it for that addressee, on its own wire (the gateway's adapter reads it)
    listed = await services.registry[YUEXIU].list_documents(ref)
    assert doc["document_id"] in {d.document_id for d in listed}
    # and the feed event reaches them as a notice, once
    for _ in range(100):
        found = await served_notices(services, person_key(ref), case.case_number)
        if any(title in n.body for n in found):
            break
        await asyncio.sleep(0.1)
    assert len([n for n in found if title in n.body]) == 1


async def test_the_desk_refuses_what_its_options_do_not_say(
    cluster: SimulatorCluster, world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chen = world.demo["lawyer-chen"]
    case = cluster.court_state(YUEXIU).cases_of(PersonRef(chen.kind, chen.number))[0]
    with pytest.raises(SystemExit):  # argparse: not one of PARTY, LAWYER
        main(["sims", "staff", YUEXIU, "serve-document", "--addressee-kind", "JUDGE"])
    async with control_api(cluster, monkeypatch):
        with pytest.raises(SystemExit, match="400"):  # a lawyer's licence served as a party's ID number
            await cli(
                capsys,
                *("sims", "staff", YUEXIU, "serve-document", "--case-number", case.case_number),
                *("--addressee-number", chen.number, "--addressee-kind", "PARTY", "--title", "通知书"),
            )
        # a field left out is named (a 400), not answered as if the case did not exist
        with pytest.raises(SystemExit, match=r"400.*serve-document needs addressee_number"):
            await cli(
                capsys,
                *("sims", "staff", YUEXIU, "serve-document", "--case-number", case.case_number, "--title", "通知书"),
            )
        with pytest.raises(SystemExit, match=r"400.*needs case_id or case_number, starts_at"):
            await cli(capsys, "sims", "staff", YUEXIU, "schedule-hearing")


async def test_schedule_hearing_leaves_what_was_served_before_as_it_was(
    cluster: SimulatorCluster, world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = cluster.court_state(YUEXIU)
    platform = next(code for code, b in cluster.backends.items() if not b.config.is_court)
    case = next(
        c
        for c in state.all_cases()
        if c.case_id not in state.overrides and len(c.parties) + len(c.agents) >= 2 and c.hearings
    )
    before = {d.document_id: d for d in state.case_documents(case.case_id)}
    copies_before = {d.document_id: d for d in cluster.backend(platform).state.documents_of(before_ref(before))}
    assert len({d.addressee for d in before.values()}) >= 2, "documents to at least two people"
    try:
        async with control_api(cluster, monkeypatch):
            hearing = await cli(
                capsys,
                *("sims", "staff", YUEXIU, "schedule-hearing", "--case-number", case.case_number),
                *("--starts-at", "2026-03-02T09:30:00+08:00", "--room", "第5法庭"),
            )
        assert hearing["room"] == "第5法庭"
        after = {d.document_id: d for d in state.case_documents(case.case_id)}
        copies_after = {d.document_id: d for d in cluster.backend(platform).state.documents_of(before_ref(before))}
    finally:
        state.overrides.pop(case.case_id, None)
    assert set(before) <= set(after), "no document lost or renumbered"
    changed = [i for i, d in before.items() if after[i] != d]
    assert changed == [], f"served times or flags of earlier documents changed: {changed}"
    summonses = [d for i, d in after.items() if i not in before]
    assert summonses and all("2026年03月02日" in d.title for d in summonses)
    assert {i: copies_after[i] for i in copies_before} == copies_before, "the platform's copies too"


def before_ref(documents: dict[str, Any]) -> PersonRef:
    """The addressee of the earliest document (whose platform copies are compared)."""
    first: Any = min(documents.values(), key=lambda d: d.served_at)
    ref: PersonRef = first.addressee
    return ref
