"""Kill -9 with deliveries pending, restart, and count at the courts: every filing there exactly once.

The gateway runs as a real process (``court-gateway serve``) on a temporary SQLite database, in front
of the session's simulators (their ports reach it as ``GATEWAY_COURT_OVERRIDES__<SLUG>__BASE_URL``).
Twelve filings go in across four courts of all four families while three of those courts are down.
One of them then comes back with a trap: the moment it records one of our filings it SIGKILLs the
gateway, so the court has accepted what the gateway never marked delivered. The other courts come
back, a new gateway process starts on the same database, and the test waits until all twelve are
DELIVERED. Then each simulator's own records are counted: one record per filing (the key derived from
the filing's id), with the trapped ones delivered twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from gateway.adapters.model import Filing, FilingReceipt
from gateway.config import Settings
from gateway.filings.service import court_key
from gateway.schema.common import parse_global_id
from gateway.store import Store
from gateway.store.filings import FilingRecord
from gateway.store.migrate import upgrade_async
from gateway.store.testing import sqlite_url
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, _free_port
from tests.filings.test_filings import PDF, PNG, cases_of, upload

GATEWAY = Path(sys.executable).with_name("court-gateway")
DOWN = ("粤0105", "粤0115")  # soap-gbk and csv-export: down until the second gateway runs
TRAPPED = "粤0104"  # jsonrpc-sign: its first acceptance of our filings kills the gateway before it commits
UP = "粤01"  # v2-rest: up throughout
COURTS = (*DOWN, TRAPPED, UP)
PER_COURT = 3


def gateway_env(settings: Settings, database_url: str, port: int) -> dict[str, str]:
    """This process's environment without its GATEWAY_* settings, plus the gateway's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=str(port),
        GATEWAY_CHANGE_POLL_S="0",
        GATEWAY_WORKER_INTERVAL_S="0.2",
        GATEWAY_FILING_RETRY_BASE_S="0.2",
        GATEWAY_FILING_RETRY_CAP_S="1",
        GATEWAY_FILING_CLAIM_LEASE_S="3",
    )
    for court in settings.courts:
        prefix = f"GATEWAY_COURT_OVERRIDES__{court.slug.upper()}__"
        env[prefix + "BASE_URL"] = court.base_url
        env[prefix + "DEADLINE_MS"] = str(court.deadline_ms)
    return env


@contextlib.asynccontextmanager
async def gateway_process(env: dict[str, str], workdir: Path, name: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``court-gateway serve`` in its own process, up when /healthz answers; killed if still running after."""
    log = (workdir / f"{name}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY), "serve", env=env, cwd=workdir, stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{env['GATEWAY_PORT']}/healthz"
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            break
                assert process.returncode is None, (workdir / f"{name}.log").read_text()
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the gateway did not come up")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def statuses(database_url: str, ids: list[str]) -> dict[str, FilingRecord]:
    async with Store(database_url) as store, store.session(read_only=True) as session:
        rows = await session.scalars(select(FilingRecord).where(FilingRecord.id.in_(ids)))
        return {r.id: r for r in rows}


@pytest.mark.timeout(90)
async def test_filings_pending_at_a_sigkill_reach_each_court_exactly_once(
    tmp_path: Path,
    settings: Settings,
    sims: SimulatorCluster,
    world: World,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL lands at the worst moment: the court has just recorded a filing and the gateway has not
    committed it (the simulator kills the gateway from inside its request handler)."""
    started = time.monotonic()
    database_url = sqlite_url(tmp_path)
    await upgrade_async(database_url)
    env = gateway_env(settings, database_url, _free_port())
    client = GraphQLClient(f"http://127.0.0.1:{env['GATEWAY_PORT']}/graphql", tokens)
    prefix = f"kill-{uuid.uuid4().hex[:8]}-"
    targets = [case for court in COURTS for case in cases_of(sims, world, "lawyer-chen", court)[:PER_COURT]]
    assert len(targets) == len(COURTS) * PER_COURT == 12

    for court in (*DOWN, TRAPPED):
        await sims.set_outage(court, True)
    async with gateway_process(env, tmp_path, "first") as first:
        files = [("答辩状.pdf", PDF, ""), ("证据.png", PNG, "")]
        answers = await asyncio.gather(
            *(upload(client, case.case_number, files, title=f"{prefix}{i}") for i, case in enumerate(targets))
        )
        assert all(a["data"]["submitFiling"]["status"] == "SUBMITTED" for a in answers), answers

        court = sims.court_state(TRAPPED)
        accept = court.submit_filing

        def accept_then_kill(filing: Filing) -> FilingReceipt:
            receipt = accept(filing)
            if filing.title.startswith(prefix) and first.returncode is None:
                os.kill(first.pid, signal.SIGKILL)  # the answer never reaches the gateway
            return receipt

        monkeypatch.setattr(court, "submit_filing", accept_then_kill)
        await sims.set_outage(TRAPPED, False)
        await asyncio.wait_for(first.wait(), 20)
    assert first.returncode == -signal.SIGKILL
    monkeypatch.undo()
    ids = [parse_global_id(a["data"]["submitFiling"]["id"])[1] for a in answers]
    at_kill = await statuses(database_url, ids)
    accepted_unrecorded = [
        i
        for i, r in at_kill.items()
        if r.status == "SUBMITTED" and court_key(i) in sims.court_state(r.court_code).filings
    ]
    assert accepted_unrecorded, "the court accepted filings the gateway never recorded as delivered"
    pending = collections.Counter(r.status for r in at_kill.values())

    await sims.clear_faults()
    async with gateway_process(env, tmp_path, "second"):
        for _ in range(300):
            rows = await statuses(database_url, ids)
            if all(r.status == "DELIVERED" for r in rows.values()):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"not all delivered: {collections.Counter(r.status for r in rows.values())}")

    counted: dict[str, tuple[int, int]] = {}
    for code in COURTS:
        ours = [r for r in sims.court_state(code).filings.values() if r.filing.title.startswith(prefix)]
        titles = collections.Counter(r.filing.title for r in ours)
        assert len(ours) == PER_COURT and set(titles.values()) == {1}, f"{code}: {titles}"
        counted[code] = (len(ours), sum(r.deliveries for r in ours))
    for filing_id, row in rows.items():
        record = sims.court_state(row.court_code).filings[court_key(filing_id)]  # the one record of its key
        assert record.receipt.receipt_number == row.receipt_number, "the retry got the first receipt"
        assert [a.content for a in record.filing.attachments] == [PDF, PNG]
        if filing_id in accepted_unrecorded:
            assert record.deliveries >= 2, "delivered again after the restart, recorded once"

    records = sum(n for n, _ in counted.values())
    deliveries = sum(d for _, d in counted.values())
    print(
        f"\nkill-and-restart: {len(ids)} filings over {len(COURTS)} courts; at SIGKILL {dict(pending)} "
        f"({len(accepted_unrecorded)} already accepted by {TRAPPED} but not recorded by the gateway); "
        f"after the restart all DELIVERED; court records {records} (one per filing), court deliveries "
        f"{deliveries}: "
        + ", ".join(f"{c} {n} records/{d} deliveries" for c, (n, d) in counted.items())
        + f"; {time.monotonic() - started:.1f} s"
    )
    assert records == len(ids)
