"""Case-file reading resolvers: who may apply, decide, read and download; and the material download route.

Reading needs a verified identity (REAL_NAME or FACE, 在线诉讼规则 art. 7). Parties and lawyers apply;
the archive administrators of the case's court decide. Downloads are links issued here, with the caller's
token, and followed without one at ``/downloads/materials/{token}`` (a browser can), where the link's reader's
access is asked again (the same rule that issued it: of record, in scope, or an open window) and the file is
watermarked for its reader, sealed and streamed.

"Now" is ``services.clock()`` throughout, so tests can move through a reading window.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from strawberry.types import Info

from gateway.adapters import model
from gateway.adapters.errors import CourtError
from gateway.archive.reading import (
    Delivery,
    IssuedLink,
    find_material,
    readable,
    record_view,
)
from gateway.archive.service import (
    ApplicationPage,
    ApplicationStatus,
    ApplicationView,
    NoSuchCase,
    ReadingGrant,
    reading_grant,
)
from gateway.context import Context
from gateway.core.federation import CourtFailure
from gateway.core.pdfsign import court_seals_for
from gateway.core.seal import SealCheck
from gateway.errors import (
    BadUserInput,
    Forbidden,
    NotFound,
    refusal_response,
)
from gateway.filings.service import upload_limits
from gateway.identity import IdentityLevel, Role, Scope
from gateway.schema.common import PERSON_ROLES, UploadedFile, read_uploads, uploaded
from gateway.services import Services

#: where material links point; the token follows
DOWNLOAD_PATH = "/downloads/materials/"
#: reading case files needs a verified identity
READING_LEVEL = IdentityLevel.REAL_NAME
#: a seal is checked on files up to this size (a case-file volume is rarely larger)
MAX_SEALED_FILE_BYTES = 64 * 1024 * 1024
#: the download is streamed in chunks of this size
CHUNK = 64 * 1024


def now(services: Services) -> datetime:
    """The services' clock (tests move it)."""
    return services.clock()


async def _grant(info: Info[Context, None], case: model.Case) -> ReadingGrant:
    """How the viewer may read the case now; raises the refusal saying why not (WindowClosed,
    NeedsApplication, NoSuchCase)."""
    context = info.context
    viewer = context.require_viewer(level=READING_LEVEL, scope=Scope.ARCHIVE_READ)
    bound = await context.bound_case_numbers()
    return await reading_grant(context.services.store, viewer, case, now=now(context.services), bound=bound)


# -- reading ----------------------------------------------------------------------------------------------


async def load_volumes(context: Context, keys: list[tuple[str, str]]) -> list[list[model.CaseFileVolume] | CourtError]:
    """Case-file volumes by (court code, case id) (a per-request DataLoader's batch); a court's error is
    the value, so the caller reports it against its own path.

    The court's answer is cached like other case data: the key embeds the court's generation (its change
    feed retires it) and holds no viewer, because the answer is the whole file and what a viewer may see of
    it is decided per request (``readable``), as is the audit of the view. Errors are not cached."""
    services = context.services
    generations = await services.cache.generations({court for court, _ in keys})

    async def one(court: str, case_id: str) -> list[model.CaseFileVolume] | CourtError:
        adapter = services.registry[court]
        key = f"volumes:{court}:{generations[court]}:{case_id}"
        try:
            volumes: list[model.CaseFileVolume] = await services.cache.get_or_load(
                key, lambda: adapter.list_volumes(case_id), ttl=services.settings.cache_ttl_s
            )
            return volumes
        except CourtError as e:
            return e

    return list(await asyncio.gather(*(one(court, case_id) for court, case_id in keys)))


async def case_file_of(info: Info[Context, None], case: model.Case, path: str) -> list[model.CaseFileVolume] | None:
    """The volumes and materials the viewer may read now, audited as a view (``casefile.viewed``); None
    (and a COURT_* error) when the court cannot list them. FORBIDDEN below REAL_NAME; APPLICATION_REQUIRED
    for an archived case without an application; ACCESS_WINDOW_CLOSED outside an approved window."""
    context = info.context
    viewer = context.require_viewer(level=READING_LEVEL, scope=Scope.ARCHIVE_READ)
    grant = await _grant(info, case)
    found = await context.loader(load_volumes).load((case.court_code, case.case_id))
    if isinstance(found, CourtError):
        context.report([CourtFailure.from_error(found)], [path])
        return None
    shown = readable(case, found, grant)
    await record_view(context.services.store, viewer, case, grant, shown)
    return shown


async def application_case_file(info: Info[Context, None], view: ApplicationView) -> list[model.CaseFileVolume] | None:
    """The case file through an application: null until it is approved (and after a rejection)."""
    if view.status != ApplicationStatus.APPROVED:
        return None
    services = info.context.services
    try:
        case = await services.archive.find_case(services.parser.parse(view.case_number))
    except CourtError as e:
        info.context.report([CourtFailure.from_error(e)], ["caseFile"])
        return None
    if case is None:
        raise NotFound(f"{view.case_number} is no longer at its court")
    return await case_file_of(info, case, "caseFile")


