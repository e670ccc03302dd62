"""Court and viewer resolvers."""

from __future__ import annotations

from strawberry.types import Info

from gateway.config import CourtConfig
from gateway.context import Context
from gateway.identity import Viewer


def viewer(info: Info[Context, None]) -> Viewer:
    return info.context.require_viewer(any_client=True)


def courts(info: Info[Context, None]) -> list[CourtConfig]:
    info.context.require_viewer(any_client=True)
    return [a.court for a in info.context.services.registry.courts()]
