"""Writers on the embedded SQLite store hold under a busy CPU: a process's write units of work take
turns in asyncio, so none of them waits in SQLite's busy handler for another, however slowly the event
loop turns; a task that opens a write unit inside its own gets an error, not a deadlock.

The starvation tests cut the busy timeout to 50 ms: a writer that waited on SQLite's lock for a writer
of its own process would fail at once ("database is locked"), so passing proves none did.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.store import Store, sqlite
from gateway.store.audit import append, verify
from gateway.store.migrate import upgrade_async
from gateway.store.models import AuditRecord
from gateway.store.sqlite import NestedWriteError
from gateway.store.testing import postgres_schema, sqlite_url

WRITERS = 40
POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")


@pytest.fixture
def impatient_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 50)


async def _write(store: Store, n: int) -> None:
    """A unit of work of several round trips (read the chain's head, insert, move the head)."""
    async with store.session() as session:
        await append(session, actor="u", action="filing.submitted", subject_type="filing", subject_id=str(n))
        await asyncio.sleep(0)  # let the other writers run meanwhile


async def _records(store: Store) -> int:
    async with store.session(read_only=True) as session:
        assert (await verify(session)).ok
        return (await session.execute(select(func.count()).select_from(AuditRecord))).scalar_one()


@pytest.mark.usefixtures("impatient_sqlite", "busy_cpu")
async def test_concurrent_writers_on_a_starved_loop_all_commit(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    async with Store(url) as store:
        outcomes = await asyncio.gather(*(_write(store, n) for n in range(WRITERS)), return_exceptions=True)
        assert [o for o in outcomes if o is not None] == []
        assert await _records(store) == WRITERS


@pytest.mark.usefixtures("impatient_sqlite", "busy_cpu")
async def test_stores_on_one_file_take_turns_together(tmp_path: Path) -> None:
    """A test process and the gateway it serves on loopback each open their own store on one file."""
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    async with Store(url) as first, Store(url) as second:
        outcomes = await asyncio.gather(
            *(_write(first if n % 2 else second, n) for n in range(WRITERS)), return_exceptions=True
        )
        assert [o for o in outcomes if o is not None] == []
        assert await _records(first) == WRITERS


async def test_a_write_unit_inside_another_of_the_same_task_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    async with Store(url) as store, Store(url) as same_file:
        async with store.session() as outer:
            await append(outer, actor="u", action="filing.submitted", subject_type="filing", subject_id="1")
            for inner_store in (store, same_file):
                with pytest.raises(NestedWriteError, match="inside another one of the same task"):
                    async with asyncio.timeout(5), inner_store.session():
                        pass
            async with store.session(read_only=True) as reader:  # reading beside one's own write is fine
                assert (await verify(reader)).ok
        assert await _records(store) == 1  # the outer unit was not disturbed
        await _write(store, 2)  # and its turn was handed on
        assert await _records(store) == 2


@pytest.mark.skipif(not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
async def test_postgresql_writers_do_not_take_turns() -> None:
    """Only SQLite's single write lock needs turns: on PostgreSQL a task may hold two write units."""
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        async with Store(url) as store:
            async with store.session() as outer, asyncio.timeout(5), store.session() as inner:
                await append(inner, actor="u", action="filing.submitted", subject_type="filing", subject_id="1")
                assert (await outer.execute(select(func.count()).select_from(AuditRecord))).scalar_one() == 0
            assert await _records(store) == 1
