"""SQLite as a real transactional database: WAL, foreign keys, a busy timeout and explicit BEGINs.

Python's ``sqlite3`` (and so ``aiosqlite``) runs SELECTs outside any transaction and begins one only
at the first INSERT/UPDATE/DELETE ("legacy transaction control", Python < 3.12). Reads are then not
repeatable, and two writers that read before they write both succeed at reading and one fails at
writing. We take BEGIN over ourselves (the SQLAlchemy recipe): units of work begin ``IMMEDIATE``, so
they take the write lock up front and a second writer waits (busy timeout) instead of failing; read-only
units begin ``DEFERRED`` and, under WAL, read a consistent snapshot without blocking writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

#: how long a writer waits for another writer's transaction before giving up
BUSY_TIMEOUT_MS = 10_000
#: execution option marking a connection whose transaction only reads (see ``Store.session``)
READ_ONLY_OPTION = "gateway_read_only"


def sqlite_file(url: URL) -> Path | None:
    """The database file a SQLite URL names, or None for in-memory and ``uri=true`` databases."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(database)


def prepare_sqlite_file(url: URL) -> None:
    """Create the directory of a file database (the default ``.data/gateway.db`` is relative)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def configure_sqlite(engine: AsyncEngine) -> None:
    """Install the connect and begin hooks on ``engine``."""
    event.listen(engine.sync_engine, "connect", _on_connect)
    event.listen(engine.sync_engine, "begin", _on_begin)


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver stops emitting BEGIN; _on_begin does it
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL: readers never block the writer and vice versa. synchronous stays FULL (the default):
        # an acknowledged write must survive a power cut (DESIGN §5, "Writes never get lost").
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _on_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
