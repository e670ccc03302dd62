"""Filing resolvers: who may file, reading the uploads, and turning service errors into GraphQL errors."""

from __future__ import annotations

from typing import Any, Protocol

from strawberry.types import Info

from gateway.adapters.errors import CourtError
from gateway.adapters.model import FilingKind
from gateway.casenumber import InvalidCaseNumber
from gateway.context import Context
from gateway.core.cursors import InvalidCursor
from gateway.core.uploads import IncomingFile, InvalidInput, check_count
from gateway.errors import BadUserInput, CourtFailureError, InvalidCaseNumberError, NotFound
from gateway.filings.service import (
    WORKER_NAME,
    FilingPage,
    FilingRequest,
    FilingView,
    NotFiled,
    upload_limits,
)
from gateway.resolvers.cases import PERSON_ROLES


class UploadedFile(Protocol):
    """What Strawberry hands over for an ``Upload`` on ASGI (Starlette's ``UploadFile``)."""

    filename: str | None
    content_type: str | None

    async def read(self, size: int = -1) -> bytes: ...


def bad_input(error: InvalidInput) -> BadUserInput:
    """BAD_USER_INPUT with ``extensions.reason`` (e.g. FILE_TYPE, IDEMPOTENCY_KEY_REUSED) and ``file``."""
    extensions: dict[str, Any] = {"reason": error.reason}
    if error.file is not None:
        extensions["file"] = error.file
    return BadUserInput(str(error), **extensions)


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
    viewer = context.require_viewer(roles=PERSON_ROLES)
    services = context.services
    limits = upload_limits(services.settings)
    try:
        check_count(len(files), limits)
        # read no more of each file than it takes to know it is too large
        incoming = [
            IncomingFile(f.filename or "", f.content_type or "", await f.read(limits.max_file_bytes + 1)) for f in files
        ]
        request = FilingRequest(case_number, kind, title, incoming, idempotency_key)
        filing = await services.filings.submit(viewer, request)
    except InvalidInput as e:
        raise bad_input(e) from None
    except InvalidCaseNumber as e:
        raise InvalidCaseNumberError(str(e)) from None
    except NotFiled:
        raise NotFound(f"no case {case_number} that you are a party or agent of") from None
    except CourtError as e:
        message = f"{e.court_code} could not confirm the case, so nothing was filed; try again later"
        raise CourtFailureError(e.code, e.court_code, message) from None
    services.workers.wake(WORKER_NAME)
    return filing


async def my_filings(info: Info[Context, None], first: int, after: str | None, case_number: str | None) -> FilingPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES)
    try:
        return await context.services.filings.mine(viewer, first=first, after=after, case_number=case_number)
    except InvalidCursor as e:
        raise BadUserInput(str(e)) from None
    except InvalidCaseNumber as e:
        raise InvalidCaseNumberError(str(e)) from None


async def filing(info: Info[Context, None], filing_id: str) -> FilingView:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES)
    found = await context.services.filings.get(viewer, filing_id)
    if found is None:
        raise NotFound("no such filing of yours")
    return found
