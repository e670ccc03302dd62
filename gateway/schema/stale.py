"""Stale answers in data: which courts' parts of an answer are their last known answer (``gateway.last_known``).

A client that drops ``errors`` still sees them here; the same courts also have an error beside the data
with ``extensions.stale: true``, ``ageSeconds`` and ``asOf`` (``Context.report_stale``).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.last_known import Stale
from gateway.schema.courts import Court


@strawberry.type(
    description="A court that was down: what is shown of it is its last known answer, from `asOf`, "
    "`ageSeconds` old when this answer was made."
)
class StaleCourt:
    court: Court = strawberry.field(description="The court whose data is stale.")
    as_of: datetime = strawberry.field(description="When the court gave the answer shown.")
    age_seconds: int = strawberry.field(description="How old that answer was when this one was made.")

    @classmethod
    def from_mark(cls, mark: Stale, info: Info[Context, None]) -> StaleCourt:
        services = info.context.services
        court = services.settings.court(mark.court_code)
        return cls(
            court=Court.from_config(court, services.registry.health().get(court.code)),
            as_of=mark.as_of,
            age_seconds=mark.age_seconds,
        )
