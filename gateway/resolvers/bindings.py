"""Case binding resolvers: who may apply, review and read, reading the uploads, and the errors they get.

Applicants are parties and lawyers with a verified identity (REAL_NAME or FACE: what they do binds
them, 在线诉讼规则 art. 7). Reviewers are the case's judges and clerks; anyone else, of the case's court
or another, gets NOT_FOUND, as for an application that does not exist.
"""

from __future__ import annotations

from strawberry.types import Info

from gateway.bindings.service import (
    WORKER_NAME,
    BindingPage,
    BindingView,
)
from gateway.context import Context
from gateway.errors import NotFound
from gateway.filings.service import upload_limits
from gateway.identity import STAFF_ROLES, IdentityLevel, Scope
from gateway.schema.common import PERSON_ROLES, UploadedFile, read_uploads


async def apply_for_case_binding(
    info: Info[Context, None],
    case_number: str,
    files: list[UploadedFile],
    note: str | None,
    client_name: str | None,
    law_firm: str | None = None,
) -> BindingView:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, level=IdentityLevel.REAL_NAME, scope=Scope.BINDINGS_WRITE)
    services = context.services
    incoming = await read_uploads(files, upload_limits(services.settings))
    return await services.bindings.apply(
        viewer, case_number=case_number, files=incoming, note=note, client_name=client_name, law_firm=law_firm
    )


async def decide_case_binding(
    info: Info[Context, None], application_id: str, approve: bool, note: str | None
) -> BindingView:
    context = info.context
    viewer = context.require_viewer(roles=set(STAFF_ROLES))
    view = await context.services.bindings.decide(viewer, application_id, approve=approve, note=note)
    if view.court_write is not None:
        context.services.workers.wake(WORKER_NAME)
    return view


async def my_case_bindings(info: Info[Context, None], first: int, after: str | None) -> BindingPage:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.BINDINGS_WRITE)
    return await context.services.bindings.mine(viewer, first=first, after=after)


async def case_binding_applications(
    info: Info[Context, None], status: str | None, first: int, after: str | None
) -> BindingPage:
    context = info.context
    viewer = context.require_viewer(roles=set(STAFF_ROLES))
    return await context.services.bindings.for_reviewer(viewer, status=status, first=first, after=after)


async def case_binding_application(info: Info[Context, None], application_id: str) -> BindingView:
    context = info.context
    viewer = context.require_viewer(scope=Scope.BINDINGS_WRITE)
    found = await context.services.bindings.get(viewer, application_id)
    if found is None:
        raise NotFound("no such case binding application of yours")
    return found
