"""The courts behind the gateway and how they are doing right now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from gateway.adapters import model
from gateway.adapters.resilience import CourtHealth as CourtHealthState
from gateway.config import CourtConfig
from gateway.context import Context
from gateway.core.federation import CourtFailure
from gateway.errors import NotFound, retry_after_seconds
from gateway.resolvers import courts as resolvers
from gateway.schema.common import Node, global_id, mirror_enum, refetchable

Tier = mirror_enum(model.Tier, "CourtTier", "Intermediate court, basic court, or a national platform.")


@strawberry.enum(description="A court backend's health as the gateway sees it.")
class HealthState(Enum):
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"


@strawberry.type(description="How the court's system has been answering the gateway.")
class CourtHealth:
    state: HealthState = strawberry.field(description="DOWN while calls fail fast (circuit open).")
    last_error_code: str | None = strawberry.field(description="Code of the last failure, e.g. COURT_TIMEOUT.")
    last_error_at: datetime | None = strawberry.field(description="When the last failure happened.")
    last_success_at: datetime | None = strawberry.field(description="When the court last answered.")
    latency_ms: float | None = strawberry.field(description="Recent latency (moving average).")

    @classmethod
    def from_state(cls, health: CourtHealthState) -> CourtHealth:
        return cls(
            state=HealthState(health.state),
            last_error_code=health.last_error_code,
            last_error_at=health.last_error_at,
            last_success_at=health.last_success_at,
            latency_ms=health.latency_ms_ewma,
        )


@strawberry.type(description="A court (or the national unified service platform) behind the gateway.")
class Court(Node):
    code: str = strawberry.field(description="案号代字, e.g. 粤0104; the routing key of its case numbers.")
    name: str = strawberry.field(description="Full name, e.g. 广州市越秀区人民法院.")
    short_name: str = strawberry.field(description="Short name as used in SMS, e.g. 越秀法院.")
    tier: Tier = strawberry.field(description="Intermediate, basic or national.")  # type: ignore[valid-type]
    health: CourtHealth | None = strawberry.field(description="Current health; null when not tracked.")

    @classmethod
    def from_config(cls, court: CourtConfig, health: CourtHealthState | None = None) -> Court:
        return cls(
            id=global_id("Court", court.code),
            code=court.code,
            name=court.name,
            short_name=court.short_name,
            tier=Tier(court.tier.value),
            health=CourtHealth.from_state(health) if health else None,
        )


@strawberry.type(
    description="A court (or national platform) that did not answer for this list: its items are missing from "
    "it, and the same court is named in `errors` (`extensions.court`, same `code`). Clients that drop `errors` "
    "still see here which courts the list lacks."
)
class UnavailableCourt:
    court: Court = strawberry.field(description="The court that did not answer.")
    code: str = strawberry.field(
        description="Why, as in the error's `extensions.code`: COURT_UNAVAILABLE, COURT_TIMEOUT, "
        "COURT_RATE_LIMITED, COURT_AUTH_FAILED …"
    )
    retry_after: int | None = strawberry.field(
        description="Seconds after which asking again may bring this court's items back: the wait the court "
        "asked for (COURT_RATE_LIMITED), or the time until the gateway tries a court it has stopped calling "
        "(circuit open). Null when unknown: ask again when the user wants to, not in a tight loop."
    )


def unavailable_courts(info: Info[Context, None], failures: Sequence[CourtFailure]) -> list[UnavailableCourt]:
    """The courts a list lacks, from the failures its service reported (the same ones ``Context.report``
    turns into errors), one per court, in court-code order."""
    registry = info.context.services.registry
    health = registry.health()
    by_court = {f.court_code: f for f in failures if f.court_code in registry}
    return [
        UnavailableCourt(
            court=Court.from_config(registry[code].court, health.get(code)),
            code=failure.code,
            retry_after=None if failure.retry_after is None else retry_after_seconds(failure.retry_after),
        )
        for code, failure in sorted(by_court.items())
    ]


def _courts(info: Info[Context, None]) -> list[Court]:
    health = info.context.services.registry.health()
    return [Court.from_config(c, health.get(c.code)) for c in resolvers.courts(info)]


@refetchable("Court")
async def court_node(info: Info[Context, None], code: str) -> Court:
    found = next((court for court in _courts(info) if court.code == code), None)
    if found is None:
        raise NotFound("no such object that you may see")
    return found


@strawberry.type
class CourtsQuery:
    @strawberry.field(description="The thirteen courts, with their current health.")
    def courts(self, info: Info[Context, None]) -> list[Court]:
        return _courts(info)
