"""Parsed and validated documents, cached so that a repeated query skips both steps (DESIGN §6), in a
cache no client can grow.

Invariants: a document is cached only when its query text has at most ``max_chars`` characters; the
cache holds at most ``max_entries`` documents and ``max_total_chars`` characters of query text,
dropping the least recently used first. A parsed document takes about 120 bytes per character of its
text, so the cache's memory is bounded (about 120 × ``max_total_chars`` bytes) however many distinct or
large documents clients send. (Strawberry's ``ParserCache`` bounds only the count, and its
``ValidationCache`` keeps every document it validated alive as a key.)

Validation starts with the document's shape (``limits.shape_errors``, linear), and runs the rules only
for a document of a sane shape. A document's validation errors are cached with it, for the validation rules in force when it was
validated; they are typed as they are made (``GRAPHQL_VALIDATION_FAILED`` unless a rule typed them),
and never changed afterwards: every request shares them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import ASTValidationRule, DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gateway.errors import VALIDATION_FAILED
from gateway.schema.limits import shape_errors

Rules = tuple[type[ASTValidationRule], ...]


@dataclass
class CachedDocument:
    document: DocumentNode
    rules: Rules | None = None
    errors: list[GraphQLError] = field(default_factory=list)


@dataclass
class CacheStats:
    parse_hits: int = 0
    validation_hits: int = 0
    misses: int = 0


class DocumentCache:
    """A process-wide LRU of parsed documents (with their validation errors) keyed by query text."""

    def __init__(self, *, max_entries: int, max_chars: int, max_total_chars: int) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.max_total_chars = max_total_chars
        self.stats = CacheStats()
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, query: object) -> bool:
        return query in self._entries

    @property
    def total_chars(self) -> int:
        """Characters of query text held (what bounds the memory the cache takes)."""
        return self._chars

    def get(self, query: str) -> CachedDocument | None:
        entry = self._entries.get(query)
        if entry is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(query)
        self.stats.parse_hits += 1
        return entry

    def put(self, query: str, document: DocumentNode) -> CachedDocument | None:
        """Keep ``document`` if it is small enough; the entry kept, or None."""
        if len(query) > self.max_chars:
            return None
        entry = self._entries.pop(query, None)
        if entry is not None:
            self._chars -= len(query)
        entry = CachedDocument(document)
        self._entries[query] = entry
        self._chars += len(query)
        while len(self._entries) > self.max_entries or self._chars > self.max_total_chars:
            dropped, _ = self._entries.popitem(last=False)
            self._chars -= len(dropped)
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self._chars = 0


class CachedDocuments(SchemaExtension):
    """Parse and validate through ``cache`` (pass as a factory: ``lambda: CachedDocuments(cache)``).

    Parsing itself stays Strawberry's (with the parse options other extensions set, e.g. the token
    limit), so its syntax errors are reported the usual way; this only supplies a cached document
    before, and keeps the new one after. Validation is always run here, typing its errors.
    """

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self.entry: CachedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        self.entry = self.cache.get(query) if query else None
        if self.entry is not None:
            context.graphql_document = self.entry.document
        yield
        if self.entry is None and query and context.graphql_document is not None:
            self.entry = self.cache.put(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        rules: Rules = tuple(context.validation_rules)
        entry = self.entry
        if entry is not None and entry.rules == rules:
            self.cache.stats.validation_hits += 1
            errors = entry.errors
        else:
            document = context.graphql_document
            assert document is not None
            errors = shape_errors(document) or validate_document(context.schema._schema, document, rules)
            for error in errors:
                if not (error.extensions or {}).get("code"):
                    error.extensions = {**(error.extensions or {}), "code": VALIDATION_FAILED}
            if entry is not None:
                entry.rules, entry.errors = rules, errors
        context.pre_execution_errors = list(errors)
        yield