async def download_material(info: Info[Context, None], case_number: str, material_id: str) -> tuple[IssuedLink, str]:
    """A short-lived link to one material the viewer may read now, and its URL; issuing it is audited
    (``material.link_issued``)."""
    context = info.context
    viewer = context.require_viewer(level=READING_LEVEL, scope=Scope.ARCHIVE_READ)
    services = context.services
    number = services.parser.parse(case_number)
    case = await services.archive.find_case(number)
    if case is None:
        raise NoSuchCase(f"no case {number.text} whose file you may read")
    grant = await _grant(info, case)
    volumes = await context.loader(load_volumes).load((case.court_code, case.case_id))
    if isinstance(volumes, CourtError):
        raise volumes
    # one answer whether the material is in the 副卷, unpublished or does not exist: no oracle
    material = find_material(readable(case, volumes, grant), material_id)
    issued = await services.reading.issue(viewer, case, grant, material)
    return issued, f"{services.settings.public_url.rstrip('/')}{DOWNLOAD_PATH}{issued.token}"


# -- applications ---------------------------------------------------------------------------------------


async def apply_for_archive_access(
    info: Info[Context, None], case_number: str, reason: str, attachments: list[UploadedFile]
) -> ApplicationView:
    """Parties and lawyers with a verified identity; the case is looked up at its own court only."""
    context = info.context
    viewer = context.require_viewer(level=READING_LEVEL, roles=PERSON_ROLES, scope=Scope.ARCHIVE_READ)
    services = context.services
    number = services.parser.parse(case_number)
    incoming = await read_uploads(attachments, upload_limits(services.settings), required=False)
    return await services.archive.apply(viewer, number, reason, incoming, now=now(services))


async def decide_archive_access(
    info: Info[Context, None], application_id: str, approve: bool, note: str | None
) -> ApplicationView:
    """The archive administrators of the application's court only (NOT_FOUND for another court's)."""
    context = info.context
    viewer = context.require_viewer(roles={Role.ARCHIVE_ADMIN})
    services = context.services
    return await services.archive.decide(viewer, application_id, approve=approve, note=note, now=now(services))


async def my_archive_applications(
    info: Info[Context, None], first: int, after: str | None, status: ApplicationStatus | None
) -> ApplicationPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.ARCHIVE_READ)
    return await context.services.archive.mine(viewer, first=first, after=after, status=status)


async def archive_applications(
    info: Info[Context, None], status: ApplicationStatus | None, first: int, after: str | None
) -> ApplicationPage:
    """The archive office's list: its own court's applications only."""
    context = info.context
    viewer = context.require_viewer(roles={Role.ARCHIVE_ADMIN})
    if not viewer.court_code:
        raise Forbidden("your account names no court")
    return await context.services.archive.of_court(viewer, status=status, first=first, after=after)


async def archive_application(info: Info[Context, None], application_id: str) -> ApplicationView:
    context = info.context
    viewer = context.require_viewer(scope=Scope.ARCHIVE_READ)
    return await context.services.archive.get(viewer, application_id)


# -- seals -------------------------------------------------------------------------------------------------


async def verify_document_seal(info: Info[Context, None], file: UploadedFile) -> SealCheck:
    """Anyone signed in may check a file they were given (a court, a notary, the other side); nothing is
    stored. The court's PDF signature is checked against the configured trust roots (pyHanko, in a worker
    thread), a file of the earlier form against the legacy keys."""
    context = info.context
    context.require_viewer(any_client=True)
    data = await uploaded(file).read(MAX_SEALED_FILE_BYTES + 1)
    if len(data) > MAX_SEALED_FILE_BYTES:
        raise BadUserInput(f"the file is larger than {MAX_SEALED_FILE_BYTES} bytes", reason="FILE_TOO_LARGE")
    return await asyncio.to_thread(court_seals_for(context.services.settings).verify, data)


# -- the download route ------------------------------------------------------------------------------------


def content_disposition(filename: str, fallback: str) -> str:
    """``attachment`` with an ASCII fallback and the real (Chinese) name per RFC 6266 / RFC 5987."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def material_download(services: Services) -> Callable[[Request], Awaitable[Response]]:
    """``GET /downloads/materials/{token}``: the material, watermarked and sealed for the link's reader if
    they may still read it, streamed; audited (``material.downloaded``) before the first byte."""

    async def download(request: Request) -> Response:
        reading = services.reading
        try:
            delivery = await reading.download(reading.verify_link(request.path_params["token"]))
        except Exception as e:
            return refusal_response(e)
        return _stream(delivery)

    return download


def _stream(delivery: Delivery) -> StreamingResponse:
    content = delivery.content

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), CHUNK):
            yield content[start : start + CHUNK]

    headers = {
        "Content-Disposition": content_disposition(delivery.filename, f"material-{delivery.link.trace_id}.pdf"),
        "Content-Length": str(len(content)),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Trace-Id": delivery.link.trace_id,
    }
    return StreamingResponse(chunks(), media_type="application/pdf", headers=headers)
