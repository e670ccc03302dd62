"""The store: migrations on an empty database, models agreeing with them, units of work, SQLite setup.

Every test runs on SQLite (a fresh file) and on PostgreSQL (a fresh schema) when
``GATEWAY_TEST_POSTGRES_URL`` names a server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError

from gateway.cli import main
from gateway.config import Settings
from gateway.store import Store
from gateway.store.audit import append, verify
from gateway.store.migrate import alembic_config, head_revision, upgrade, upgrade_async
from gateway.store.models import AuditHead, AuditRecord, Base
from gateway.store.testing import sqlite_url

VERSIONS = Path(__file__).resolve().parents[2] / "gateway" / "store" / "migrations" / "versions"


async def _count(store: Store, model: type[Base]) -> int:
    async with store.session(read_only=True) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_migrate_on_an_empty_database_then_again_changes_nothing(database_url: str) -> None:
    assert head_revision() == sorted(p.stem.split("_")[0] for p in VERSIONS.glob("0*.py"))[-1]
    # the blocking call works from inside a running event loop (it runs Alembic in its own thread)
    assert upgrade(database_url) == head_revision()
    async with Store(database_url) as store:
        assert await _count(store, AuditHead) == 1
        async with store.session() as session:
            await append(session, actor="system", action="store.tested", subject_type="store", subject_id="1")

    assert await upgrade_async(database_url) == head_revision()
    async with Store(database_url) as store:
        assert await _count(store, AuditHead) == 1
        assert await _count(store, AuditRecord) == 1
        async with store.session(read_only=True) as session:
            assert (await verify(session)).ok


async def test_concurrent_migrations_take_turns(database_url: str) -> None:
    """Two gateways starting at once against a new database both come up."""
    revisions = await asyncio.gather(*(upgrade_async(database_url) for _ in range(3)))
    assert revisions == [head_revision()] * 3
    async with Store(database_url) as store:
        assert await _count(store, AuditHead) == 1


async def test_models_match_migrations(store: Store) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with store.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_alembic_commands_run_on_the_store_engine(store: Store) -> None:
    """What a developer runs by hand to draft a revision: env.py opens the store's async engine."""
    url = store.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.check, alembic_config(url))  # raises when models and migrations differ


async def test_migrations_downgrade_to_nothing_and_up_again(store: Store) -> None:
    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    url = store.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    async with store.engine.connect() as connection:
        assert await connection.run_sync(tables) == {"alembic_version"}
    assert await upgrade_async(url) == head_revision()
    async with store.engine.connect() as connection:
        assert await connection.run_sync(tables) == {"alembic_version"} | set(Base.metadata.tables)


async def test_a_unit_of_work_commits_or_rolls_back_whole(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.session() as session:
            await append(session, actor="u", action="filing.submitted", subject_type="filing", subject_id="1")
            raise RuntimeError("the court call failed")
    assert await _count(store, AuditRecord) == 0

    async with store.session() as session:
        record = await append(session, actor="u", action="filing.submitted", subject_type="filing", subject_id="1")
    assert record.seq == 1  # usable after commit: sessions don't expire what they loaded
    assert await _count(store, AuditRecord) == 1


async def test_readers_do_not_wait_for_an_open_write(store: Store) -> None:
    """/readyz and reports keep answering while a writer holds its transaction open, and see only committed data."""
    async with store.session() as writer:
        await append(writer, actor="u", action="filing.submitted", subject_type="filing", subject_id="1")
        await asyncio.wait_for(store.ping(), timeout=2)
        async with store.session(read_only=True) as reader:
            result = await asyncio.wait_for(verify(reader), timeout=2)
        assert result.ok and result.checked == 0
    assert await _count(store, AuditRecord) == 1


async def test_ping_fails_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    async with Store(f"sqlite+aiosqlite:///{tmp_path}") as store:  # a directory, not a database file
        with pytest.raises(OperationalError):
            await store.ping()


async def test_the_default_sqlite_database_gets_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    async with Store(Settings().database_url) as store:
        await store.ping()
    assert (tmp_path / ".data" / "gateway.db").is_file()


async def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    async with Store(sqlite_url(tmp_path)) as store, store.session() as session:
        pragma = {
            name: (await session.execute(text(f"PRAGMA {name}"))).scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


async def test_cli_migrate_prints_the_revision(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    await asyncio.to_thread(main, ["migrate"])
    out = capsys.readouterr().out
    assert f"is at revision {head_revision()}" in out
    password = make_url(database_url).password
    assert password is None or str(password) not in out
    async with Store(database_url) as store:
        assert await _count(store, AuditHead) == 1
