"""The gateway's own state (DESIGN §5 "Store"): what no single court holds.

One idea per module:

- ``db``: :class:`Store`, the engine and one ``AsyncSession`` per unit of work;
- ``sqlite``: what the embedded SQLite default needs to behave like a real database;
- ``base``: the declarative base, its constraint naming convention and shared column types;
- ``models``: every table (import new model modules there, so Alembic sees them);
- ``migrate``: Alembic, run programmatically (``court-gateway migrate``);
- ``audit``: the append-only, hash-chained audit log;
- ``testing``: throwaway databases for tests.
"""

from gateway.store.db import Store

__all__ = ["Store"]
