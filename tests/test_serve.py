"""``court-gateway serve`` as an operator runs it: on a migrated database only, N processes, a clean stop.

Migrations are a deploy step of their own (``court-gateway migrate``, a Kubernetes Job): ``serve`` never
migrates, and refuses a database that lacks this release's revisions, naming the command to run. A
database that a later release has migrated (a rolling update, a rollback) is served with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from gateway.cli import _require_migrated
from gateway.store import Store
from gateway.store.migrate import behind_head, current_revision, head_revision, upgrade, upgrade_async
from gateway.store.testing import postgres_schema, sqlite_url
from tests.conftest import _free_port

GATEWAY = Path(sys.executable).with_name("court-gateway")
POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set")
PREVIOUS = "0009"  # a revision before the head: what a database left by the previous release is at


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        yield url


async def stamp(database_url: str, revision: str) -> None:
    async with Store(database_url) as store, store.session() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


async def test_a_database_is_behind_until_it_reaches_this_releases_head(empty_database: str) -> None:
    assert await current_revision(empty_database) is None
    assert behind_head(None), "never migrated"
    await upgrade_async(empty_database, PREVIOUS)
    assert await current_revision(empty_database) == PREVIOUS
    assert behind_head(PREVIOUS), "the previous release's schema"
    await upgrade_async(empty_database)
    assert await current_revision(empty_database) == head_revision()
    assert not behind_head(head_revision())
    await stamp(empty_database, "9999")
    assert not behind_head(await current_revision(empty_database)), "a later release's revision is not behind"


def test_serve_refuses_a_database_at_the_previous_release(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url, PREVIOUS)
    with pytest.raises(SystemExit) as refused:
        _require_migrated(url)
    message = str(refused.value)
    assert f"is at revision {PREVIOUS}; this release needs revision {head_revision()}" in message
    assert "Run `court-gateway migrate`" in message


def test_serve_starts_on_a_later_releases_schema_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url)
    asyncio.run(stamp(url, "9999"))
    _require_migrated(url)  # no exit
    assert f"at revision 9999, newer than this release's {head_revision()}" in capsys.readouterr().err


def serve_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return {**env, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_CHANGE_POLL_S": "0"}


async def test_serve_refuses_an_unmigrated_database_naming_the_migrate_command(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY),
        "serve",
        "--port",
        str(_free_port()),
        env=serve_env(url),
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    message = err.decode()
    assert process.returncode == 1, message
    assert (
        f"court-gateway: the database {url} is not migrated; this release needs revision {head_revision()}" in message
    )
    assert "`court-gateway migrate`" in message and "Traceback" not in message
    assert await current_revision(url) is None, "serve never migrates on its own"


def worker_processes(pid: int) -> list[int]:
    """The uvicorn worker processes of a ``serve`` (its children but multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.timeout(150)
async def test_serve_runs_the_workers_asked_for_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--graceful-timeout",
        "5",
        env=serve_env(url),
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            ready = None
            for _ in range(600):  # two processes import the whole gateway: slow on a busy machine
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        ready = (response.status, await response.json())
                        break
                assert process.returncode is None, "serve exited early"
                await asyncio.sleep(0.1)
        assert ready is not None, "serve never answered"
        assert ready[0] == 200 and ready[1]["database"] == "ok", ready
        workers = worker_processes(process.pid)
        assert len(workers) == 2, workers

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        assert time.monotonic() - started < 30, "idle workers stop without waiting out any grace"
        assert "Traceback" not in err.decode(), err.decode()
        assert not any(map(os.path.exists, (f"/proc/{w}" for w in workers))), "every worker process ended"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
