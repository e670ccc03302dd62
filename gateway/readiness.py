"""What ``/readyz`` answers: may a load balancer send this replica traffic?

Ready means every shared resource the replica needs answers within :data:`CHECK_TIMEOUT_S`:

- the database, at the schema this code was written for: a database behind the code's head revision
  (migrations pending) is not ready; one ahead of it (a newer version already migrated it, mid rolling
  upgrade; migrations are additive) is;
- the cache, with a real round trip (Redis, when configured).

Courts are reported, never required: a court that is down makes answers partial, not the replica
unready (taking every replica out of the load balancer for one court would turn a partial outage
into a total one). ``degraded`` lists the courts not answering well, ``following`` the change feeds
this replica holds the lease of. ``/healthz`` stays a liveness check and touches none of this.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text

from gateway.adapters.registry import AdapterRegistry
from gateway.cache import Cache
from gateway.store import Store
from gateway.store.migrate import alembic_config

CHECK_TIMEOUT_S = 2.0
OK = "ok"


@functools.cache
def _revisions() -> tuple[str, frozenset[str]]:
    """The head revision this code expects, and every revision it knows (read once: files do not change)."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    return head, frozenset(s.revision for s in script.walk_revisions())


def schema_verdict(revision: str | None) -> str:
    """``ok``, or why a database at ``revision`` is not the one this code can run on."""
    head, known = _revisions()
    if revision is None:
        return "not migrated (run `court-gateway migrate`)"
    if revision != head and revision in known:
        return f"migrations pending: at {revision}, this code needs {head} (run `court-gateway migrate`)"
    return OK  # the head, or newer than this code knows


async def database_state(store: Store) -> str:
    async with store.session(read_only=True) as session:
        has_versions = await session.run_sync(
            lambda s: s.get_bind().dialect.has_table(s.connection(), "alembic_version")
        )
        if not has_versions:
            return schema_verdict(None)
        revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return schema_verdict(revision)


async def _cache_state(cache: Cache) -> str:
    await cache.ping()
    return OK


async def _checked(check: Awaitable[str]) -> str:
    try:
        return await asyncio.wait_for(check, timeout=CHECK_TIMEOUT_S)
    except Exception as e:  # never a trace: the class name tells an operator where to look
        return f"error: {type(e).__name__}"


async def readiness(
    store: Store, cache: Cache, registry: AdapterRegistry, following: list[str]
) -> tuple[bool, dict[str, Any]]:
    """Whether the replica is ready, and the body that says why (or why not)."""
    database, cached = await asyncio.gather(_checked(database_state(store)), _checked(_cache_state(cache)))
    ready = database == OK and cached == OK
    courts = {code: health.state for code, health in registry.health().items()}
    return ready, {
        "status": "ready" if ready else "not ready",
        "database": database,
        "cache": cached,
        "courts": courts,
        "degraded": sorted(code for code, state in courts.items() if state != "HEALTHY"),
        "following": sorted(following),
    }
