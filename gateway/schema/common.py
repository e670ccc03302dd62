"""The GraphQL layer's shared pieces: the Relay Node interface and its refetch registry, page info,
global IDs, enum mirroring, the role sets resolvers check, and reading uploads.

Error mapping is ``gateway.errors`` (one map, applied by the schema's ``PublicErrors`` extension).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, TypeVar, overload

import strawberry
from strawberry.types import Info

from gateway.adapters.model import CHINA_TZ
from gateway.core.uploads import IncomingFile, InvalidInput, UploadLimits, check_count
from gateway.errors import BadUserInput
from gateway.identity import Role

#: who has cases of their own (as a party or a lawyer of record)
PERSON_ROLES = {Role.PARTY, Role.LAWYER}
#: staff who see the cases of their panel, division or court
STAFF_WITH_CASES = {Role.CLERK, Role.JUDGE, Role.DIVISION_HEAD, Role.COURT_LEADER, Role.ARCHIVE_ADMIN}


@strawberry.interface(description="An object with a global ID, refetchable with `node(id:)` (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description="Global, opaque and stable ID.")


@strawberry.type(description="Where a page of a connection sits in the whole list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(description="Always false: lists page forward only.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")

    @classmethod
    def forward(cls, cursors: Sequence[str], has_next_page: bool, resume: str | None = None) -> PageInfo:
        """A forward-only page whose items have ``cursors``; ``resume`` is where the next page starts when
        that is not after the last item (so a page is never left without a way on)."""
        return cls(
            has_next_page=has_next_page,
            has_previous_page=False,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=resume or (cursors[-1] if cursors else None),
        )


#: refetch a Node by the key of its global ID (``None``: its court cannot answer now)
NodeLoader = Callable[[Info[Any, None], str], Awaitable["Node | None"]]
#: type name → its loader; each domain's schema module registers its Node types with ``refetchable``
NODE_LOADERS: dict[str, NodeLoader] = {}


L = TypeVar("L", bound=NodeLoader)


def refetchable(type_name: str) -> Callable[[L], L]:
    """Register the loader that ``node(id:)`` uses for global IDs of ``type_name``."""

    def register(loader: L) -> L:
        NODE_LOADERS[type_name] = loader
        return loader

    return register


def global_id(type_name: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("="))


def parse_global_id(value: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode()
        type_name, key = raw.split(":", 1)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadUserInput("not a global ID issued by this gateway", reason="GLOBAL_ID") from None
    return type_name, key


#: the store's numeric ids are 64-bit
MAX_NUMBER = 2**63 - 1


def global_number(value: str, type_name: str) -> int:
    """The numeric key of a global ID of ``type_name``; BAD_USER_INPUT (GLOBAL_ID) for anything else,
    such as a key of other digits ("²") or beyond the store's ids."""
    found, key = parse_global_id(value)
    if found != type_name or not (key.isascii() and key.isdigit()) or int(key[:20]) > MAX_NUMBER:
        raise BadUserInput(f"not a {type_name} ID", reason="GLOBAL_ID")
    return int(key)


def mirror_enum(source: type[Enum], name: str, description: str) -> Any:
    """A GraphQL enum with the members of a domain enum, so the domain model stays GraphQL-free."""
    mirrored = Enum(name, [(m.name, m.value) for m in source])  # type: ignore[misc]
    return strawberry.enum(mirrored, description=description)


def check_first(first: int, *, maximum: int = 100) -> int:
    if not 1 <= first <= maximum:
        raise BadUserInput(f"first must be between 1 and {maximum}", reason="FIRST")
    return first


@overload
def china_time(value: datetime) -> datetime: ...
@overload
def china_time(value: None) -> None: ...
def china_time(value: datetime | None) -> datetime | None:
    """Times as the courts show them: China Standard Time (+08:00), whatever the store keeps."""
    return value.astimezone(CHINA_TZ) if value is not None else None


class UploadedFile(Protocol):
    """What Strawberry hands over for an ``Upload`` on ASGI (Starlette's ``UploadFile``)."""

    filename: str | None
    content_type: str | None

    async def read(self, size: int = -1) -> bytes: ...


def uploaded(value: object) -> UploadedFile:
    """``value`` as a file part; InvalidInput NOT_A_FILE for anything else (an ``Upload`` argument given inline,
    as a string or number, rather than mapped to a part of a multipart request)."""
    if not callable(getattr(value, "read", None)):
        raise InvalidInput(
            "files travel as parts of a multipart request (GraphQL multipart request spec)", "NOT_A_FILE"
        )
    return value  # type: ignore[return-value]


async def read_uploads(files: list[UploadedFile], limits: UploadLimits, *, required: bool = True) -> list[IncomingFile]:
    """The uploads as the services check them, reading no more of each file than it takes to know it is too
    large; InvalidInput for too many (or, when ``required``, none) and for what is not a file part."""
    if files or required:
        check_count(len(files), limits)
    parts = [uploaded(f) for f in files]
    return [
        IncomingFile(f.filename or "", f.content_type or "", await f.read(limits.max_file_bytes + 1)) for f in parts
    ]
