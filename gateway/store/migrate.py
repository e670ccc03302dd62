"""Alembic, run programmatically: no ``alembic.ini``, nothing depends on the working directory.

``upgrade(url)`` runs every pending revision in one transaction on a private engine, in a thread of
its own with its own event loop, so it can be called from a plain script or from inside a running
event loop alike (``await upgrade_async(url)`` there, to keep the loop free meanwhile). Concurrent
upgrades (two gateways starting at once) take turns: PostgreSQL under an advisory lock, SQLite under
its write lock; the second finds nothing left to do.

To draft a new revision from the models (then read and edit it)::

    from alembic import command
    from gateway.store.migrate import alembic_config
    command.revision(alembic_config(url), autogenerate=True, message="filing outbox", rev_id="0002")
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from gateway.store.db import Store

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
#: pg_advisory_xact_lock key serialising concurrent upgrades ("cgmg")
MIGRATION_LOCK_KEY = 0x63676D67
#: SQLite: how many times an upgrade that found the database locked looks again
SQLITE_LOCK_ATTEMPTS = 5
log = logging.getLogger("gateway.store")


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's configuration for the store; ``env.py`` opens ``database_url`` when no connection
    is handed over (the URL goes in ``attributes``, which, unlike the ini options, has no %-interpolation)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # drafts come out lint-fixed and formatted like the rest of the code (ruff is a dev dependency)
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for hook, options in (("ruff_fix", "check --fix --quiet"), ("ruff_format", "format --quiet")):
        config.set_section_option("post_write_hooks", f"{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
        config.set_section_option("post_write_hooks", f"{hook}.options", f"{options} REVISION_SCRIPT_FILENAME")
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no revisions in gateway/store/migrations/versions"
    return head


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None: never migrated). Changes nothing."""
    async with Store(database_url) as store, store.engine.connect() as connection:
        return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def behind_head(revision: str | None) -> bool:
    """True when a database at ``revision`` lacks a revision this code ships: never migrated, or at an older
    one. A revision this code does not know is newer (a later release migrated it), not behind."""
    if revision is None:
        return True
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    return revision in known and revision != head_revision()


def upgrade(database_url: str, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` and return the revision it is at. Blocks the caller."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="court-gateway-migrate") as pool:
        return pool.submit(_upgrade_in_new_loop, database_url, revision).result()


async def upgrade_async(database_url: str, revision: str = "head") -> str | None:
    """:func:`upgrade` from inside an event loop, without blocking it."""
    return await asyncio.to_thread(_upgrade_in_new_loop, database_url, revision)


def _upgrade_in_new_loop(database_url: str, revision: str) -> str | None:
    return asyncio.run(_upgrade(database_url, revision))


async def _upgrade(database_url: str, revision: str) -> str | None:
    for attempt in range(SQLITE_LOCK_ATTEMPTS):
        try:
            return await _upgrade_once(database_url, revision)
        except OperationalError as e:
            # SQLite: another upgrade held the write lock past the busy timeout (a slow machine); it has
            # probably done the work by now, so look again rather than fail the gateway's start
            if "database is locked" not in str(e) or attempt == SQLITE_LOCK_ATTEMPTS - 1:
                raise
            log.warning("the database is locked by another migration; trying again")
    raise AssertionError("unreachable")


async def _upgrade_once(database_url: str, revision: str) -> str | None:
    async with Store(database_url) as store, store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        return await connection.run_sync(_upgrade_on, revision)


def _upgrade_on(connection: Connection, revision: str) -> str | None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    return MigrationContext.configure(connection).get_current_revision()
