"""Throwaway databases for tests, so that every test starts from nothing and leaves nothing behind.

PostgreSQL isolation uses a schema *and* a login role of the same name whose ``search_path`` is that
schema: the URL alone then points everything (the store, Alembic, the CLI run in-process) at the
schema, without connect arguments or settings that production does not have.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


def sqlite_url(directory: Path) -> str:
    """A fresh SQLite file database in ``directory`` (e.g. pytest's ``tmp_path``)."""
    return f"sqlite+aiosqlite:///{directory / 'gateway.db'}"


@contextlib.asynccontextmanager
async def postgres_schema(admin_url: str) -> AsyncIterator[str]:
    """Create schema and role ``cg_<random>`` through ``admin_url`` (needs CREATEROLE), yield a URL
    logging in as that role, and drop both afterwards."""
    name = f"cg_{secrets.token_hex(6)}"
    password = secrets.token_hex(16)
    admin = create_async_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
            await connection.execute(text(f"CREATE SCHEMA {name} AUTHORIZATION {name}"))
            await connection.execute(text(f"ALTER ROLE {name} SET search_path = {name}"))
        url = make_url(admin_url).set(username=name, password=password)
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :name"), {"name": name}
            )
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
            await connection.execute(text(f"DROP ROLE IF EXISTS {name}"))
        await admin.dispose()
