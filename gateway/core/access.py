"""Who may see which case: the one place these rules live, applied at the resolver edge.

A party sees cases where their ID number is a party; a lawyer, where their licence is an agent; staff
see their own court only, and within it their panel (clerk, judge), their division (division head) or
the whole court (court leader, archive administrator).
"""

from __future__ import annotations

from collections.abc import Collection

from gateway.adapters.model import Case
from gateway.identity import Role, Viewer

#: the staff roles that sit on a case's panel and review its bindings (案件绑定申请)
PANEL_ROLES = frozenset({Role.CLERK, Role.JUDGE})


def is_party_or_agent(viewer: Viewer, case: Case) -> bool:
    if viewer.id_number and Role.PARTY in viewer.roles and any(p.id_number == viewer.id_number for p in case.parties):
        return True
    return bool(
        viewer.licence_number
        and Role.LAWYER in viewer.roles
        and any(a.licence_number == viewer.licence_number for a in case.agents)
    )


def staff_scope_covers(viewer: Viewer, case: Case) -> bool:
    if not viewer.is_staff or viewer.court_code != case.court_code:
        return False
    if viewer.roles & {Role.COURT_LEADER, Role.ARCHIVE_ADMIN}:
        return True
    if Role.DIVISION_HEAD in viewer.roles and case.division == viewer.division:
        return True
    return bool(viewer.staff_id and any(s.staff_id == viewer.staff_id for s in case.panel))


def is_bound(viewer: Viewer, case: Case, bound: Collection[str]) -> bool:
    """An approved case binding links a party or lawyer to the case before (or without) the court's own
    record naming them. ``bound`` is the viewer's approved bindings' case numbers (canonical), loaded by
    the caller: this module does no I/O."""
    return bool(viewer.roles & {Role.PARTY, Role.LAWYER}) and case.case_number in bound


def can_see_case(viewer: Viewer, case: Case, bound: Collection[str] = ()) -> bool:
    return is_party_or_agent(viewer, case) or staff_scope_covers(viewer, case) or is_bound(viewer, case, bound)


def mask_id_number(number: str) -> str:
    """440104********1234: region and last four kept, as court documents print them."""
    if len(number) <= 10:
        return number[:2] + "*" * max(0, len(number) - 2)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
