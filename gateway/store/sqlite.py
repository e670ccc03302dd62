"""SQLite as a real transactional database: WAL, foreign keys, a busy timeout and explicit BEGINs.

Python's ``sqlite3`` (and so ``aiosqlite``) runs SELECTs outside any transaction and begins one only
at the first INSERT/UPDATE/DELETE ("legacy transaction control", Python < 3.12). Reads are then not
repeatable, and two writers that read before they write both succeed at reading and one fails at
writing. We take BEGIN over ourselves (the SQLAlchemy recipe): units of work begin ``IMMEDIATE``, so
they take the write lock up front and a second writer waits (busy timeout) instead of failing; read-only
units begin ``DEFERRED`` and, under WAL, read a consistent snapshot without blocking writers.

SQLite has one write lock per database. Inside one process, write units of work take turns in asyncio
(:class:`WriteTurns`, one FIFO lock per event loop and database file) *before* they BEGIN: a writer then
never waits in SQLite's busy handler for a writer of its own process. That handler polls with growing
sleeps, is unfair, and gives up after the busy timeout; a unit of work holds the lock across awaits, so
on a starved event loop (a busy CPU) a few dozen queued writers used to outlast it and fail with
"database is locked". Waiting in asyncio has no timeout and is first come, first served. Read-only units
take no turn: under WAL they run beside the writer.

Writers in *other* processes (``court-gateway`` CLI commands beside a running gateway, a test process
beside a gateway subprocess, a second gateway on the same file) still meet at SQLite's lock, and wait for
each other through :data:`BUSY_TIMEOUT_MS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

#: how long a writer waits for another *process's* write transaction before giving up ("database is
#: locked"). In-process writers take turns without it (WriteTurns). Another process holds the lock for one
#: unit of work at a time, milliseconds normally and seconds on a starved machine, and the handler's
#: polling can lose the race to it several times in a row: 30 s rides that out, yet a process stuck
#: inside a transaction (a paused debugger) still becomes an error rather than a hang.
BUSY_TIMEOUT_MS = 30_000
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


class NestedWriteError(RuntimeError):
    """A task opened a write unit of work while it already holds one on the same SQLite database.

    The inner unit would wait for the outer one to end, which waits for the inner one: a deadlock.
    Finish the outer unit first, or pass its session down to the code that needs to write.
    """


class _Turn:
    """The write lock of one database on one event loop, and the task holding it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None


#: event loop -> database key -> its turn; an ended loop's turns go with it
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Turn]] = weakref.WeakKeyDictionary()


class WriteTurns:
    """Lets the write units of work of one process into a SQLite database one at a time.

    Every :class:`~gateway.store.db.Store` on the same database file shares the turns of its event loop
    (a test process and the gateway it serves on loopback run two stores on one loop). An asyncio lock
    belongs to one loop, so each loop (the CLI's, the migrations' thread) has its own; between loops,
    as between processes, the busy timeout applies.
    """

    def __init__(self, url: URL) -> None:
        path = sqlite_file(url)
        self._key = str(path.resolve()) if path is not None else url.render_as_string(hide_password=False)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait (first come, first served, no timeout) until no other write unit of this loop runs."""
        turn = _turns.setdefault(asyncio.get_running_loop(), {}).setdefault(self._key, _Turn())
        task = asyncio.current_task()
        if task is not None and turn.holder is task:
            raise NestedWriteError(
                "a write unit of work was opened inside another one of the same task on the same SQLite"
                " database; it would wait for itself forever"
            )
        async with turn.lock:
            turn.holder = task
            try:
                yield
            finally:
                turn.holder = None
