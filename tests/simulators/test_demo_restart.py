"""``make demo``, stopped with Ctrl-C and started again, carries on: the courts remember their filings.

``court-gateway demo`` runs as a real process in a directory of its own (its ``.data/`` there, as on a
fresh clone), on free loopback ports. lawyer-chen files; the demo is stopped with SIGINT (Ctrl-C) and
started again; she files again: the second filing is DELIVERED too, with a new receipt number, and the
court's own records hold both. When the courts' records are gone (deleted, or a demo from before they were
kept), the gateway's database of the earlier run is moved aside and the console says so, so that the
court and the gateway agree again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from gateway.adapters.model import PersonRef
from gateway.config import Settings
from simulators.generator import World
from tests.conftest import GraphQLClient, _free_port, mint
from tests.filings.test_filings import PDF, upload, wait_for

GATEWAY = Path(sys.executable).with_name("court-gateway")
COURT = "粤0104"  # jsonrpc-sign


def demo_env(settings: Settings) -> dict[str, str]:
    """This process's environment without its GATEWAY_* settings, on free ports for everything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_PORT=str(_free_port()),
        GATEWAY_SIM_CONTROL_PORT=str(_free_port()),
        GATEWAY_DEMO_IDP_PORT=str(_free_port()),
        GATEWAY_WORKER_INTERVAL_S="0.2",
    )
    for court in settings.courts:
        env[f"GATEWAY_COURT_OVERRIDES__{court.slug.upper()}__BASE_URL"] = f"http://127.0.0.1:{_free_port()}"
    return env


@contextlib.asynccontextmanager
async def demo(env: dict[str, str], workdir: Path, name: str) -> AsyncIterator[Path]:
    """``court-gateway demo`` until the block ends, then Ctrl-C (SIGINT); yields its console log."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(GATEWAY), "demo", env=env, cwd=workdir, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{env['GATEWAY_PORT']}/healthz"
            async with aiohttp.ClientSession() as session:
                for _ in range(300):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(url) as response:
                            if response.status == 200:
                                break
                    assert process.returncode is None, log_path.read_text()
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"the demo did not come up: {log_path.read_text()}")
            yield log_path
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def file_once(env: dict[str, str], world: World, settings: Settings, case_number: str) -> dict[str, Any]:
    """lawyer-chen files an 答辩状 and waits until the court has it."""
    client = GraphQLClient(
        f"http://127.0.0.1:{env['GATEWAY_PORT']}/graphql", {"lawyer-chen": mint(world, settings, "lawyer-chen")}
    )
    body = await upload(client, case_number, [("答辩状.pdf", PDF, "application/pdf")])
    assert "errors" not in body, body
    return await wait_for(client, body["data"]["submitFiling"]["id"], lambda f: f["status"] != "SUBMITTED")


async def court_filings(env: dict[str, str]) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{env['GATEWAY_SIM_CONTROL_PORT']}/courts/{COURT}/filings"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        found: list[dict[str, Any]] = await response.json()
        return found


async def test_a_restarted_demo_delivers_new_filings_with_new_receipt_numbers(
    tmp_path: Path, world: World, settings: Settings
) -> None:
    chen = world.demo["lawyer-chen"]
    case = world.courts[COURT].cases_of(PersonRef(chen.kind, chen.number))[0]
    env = demo_env(settings)

    async with demo(env, tmp_path, "first") as console:
        first = await file_once(env, world, settings, case.case_number)
    assert "no saved records" in console.read_text() and "moved" not in console.read_text()
    assert first["status"] == "DELIVERED", first
    # Ctrl-C shuts the gateway down in order (its lifespan stops the workers), not cancelled mid-lifespan
    assert "Traceback" not in console.read_text() and "CancelledError" not in console.read_text()

    async with demo(env, tmp_path, "second") as console:
        second = await file_once(env, world, settings, case.case_number)
        at_court = await court_filings(env)
    assert "reloaded the courts' records" in console.read_text()
    assert second["status"] == "DELIVERED", second
    assert second["receiptNumber"] != first["receiptNumber"]
    assert [f["receipt_number"] for f in at_court] == [first["receiptNumber"], second["receiptNumber"]]
    assert (tmp_path / ".data" / "gateway.db").exists()


async def test_without_the_courts_records_the_gateway_starts_afresh_too_and_says_so(
    tmp_path: Path, world: World, settings: Settings
) -> None:
    """A demo from before the courts kept records (or their directory deleted): no LOCAL_CONFLICT."""
    chen = world.demo["lawyer-chen"]
    case = world.courts[COURT].cases_of(PersonRef(chen.kind, chen.number))[1]
    env = demo_env(settings)
    async with demo(env, tmp_path, "first"):
        first = await file_once(env, world, settings, case.case_number)
    for saved in (tmp_path / ".data" / "sims").iterdir():
        saved.unlink()

    async with demo(env, tmp_path, "second") as console:
        second = await file_once(env, world, settings, case.case_number)
    text = console.read_text()
    assert "the courts start from their seed" in text
    assert "the gateway's database of an earlier run was moved to .data/gateway-" in text
    assert (first["status"], second["status"]) == ("DELIVERED", "DELIVERED"), second
    assert second["receiptNumber"] == first["receiptNumber"], "the court started from its seed: the same number"
    aside = [p.name for p in (tmp_path / ".data").glob("gateway-*.db")]
    assert len(aside) == 1, "the earlier database is kept, aside"
