"""Documents served to a person by any court or by the national unified service platform.

The same document often goes out on several channels (the court's own platform and the national one);
it shares a fingerprint across them and is listed once, with every channel it reached the person on.
A document counts as signed when it was signed on any channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.adapters.model import PersonRef, ServedDocument
from gateway.adapters.resilience import ResilientAdapter
from gateway.core.cursors import InvalidCursor, decode_cursor, encode_cursor
from gateway.core.federation import CourtFailure, Deadline, Partial, gather_by_court
from gateway.core.runtime import Runtime
from gateway.identity import Viewer


@dataclass(frozen=True)
class ServedDocumentGroup:
    """One document as the person received it, on one or more channels (earliest first)."""

    copies: tuple[ServedDocument, ...]

    @property
    def primary(self) -> ServedDocument:
        """The court's own copy when there is one: that is where signing is recorded first."""
        own = [c for c in self.copies if c.source_code == c.court_code]
        return own[0] if own else self.copies[0]

    @property
    def signed(self) -> bool:
        return any(c.signed_at is not None for c in self.copies)

    @property
    def key(self) -> tuple[str, str]:
        first = self.copies[0]
        return (first.served_at.isoformat(), first.fingerprint or first.document_id)


#: given groups, the positions of those already signed through the gateway
SignedHere = Callable[[list[ServedDocumentGroup]], Awaitable[set[int]]]


@dataclass
class DocumentPage:
    groups: list[ServedDocumentGroup]
    cursors: list[str]
    has_next_page: bool
    total: int
    failures: list[CourtFailure] = field(default_factory=list)


def group_copies(documents: list[ServedDocument]) -> list[ServedDocumentGroup]:
    """Group copies of one document (same fingerprint and addressee), newest service first."""
    groups: dict[tuple[str, str], list[ServedDocument]] = {}
    for doc in documents:
        groups.setdefault((doc.fingerprint or doc.document_id, doc.addressee.number), []).append(doc)
    result = [ServedDocumentGroup(tuple(sorted(g, key=lambda d: d.served_at))) for g in groups.values()]
    return sorted(result, key=lambda g: g.key, reverse=True)


class DocumentService:
    def __init__(self, runtime: Runtime) -> None:
        self.registry = runtime.registry
        self.cache = runtime.cache
        self.request_deadline_s = runtime.settings.request_deadline_s
        self.ttl_s = runtime.settings.cache_ttl_s

    async def documents_at(self, adapter: ResilientAdapter, ref: PersonRef, generation: int) -> list[ServedDocument]:
        key = f"docs:{adapter.court.code}:{generation}:{ref.kind.value}:{ref.number}"
        return await self.cache.get_or_load(key, lambda: adapter.list_documents(ref), ttl=self.ttl_s)

    async def documents_of(self, viewer: Viewer) -> Partial[list[ServedDocument]]:
        """Every document served to the viewer, from every court and platform that answered."""
        adapters = list(self.registry)
        generations = await self.cache.generations(a.court.code for a in adapters)
        calls = [
            ((a.court.code, ref), a.court.code, _loader(self, a, ref, generations[a.court.code]))
            for a in adapters
            for ref in viewer.person_refs()
        ]
        results, failures = await gather_by_court(calls, Deadline(self.request_deadline_s))
        docs = [d for found in results.values() for d in found]
        return Partial(docs, failures)

    async def documents_to_sign(
        self, viewer: Viewer, *, first: int, after: str | None, signed_here: SignedHere | None = None
    ) -> DocumentPage:
        """``signed_here`` names the groups signed through the gateway that the court has not recorded
        yet (the signing service knows them): a document signed a moment ago is no longer to sign."""
        start = decode_cursor("documentsToSign", after) if after else None
        found = await self.documents_of(viewer)
        unsigned = [g for g in group_copies(found.value) if not g.signed]
        if signed_here is not None and unsigned:
            already = await signed_here(unsigned)
            unsigned = [g for i, g in enumerate(unsigned) if i not in already]
        remaining = unsigned
        if start is not None:
            last = (start.get("t"), start.get("f"))
            if not all(isinstance(part, str) for part in last):
                raise InvalidCursor()
            remaining = [g for g in unsigned if g.key < last]
        page = remaining[:first]
        cursors = [encode_cursor("documentsToSign", {"t": g.key[0], "f": g.key[1]}) for g in page]
        return DocumentPage(page, cursors, len(remaining) > first, len(unsigned), found.failures)


def _loader(
    service: DocumentService, adapter: ResilientAdapter, ref: PersonRef, generation: int
) -> Callable[[], Awaitable[list[ServedDocument]]]:
    return lambda: service.documents_at(adapter, ref, generation)
