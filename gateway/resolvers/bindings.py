"""Case binding resolvers: who may apply, review and read, reading the uploads, and the errors they get.

Applicants are parties and lawyers with a verified identity (REAL_NAME or FACE: what they do binds
them, 在线诉讼规则 art. 7). Reviewers are the case's judges and clerks; anyone else, of the case's court
or another, gets NOT_FOUND, as for an application that does not exist.
"""

from __future__ import annotations

from strawberry.types import Info

from gateway.adapters.errors import CourtError
from gateway.bindings.service import (
    WORKER_NAME,
    BindingPage,
    BindingService,
    BindingView,
    NoSuchBinding,
    NoSuchCase,
)
from gateway.casenumber import InvalidCaseNumber
from gateway.context import Context, Services
from gateway.core.cursors import InvalidCursor
from gateway.core.uploads import IncomingFile, InvalidInput, check_count
from gateway.errors import BadUserInput, CourtFailureError, InvalidCaseNumberError, NotFound
from gateway.filings.service import upload_limits
from gateway.identity import STAFF_ROLES, IdentityLevel
from gateway.resolvers.cases import PERSON_ROLES
from gateway.resolvers.filings import UploadedFile, bad_input


def binding_service(services: Services) -> BindingService:
    return BindingService(
        services.store,
        services.registry,
        services.cache,
        services.parser,
        services.settings,
        clock=lambda: services.clock(),
    )


async def apply_for_case_binding(
    info: Info[Context, None],
    case_number: str,
    files: list[UploadedFile],
    note: str | None,
    client_name: str | None,
    law_firm: str | None = None,
) -> BindingView:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, level=IdentityLevel.REAL_NAME)
    services = context.services
    limits = upload_limits(services.settings)
    try:
        check_count(len(files), limits)
        incoming = [
            IncomingFile(f.filename or "", f.content_type or "", await f.read(limits.max_file_bytes + 1)) for f in files
        ]
        return await binding_service(services).apply(
            viewer, case_number=case_number, files=incoming, note=note, client_name=client_name, law_firm=law_firm
        )
    except InvalidInput as e:
        raise bad_input(e) from None
    except InvalidCaseNumber as e:
        raise InvalidCaseNumberError(str(e)) from None
    except NoSuchCase:
        raise NotFound(f"no case {case_number}") from None
    except CourtError as e:
        message = f"{e.court_code} could not confirm the case, so nothing was stored; try again later"
        raise CourtFailureError(e.code, e.court_code, message) from None


async def decide_case_binding(
    info: Info[Context, None], application_id: str, approve: bool, note: str | None
) -> BindingView:
    context = info.context
    viewer = context.require_viewer(roles=set(STAFF_ROLES))
    try:
        view = await binding_service(context.services).decide(viewer, application_id, approve=approve, note=note)
    except InvalidInput as e:
        raise bad_input(e) from None
    except NoSuchBinding:
        raise NotFound("no such case binding application for your panel") from None
    if view.court_write is not None:
        context.services.workers.wake(WORKER_NAME)
    return view


async def my_case_bindings(info: Info[Context, None], first: int, after: str | None) -> BindingPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES)
    try:
        return await binding_service(context.services).mine(viewer, first=first, after=after)
    except InvalidCursor as e:
        raise BadUserInput(str(e)) from None


async def case_binding_applications(
    info: Info[Context, None], status: str | None, first: int, after: str | None
) -> BindingPage:
    context = info.context
    viewer = context.require_viewer(roles=set(STAFF_ROLES))
    try:
        return await binding_service(context.services).for_reviewer(viewer, status=status, first=first, after=after)
    except InvalidCursor as e:
        raise BadUserInput(str(e)) from None


async def case_binding_application(info: Info[Context, None], application_id: str) -> BindingView:
    context = info.context
    viewer = context.require_viewer()
    found = await binding_service(context.services).get(viewer, application_id)
    if found is None:
        raise NotFound("no such case binding application of yours")
    return found
