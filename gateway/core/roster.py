"""Who works at a court: its staff roster, read from the court's own system and cached.

Workflows the gateway owns need people the case record does not name: the 立案庭 that takes a 12368
ticket with no case, the division head (庭长) and court leaders (院领导) an overdue item escalates to, the
archive administrators who decide reading applications. The court's system is the source of truth;
the roster is cached like every court answer: under the court's cache generation (so a change the court's
feed reports retires it on every replica, and the process's first level serves it decoded) for at most
``cache_ttl_s``, so an escalation round costs a court at most one roster read per TTL. Never call this inside an open write
transaction: it may go to the court.
"""

from __future__ import annotations

from gateway.adapters.model import Staff, StaffRole
from gateway.core.runtime import Runtime


async def roster(runtime: Runtime, court_code: str) -> list[Staff]:
    """The court's staff; raises the adapter's CourtError when the court cannot answer."""
    adapter = runtime.registry[court_code]
    generation = (await runtime.cache.generations([court_code]))[court_code]
    return await runtime.cache.get_or_load(f"roster:{court_code}:{generation}", adapter.list_staff)


def division_head(members: list[Staff], division: str | None) -> Staff | None:
    return next((s for s in members if s.role == StaffRole.DIVISION_HEAD and s.division == division), None)


def court_leaders(members: list[Staff]) -> list[Staff]:
    return [s for s in members if s.role == StaffRole.COURT_LEADER]


def archive_admins(members: list[Staff]) -> list[Staff]:
    return [s for s in members if s.role == StaffRole.ARCHIVE_ADMIN]
