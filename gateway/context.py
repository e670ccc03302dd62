"""What every resolver gets: the viewer, the services, this request's DataLoaders, and court failures.

DataLoaders live per request (never shared between requests or users), so batching stays within one
caller's scope. Court failures collected here become GraphQL errors beside the partial data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from strawberry.dataloader import DataLoader

from gateway.adapters.errors import CourtError
from gateway.adapters.model import Case, CaseFileVolume, PersonRef, ServedDocument
from gateway.adapters.registry import AdapterRegistry
from gateway.cache import Cache
from gateway.casenumber import CaseNumberParser
from gateway.cases.service import BoundCase, CaseService
from gateway.config import Settings
from gateway.core.federation import CourtFailure
from gateway.documents.service import DocumentService
from gateway.errors import CourtFailureError, Forbidden, Unauthenticated
from gateway.identity import IdentityLevel, Role, Viewer
from gateway.store import Store
from gateway.workers import WorkerRunner

log = logging.getLogger("gateway.courts")

#: what a client is told; the court's own error text (hosts, ports, protocol detail) stays in the logs
PUBLIC_REASONS = {
    "COURT_UNAVAILABLE": "is not answering right now; its data is missing from this answer",
    "COURT_TIMEOUT": "did not answer in time; its data is missing from this answer",
    "COURT_RATE_LIMITED": "asked the gateway to slow down; its data is missing from this answer",
    "COURT_AUTH_FAILED": "refused the gateway's credentials; its data is missing from this answer",
}


@dataclass
class Services:
    """The long-lived parts, built once in the app's lifespan."""

    settings: Settings
    registry: AdapterRegistry
    cache: Cache
    parser: CaseNumberParser
    cases: CaseService
    documents: DocumentService
    store: Store
    workers: WorkerRunner
    #: the gateway's "now": resolvers and the services and workers built from ``Services`` take it (reading
    #: windows, links, tickets, bindings, deadlines and their escalation rounds); tests move it
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class Context:
    services: Services
    viewer: Viewer | None
    auth_error: str | None = None
    failures: list[CourtFailureError] = field(default_factory=list)
    #: WebSockets: the connection_init payload (Strawberry sets it; GraphQLApp.on_ws_connect reads the token)
    connection_params: dict[str, object] | None = None

    def __post_init__(self) -> None:
        self.case_by_number: DataLoader[str, Case | CourtError | None] = DataLoader(self._load_cases)
        self.documents_at: DataLoader[tuple[str, PersonRef], list[ServedDocument]] = DataLoader(self._load_documents)
        self.volumes_of: DataLoader[tuple[str, str], list[CaseFileVolume] | CourtError] = DataLoader(self._load_volumes)
        self._bound: asyncio.Task[list[BoundCase]] | None = None

    # -- who is asking -------------------------------------------------------------------------------

    def require_viewer(self, *, level: IdentityLevel | None = None, roles: set[Role] | None = None) -> Viewer:
        if self.viewer is None:
            raise Unauthenticated(self.auth_error or "sign in: send a bearer token")
        if roles and not (self.viewer.roles & roles):
            raise Forbidden("your role may not do this")
        if level and not self.viewer.level.at_least(level):
            raise Forbidden(f"this needs a {level.value} identity; yours is {self.viewer.level.value}")
        return self.viewer

    async def bound_cases(self) -> list[BoundCase]:
        """The viewer's approved case bindings, read from the store once per request (staff have none)."""
        if self.viewer is None or self.viewer.is_staff:
            return []
        if self._bound is None:
            from gateway.bindings.service import approved_bindings

            self._bound = asyncio.ensure_future(approved_bindings(self.services.store, self.viewer.subject))
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
                message = f"{failure.court_code} {PUBLIC_REASONS.get(failure.code, 'could not answer')}"
                self.failures.append(CourtFailureError(failure.code, failure.court_code, message, path))

    # -- batch loads ---------------------------------------------------------------------------------

    async def _load_cases(self, numbers: list[str]) -> list[Case | CourtError | None]:
        assert self.viewer is not None
        bound = await self.bound_case_numbers()
        return await self.services.cases.cases_by_number(self.viewer, numbers, bound=bound)

    async def _load_documents(self, keys: list[tuple[str, PersonRef]]) -> list[list[ServedDocument]]:
        documents = self.services.documents
        generations = await self.services.cache.generations({court for court, _ in keys})

        async def one(court: str, ref: PersonRef) -> list[ServedDocument]:
            try:
                return await documents.documents_at(self.services.registry[court], ref, generations[court])
            except CourtError as e:
                self.report([CourtFailure.from_error(e)], ["servedDocuments"])
                return []

        return list(await asyncio.gather(*(one(court, ref) for court, ref in keys)))

    async def _load_volumes(self, keys: list[tuple[str, str]]) -> list[list[CaseFileVolume] | CourtError]:
        async def one(court: str, case_id: str) -> list[CaseFileVolume] | CourtError:
            try:
                return await self.services.registry[court].list_volumes(case_id)
            except CourtError as e:
                return e

        return list(await asyncio.gather(*(one(court, case_id) for court, case_id in keys)))
