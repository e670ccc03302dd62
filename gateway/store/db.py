"""The store: one async engine per process, one ``AsyncSession`` per unit of work.

A session is a transaction: it commits when the ``async with`` block ends and rolls back when it
raises. Sessions are cheap and never shared between concurrent tasks (an ``AsyncSession`` is not
safe for that); each resolver, worker step or CLI command opens its own. Keep court calls out of a
session: on SQLite an open write transaction holds the database's single write lock, and the process's
other write units wait their turn for it (``gateway.store.sqlite.WriteTurns``). A task never opens a
write unit inside another of its own: on SQLite that raises ``NestedWriteError``. PostgreSQL writers run
concurrently, under row locks.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from gateway import reads
from gateway.store.sqlite import READ_ONLY_OPTION, WriteTurns, configure_sqlite, prepare_sqlite_file


class Store:
    """The gateway's database, SQLite (aiosqlite, the embedded default) or PostgreSQL (asyncpg)."""

    def __init__(self, database_url: str | URL, *, echo: bool = False) -> None:
        self.url = make_url(database_url)
        sqlite = self.url.get_backend_name() == "sqlite"
        if sqlite:
            prepare_sqlite_file(self.url)
        # pre-ping: a PostgreSQL restart must not fail the first request after it
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, pool_pre_ping=not sqlite)
        self._write_turns: WriteTurns | None = None
        if sqlite:
            configure_sqlite(self.engine)
            self._write_turns = WriteTurns(self.url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def session(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on error.

        ``read_only`` sessions read one consistent snapshot and never block writers (PostgreSQL:
        REPEATABLE READ, READ ONLY; SQLite: a deferred transaction under WAL). Use them for reports
        and checks that walk many rows, such as verifying the audit chain. On SQLite, a write unit
        first waits for its turn, before it takes a pooled connection.
        """
        reads.note_untracked("database")  # no cache generation covers a row (gateway.reads)
        async with self._write_turn(read_only), self._sessions() as session, session.begin():
            if read_only:
                await session.connection(execution_options=self._read_only_options())
            yield session

    def _write_turn(self, read_only: bool) -> contextlib.AbstractAsyncContextManager[None]:
        if read_only or self._write_turns is None:
            return contextlib.nullcontext()
        return self._write_turns.turn()

    def _read_only_options(self) -> dict[str, Any]:
        if self.dialect == "postgresql":
            return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        return {READ_ONLY_OPTION: True}

    async def ping(self) -> None:
        """Round-trip ``SELECT 1`` (for ``/readyz``); raises when the database does not answer."""
        async with self.session(read_only=True) as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection (at shutdown; the store can be used again afterwards)."""
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"
