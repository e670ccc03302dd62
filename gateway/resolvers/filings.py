"""Filing resolvers: who may file, reading the uploads, and turning service errors into GraphQL errors."""

from __future__ import annotations

from strawberry.types import Info

from gateway.adapters.model import FilingKind
from gateway.context import Context
from gateway.errors import NotFound
from gateway.filings.service import (
    WORKER_NAME,
    FilingPage,
    FilingRequest,
    FilingView,
    upload_limits,
)
from gateway.identity import Scope
from gateway.schema.common import PERSON_ROLES, UploadedFile, read_uploads


async def submit_filing(
    info: Info[Context, None],
    case_number: str,
    kind: FilingKind,
    title: str,
    files: list[UploadedFile],
    idempotency_key: str,
) -> FilingView:
    """Parties and lawyers only; the filing is stored before this returns, then its worker is woken."""
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.FILINGS_WRITE)
    services = context.services
    incoming = await read_uploads(files, upload_limits(services.settings))
    request = FilingRequest(case_number, kind, title, incoming, idempotency_key)
    filing = await services.filings.submit(viewer, request)
    services.workers.wake(WORKER_NAME)
    return filing


async def my_filings(info: Info[Context, None], first: int, after: str | None, case_number: str | None) -> FilingPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.FILINGS_WRITE)
    return await context.services.filings.mine(viewer, first=first, after=after, case_number=case_number)


async def filing(info: Info[Context, None], filing_id: str) -> FilingView:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.FILINGS_WRITE)
    found = await context.services.filings.get(viewer, filing_id)
    if found is None:
        raise NotFound("no such filing of yours")
    return found
