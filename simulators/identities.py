"""The demo identity provider: claims for every demo login, resolved against the seeded world.

Persons come from the seed's ``[[person]]`` entries; staff logins (``[[staff]]``) name a role, court and
division, and stand for the first such member of the generated court, so their panels are real.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from gateway.adapters.model import IdentityKind, StaffRole
from simulators.generator import World


def staff_logins(seed_file: Path) -> dict[str, dict[str, str]]:
    with open(seed_file, "rb") as f:
        return {s["login"]: s for s in tomllib.load(f).get("staff", [])}


def demo_logins(world: World, seed_file: Path) -> list[str]:
    return [*world.demo, *staff_logins(seed_file)]


def demo_claims(world: World, seed_file: Path, login: str) -> dict[str, Any]:
    """The claims the demo identity provider asserts for ``login``; KeyError for an unknown login."""
    if login in world.demo:
        person = world.demo[login]
        lawyer = person.kind == IdentityKind.LICENCE_NUMBER
        claims: dict[str, Any] = {
            "sub": login,
            "name": person.name,
            "phone": person.phone,
            "roles": ["LAWYER"] if lawyer else ["PARTY"],
            "level": "FACE" if lawyer else "REAL_NAME",
        }
        claims["licence_number" if lawyer else "id_number"] = person.number
        if lawyer and person.firm:
            claims["firm"] = person.firm  # courts record a lawyer's firm with them
        return claims
    entry = staff_logins(seed_file)[login]
    court = world.courts[entry["court"]]
    role = StaffRole(entry["role"])
    member = next(
        s for s in court.staff if s.role == role and (entry.get("division") is None or s.division == entry["division"])
    )
    return {
        "sub": login,
        "name": member.name,
        "phone": member.phone,
        "roles": [entry["role"]],
        "level": "FACE",
        "staff_id": member.staff_id,
        "court": court.court.code,
        "division": member.division,
    }
