"""Case resolvers: who may ask, which service answers, and which court failures to report."""

from __future__ import annotations

from strawberry.types import Info

from gateway.adapters import model
from gateway.adapters.errors import CourtError
from gateway.cases.service import CaseFilter, CaseList, CaseOrder
from gateway.context import Context
from gateway.core.federation import CourtFailure
from gateway.errors import BadUserInput, Forbidden, NotFound
from gateway.identity import Scope
from gateway.last_known import Stale
from gateway.schema.common import PERSON_ROLES, STAFF_WITH_CASES


async def my_cases(
    info: Info[Context, None], first: int, after: str | None, filter: CaseFilter, order: CaseOrder
) -> CaseList:
    context = info.context
    viewer = context.require_viewer(roles=PERSON_ROLES, scope=Scope.CASES_READ)
    unknown = filter.courts - {a.court.code for a in context.services.registry.courts()}
    if unknown:
        raise BadUserInput(f"unknown court codes: {', '.join(sorted(unknown))}", reason="UNKNOWN_COURT")
    found = await context.services.cases.my_cases(
        viewer, first=first, after=after, filter=filter, order=order, bound=await context.bound_cases()
    )
    context.report(found.failures, [info.path.key])
    context.report_stale(found.stale, [info.path.key])
    return found


async def court_cases(info: Info[Context, None], first: int, after: str | None, filter: CaseFilter) -> CaseList:
    """Staff only: their panel's, division's or court's cases, from their own court and no other."""
    context = info.context
    viewer = context.require_viewer(roles=STAFF_WITH_CASES, scope=Scope.CASES_READ)
    if not viewer.court_code or viewer.court_code not in context.services.registry:
        raise Forbidden("your account names no court this gateway serves")
    found = await context.services.cases.court_cases(viewer, first=first, after=after, filter=filter)
    context.report(found.failures, [info.path.key])
    context.report_stale(found.stale, [info.path.key])
    return found


async def case_by_number(info: Info[Context, None], case_number: str) -> tuple[model.Case | None, Stale | None]:
    """The case, or None when its court failed (reported as a court error); NOT_FOUND when not visible.
    With its court down, the last record of it this viewer was shown, with its ``Stale`` mark (reported)."""
    context = info.context
    viewer = context.require_viewer(scope=Scope.CASES_READ)
    stale: list[Stale] = []
    try:
        bound = await context.bound_case_numbers()
        case = await context.services.cases.case_by_number(viewer, case_number, bound=bound, stale=stale)
    except CourtError as e:
        context.report([CourtFailure.from_error(e)], [info.path.key])
        return None, None
    if case is None:
        raise NotFound(f"no case {case_number} that you may see")
    context.report_stale(stale, [info.path.key])
    return case, stale[0] if stale else None


async def related_case(info: Info[Context, None], case_number: str) -> model.Case | None:
    found = await info.context.loader(load_cases).load(case_number)
    if isinstance(found, CourtError):
        info.context.report([CourtFailure.from_error(found)], ["relatedCases"])
        return None
    return found


async def visible_case_file(info: Info[Context, None], case: model.Case) -> list[model.CaseFileVolume] | None:
    """正卷 published materials for parties and lawyers (an archived case: through an open reading window);
    everything for staff of the case's court. Every listing is audited (``casefile.viewed``).

    Reading case files needs a verified identity (在线诉讼规则 art. 7): REAL_NAME or FACE.
    """
    from gateway.resolvers.archive import case_file_of

    return await case_file_of(info, case, "caseFile")


async def load_cases(context: Context, numbers: list[str]) -> list[model.Case | CourtError | None]:
    """Cases the viewer may see by number, each from its own court (a per-request DataLoader's batch)."""
    assert context.viewer is not None
    bound = await context.bound_case_numbers()
    return await context.services.cases.cases_by_number(context.viewer, numbers, bound=bound)
