"""Whole answers to read-only operations, replayed without parsing, validating or executing anything.

Key: the caller's whole identity (``Viewer.scope``, which names the OAuth client and its scopes, and
every claim the access rules read, ``Viewer.access_claims``: subject, roles, identity level, …), the
hash of the document, the operation name and the variables, under a version that changes with the
schema and the cached objects' format (a rolling upgrade never replays another version's answer). The
value: the answer's bytes, when it expires, and the cache generation of every scope the answer drew on
(each court it read, the caller's bindings: ``gateway.reads``). A replay first reads those generations
again, in the same round trip every request makes anyway: one that moved (a court event followed from
its feed, the gateway's own write such as a signature or a binding approval) makes it a miss, on every
replica at once, since generations live in the shared cache.

Invariants, all checked when an answer is kept, none needed when it is replayed:
- only queries (never mutations, never subscriptions), and only operations whose root fields are all in
  ``CACHEABLE_ROOTS`` (the case reads, whose data is court data under generations);
- only complete answers: ``data`` and nothing else (no errors, so no court failure, no partial data,
  no refusal, no cost report asked for with ``extensions``);
- only answers that read nothing outside a generation (``gateway.reads``): a row of the database, a
  court called outside the cache, the clock (``Runtime.now``). Answers computed from now (deadlines,
  reading windows, overdue tickets) are thus never kept: each of those fields reads the database or the
  clock, and none is under a cacheable root today. The TTL (``Settings.response_cache_ttl_s``, capped
  by ``cache_ttl_s``) bounds the rest: a change a court's feed never reports.
- only for a signed-in caller, only POST with a JSON body (GET and multipart requests always execute); a
  document named by reference (a trusted document's id, an APQ hash) is resolved first, under the
  caller's document policy, exactly as for execution, and keyed by its text.

Edge checks all run before a replay (``GraphQLApp.run``): body size, authentication, the rate limit (a
replay counts like any request). Per process: the answers this process kept or read last (the cache's
response first level) and the shape of the last documents asked (``SHAPES``); both bounded.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import FieldNode, GraphQLSyntaxError, OperationDefinitionNode, OperationType, parse

from gateway.cache import Cache
from gateway.identity import Viewer
from gateway.reads import Reads

#: root fields whose answers may be replayed: everything under them is court data read under generations,
#: or it reads the database or the clock and so is never kept (module docstring)
CACHEABLE_ROOTS = frozenset({"case", "myCases", "courtCases", "__typename"})
#: documents whose shape (query? cacheable roots?) each process remembers
SHAPES = 512


@dataclass(frozen=True, slots=True)
class Asked:
    """What a request body says, before its document is resolved (it may name it: ``gateway.persisted``)."""

    query: str | None
    document_id: str | None
    extensions: dict[str, Any] | None
    operation_name: str | None
    variables: bytes


@dataclass(frozen=True, slots=True)
class Ask:
    """One request, reduced to what its answer depends on."""

    key: str
    query: str
    operation_name: str | None


class ResponseCache:
    def __init__(self, cache: Cache, ttl_s: float, version: str) -> None:
        self.cache = cache
        self.ttl_s = ttl_s
        self.version = version
        self._shapes: OrderedDict[tuple[str, str | None], bool] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.kept = 0

    def asked(self, viewer: Viewer | None, body: bytes) -> Asked | None:
        """What the body asks, or None when it is not a candidate (anonymous, not one JSON object, operation
        extensions other than a persisted query's hash asked for): then it just executes, and refusals come
        from there."""
        if viewer is None:
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        query, document_id, extensions = data.get("query"), data.get("documentId"), data.get("extensions")
        name, variables = data.get("operationName"), data.get("variables")
        if extensions is not None and not (isinstance(extensions, dict) and set(extensions) <= {"persistedQuery"}):
            return None
        if not (
            isinstance(query, str | None)
            and isinstance(document_id, str | None)
            and isinstance(name, str | None)
            and isinstance(variables, dict | None)
        ):
            return None
        try:
            variable_bytes = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        return Asked(query, document_id, extensions or None, name, variable_bytes)

    def ask(self, viewer: Viewer, query: str, asked: Asked) -> Ask:
        """The key of the request whose document (resolved: sent, or named by reference) is ``query``."""
        who = orjson.dumps(viewer.access_claims(), option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256()
        name = asked.operation_name
        for part in (self.version.encode(), viewer.scope.encode(), who, query.encode(), (name or "").encode()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        digest.update(asked.variables)
        return Ask("resp:" + digest.hexdigest(), query, name)

    async def replay(self, ask: Ask) -> bytes | None:
        """The kept answer, when it has not expired and no generation it drew on has moved; else None."""
        entry = await self.cache.peek_answer(ask.key)
        if entry is not None and entry[0] > time.time():
            drawn: tuple[tuple[str, int], ...] = entry[1]
            current = await self.cache.generations(scope for scope, _ in drawn)
            if all(current[scope] == generation for scope, generation in drawn):
                self.hits += 1
                self.cache.hits += 1  # a lookup of the cache like any other (its metrics count both)
                body: bytes = entry[2]
                return body
        self.misses += 1
        self.cache.misses += 1
        return None

    async def keep(self, ask: Ask, reads: Reads, status: int, body: bytes) -> bool:
        """Keep the answer if every invariant of the module docstring holds; whether it was kept."""
        if status != 200 or reads.untracked is not None or not self._cacheable(ask):
            return False
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(answer, dict) or set(answer) != {"data"} or answer["data"] is None:
            return False
        drawn = tuple(sorted(reads.generations.items()))
        await self.cache.put_answer(ask.key, (time.time() + self.ttl_s, drawn, body), self.ttl_s)
        self.kept += 1
        return True

    def _cacheable(self, ask: Ask) -> bool:
        """A query whose root fields are all in ``CACHEABLE_ROOTS`` (remembered per document)."""
        key = (hashlib.sha256(ask.query.encode()).hexdigest(), ask.operation_name)
        found = self._shapes.get(key)
        if found is None:
            found = _cacheable_shape(ask.query, ask.operation_name)
            self._shapes[key] = found
            if len(self._shapes) > SHAPES:
                self._shapes.popitem(last=False)
        return found


def _cacheable_shape(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, no_location=True)
    except GraphQLSyntaxError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    # a fragment at the root could hide any field: not worth following, such documents just execute
    return all(isinstance(s, FieldNode) and s.name.value in CACHEABLE_ROOTS for s in selections)
