"""What every resolver gets: the viewer, the services, this request's DataLoaders, and court failures.

Only per-request state lives here; the services are built once (``gateway.services``). DataLoaders
live per request (never shared between requests or users), so batching stays within one caller's
scope: each domain's resolvers declare their batch functions and ask ``context.loader(fn)`` for this
request's loader. Court failures collected here become GraphQL errors beside the partial data.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from gateway.bindings import cached
from gateway.bindings.service import approved_bindings
from gateway.cases.service import BoundCase
from gateway.core.federation import CourtFailure
from gateway.demand.ratelimit import Decision
from gateway.errors import COURT_REASONS, CourtFailureError, Forbidden, InsufficientScope, Unauthenticated
from gateway.identity import IdentityLevel, Role, Scope, Viewer
from gateway.last_known import Stale
from gateway.services import Services

K = TypeVar("K")
V = TypeVar("V")
#: a per-request batch function: ``(context, keys) -> values`` in key order
BatchLoad = Callable[["Context", list[K]], Awaitable[list[V]]]

log = logging.getLogger("gateway.courts")


@dataclass
class Context:
    services: Services
    viewer: Viewer | None
    auth_error: str | None = None
    failures: list[CourtFailureError] = field(default_factory=list)
    #: this request's count against its rate limit or client quota (None: not counted, e.g. a WebSocket)
    quota: Decision | None = None
    #: WebSockets: the connection_init payload (Strawberry sets it; GraphQLApp.on_ws_connect reads the token)
    connection_params: dict[str, object] | None = None

    def __post_init__(self) -> None:
        self._loaders: dict[BatchLoad[Any, Any], DataLoader[Any, Any]] = {}
        self._bound: asyncio.Task[list[BoundCase]] | None = None

    def loader(self, batch: BatchLoad[K, V]) -> DataLoader[K, V]:
        """This request's DataLoader for ``batch`` (``batch(context, keys)``), made at first use."""
        found = self._loaders.get(batch)
        if found is None:
            found = self._loaders[batch] = DataLoader(functools.partial(batch, self))
        return found

    # -- who is asking -------------------------------------------------------------------------------

    def require_viewer(
        self,
        *,
        level: IdentityLevel | None = None,
        roles: set[Role] | None = None,
        scope: Scope | tuple[Scope, ...] | None = None,
        any_client: bool = False,
    ) -> Viewer:
        """The viewer, if their role, identity level and (for a registered client's token) scope allow this.

        Deny by default for software: a client's token passes only where the resolver names the ``scope``
        it needs (and the person granted it; one of them, when it names several), or says ``any_client`` (who
        am I, the courts). Where neither is named (signing a served document, staff decisions, revoking apps)
        no client token ever passes.
        """
        if self.viewer is None:
            raise Unauthenticated(self.auth_error or "sign in: send a bearer token")
        if self.viewer.scopes is not None and not any_client:
            if scope is None:
                raise InsufficientScope("no scope lets software do this: only the person, in the court's own apps")
            needed = scope if isinstance(scope, tuple) else (scope,)
            if not any(self.viewer.allows(s) for s in needed):
                names = " or ".join(s.value for s in needed)
                raise InsufficientScope(f"this needs the scope {names}, not granted to this app", scope=needed[0].value)
        if roles and not (self.viewer.roles & roles):
            raise Forbidden("your role may not do this")
        if level and not self.viewer.level.at_least(level):
            raise Forbidden(f"this needs a {level.value} identity; yours is {self.viewer.level.value}")
        return self.viewer

    async def bound_cases(self) -> list[BoundCase]:
        """The viewer's approved case bindings, asked once per request (staff have none): from the cache,
        exact under the viewer's bindings generation (``gateway.bindings.cached``), else from the store."""
        if self.viewer is None or self.viewer.is_staff:
            return []
        if self._bound is None:
            store, subject = self.services.store, self.viewer.subject
            self._bound = asyncio.ensure_future(
                cached.approved(self.services.cache, subject, lambda: approved_bindings(store, subject))
            )
        return await asyncio.shield(self._bound)

    async def bound_case_numbers(self) -> frozenset[str]:
        return frozenset(b.case_number for b in await self.bound_cases())

    # -- partial results -----------------------------------------------------------------------------

    def report(self, failures: Sequence[CourtFailure], path: list[str | int]) -> None:
        known = {(f.extensions or {}).get("court") for f in self.failures}
        for failure in failures:
            if failure.court_code not in known:
                known.add(failure.court_code)
                log.info("court failure %s %s at %s: %s", failure.court_code, failure.code, path, failure.message)
                # what a client is told; the court's own error text (hosts, ports, protocol) stays in the log
                reason = COURT_REASONS.get(failure.code, "could not answer")
                message = f"{failure.court_code} {reason}; its data is missing from this answer"
                self.failures.append(
                    CourtFailureError(failure.code, failure.court_code, message, path, failure.retry_after)
                )

    def report_stale(self, marks: Sequence[Stale], path: list[str | int]) -> None:
        """A court whose data here is its last known answer: an error beside the data, marked ``stale``
        with the answer's age and date (the data also says so: ``staleCourts``, ``Case.stale``)."""
        known = {(f.extensions or {}).get("court") for f in self.failures}
        for mark in marks:
            if mark.court_code in known:
                continue
            known.add(mark.court_code)
            reason = COURT_REASONS.get(mark.code, "could not answer")
            message = f"{mark.court_code} {reason}; its data here is its last known answer, {mark.age_seconds} s old"
            error = CourtFailureError(mark.code, mark.court_code, message, path)
            error.extensions = {
                **(error.extensions or {}),
                "stale": True,
                "ageSeconds": mark.age_seconds,
                "asOf": mark.as_of.isoformat(),
            }
            self.failures.append(error)
