"""Documents sent by reference: trusted documents from a build-time manifest, and APQ.

Two ways a client names its document instead of (or as well as) sending its text:

- **Trusted documents** (persisted documents): a first-party client's operations are hashed when it is
  built and listed in a manifest in this repository, ``clients/manifests/<client>.json``, the map
  ``{"<sha256 hex of the document text>": "<document text>"}`` that GraphQL Codegen's client preset
  (``persistedDocuments``) and Relay's persisted queries write. A client sends ``documentId``
  (``"sha256:<hex>"``, the GraphQL-over-HTTP persisted-documents proposal; a bare hex is read too) or
  ``extensions.persistedQuery.sha256Hash`` instead of ``query``.
- **APQ** (Apollo's automatic persisted queries): ``extensions.persistedQuery {version: 1, sha256Hash}``
  without ``query`` is looked up; unknown, the answer is ``PersistedQueryNotFound``
  (``PERSISTED_QUERY_NOT_FOUND``, HTTP 200 as Apollo Server answers) and the client sends the text with
  the hash, which registers it once the hash is verified. Registered documents live in the cache
  (``gateway.cache``): in Redis, shared by every replica and kept ``apq_ttl_s``; in the memory cache, an
  LRU of ``APQ_ENTRIES`` documents and ``APQ_TOTAL_CHARS`` characters in this process (per-process state,
  deliberate: a client meeting a miss simply registers again).

Policy (``DocumentPolicy``), per kind of caller: first-party tokens (and anonymous callers, the first-party
pages before sign-in) and OAuth client tokens (``Viewer.client_id``, the law firms' software) are each
``any`` (free documents within the cost budget) or ``trusted`` (only documents in a manifest: any other
is ``DOCUMENT_NOT_TRUSTED``, and APQ may not register it). Production makes first-party callers
``trusted`` by default (``gateway.security.document_policy``).

Invariants: a document's size is bounded before it is hashed (the HTTP edge bounds every body and query
string to ``max_document_bytes``; a WebSocket message's document is checked here against the same
ceiling); nothing is stored whose hash was not verified; a manifest entry whose key is not the hash of
its text stops the gateway at start; APQ keeps only documents that parse within the token limit
(``gateway.schema.limits``). Resolution happens before execution: the resolved text then meets the same
token, depth, alias and cost limits as any other (``gateway.schema.limits``, ``gateway.demand``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphql import GraphQLError, parse

from gateway.body_limit import document_too_large
from gateway.cache import Cache
from gateway.errors import BAD_REQUEST, RequestRefused
from gateway.identity import Viewer

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
DOCUMENT_NOT_TRUSTED = "DOCUMENT_NOT_TRUSTED"
#: documents the memory cache's APQ store keeps (an LRU), and their characters in all; Redis keeps each
#: ``apq_ttl_s`` instead (every one within ``max_document_bytes``, registered only by callers allowed their own)
APQ_ENTRIES = 2000
APQ_TOTAL_CHARS = 8 * 1024 * 1024
_HEX = re.compile(r"[0-9a-f]{64}")

Trust = Literal["any", "trusted"]


def document_hash(text: str) -> str:
    """The sha256 hex of a document's text, as UTF-8: the key clients and manifests use."""
    return hashlib.sha256(text.encode()).hexdigest()


class ManifestError(ValueError):
    """A manifest that cannot be trusted: unreadable, not a map, or a key that is not its text's hash."""


@dataclass(frozen=True)
class DocumentPolicy:
    """Whether first-party callers (and anonymous ones) and OAuth clients may send documents of their own."""

    first_party: Trust = "any"
    clients: Trust = "any"

    def trusted_only(self, viewer: Viewer | None) -> bool:
        kind = self.clients if viewer is not None and viewer.client_id is not None else self.first_party
        return kind == "trusted"


class TrustedDocuments:
    """Every manifest's documents by hash, read once at start; which client each came from."""

    def __init__(self, documents: Mapping[str, str] | None = None, clients: Mapping[str, str] | None = None) -> None:
        self.documents = dict(documents or {})
        self.clients = dict(clients or {})

    @classmethod
    def load(cls, directory: Path | None, max_bytes: int) -> TrustedDocuments:
        """Every ``*.json`` manifest in ``directory`` (none when it is unset or missing)."""
        documents: dict[str, str] = {}
        clients: dict[str, str] = {}
        if directory is None or not directory.is_dir():
            return cls()
        for path in sorted(directory.glob("*.json")):
            for key, text in read_manifest(path, max_bytes).items():
                documents[key] = text
                clients.setdefault(key, path.stem)
        return cls(documents, clients)

    def get(self, key: str) -> str | None:
        return self.documents.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.documents

    def __len__(self) -> int:
        return len(self.documents)


def read_manifest(path: Path, max_bytes: int) -> dict[str, str]:
    """One manifest, every entry verified: its key the sha256 of its text, the text within the ceiling."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path.name}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise ManifestError(f'{path.name}: a manifest is one JSON object {{"<sha256>": "<document>"}}')
    for key, text in data.items():
        if not isinstance(text, str) or not _HEX.fullmatch(key):
            raise ManifestError(f"{path.name}: {key[:16]!r}… is not a sha256 hex key of a document text")
        if len(text.encode()) > max_bytes:
            raise ManifestError(f"{path.name}: document {key[:12]}… is over the {max_bytes}-byte ceiling")
        if document_hash(text) != key:
            raise ManifestError(f"{path.name}: document {key[:12]}… does not hash to its key")
    return data


def build_manifest(operations: Path) -> dict[str, str]:
    """A client's manifest from its operations, one ``*.graphql`` file each (build time): every document's
    text (without its surrounding white space, which is what the client sends) by its sha256."""
    texts = [path.read_text(encoding="utf-8").strip() for path in sorted(operations.glob("*.graphql"))]
    return {document_hash(text): text for text in texts}


def manifest_text(manifest: Mapping[str, str]) -> str:
    """A manifest as it is committed: keys sorted, one entry a line, so a change is a readable diff."""
    return json.dumps(dict(sorted(manifest.items())), ensure_ascii=False, indent=2) + "\n"


class APQStore:
    """Registered APQ documents: in the cache (Redis: shared, kept ``ttl_s``) or a bounded in-process LRU."""

    def __init__(
        self, cache: Cache | None, ttl_s: float, entries: int = APQ_ENTRIES, total_chars: int = APQ_TOTAL_CHARS
    ) -> None:
        self.cache = cache if cache is not None and not cache.process_local else None
        self.ttl_s = ttl_s
        self.entries = entries
        self.total_chars = total_chars
        self._local: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    async def get(self, key: str) -> str | None:
        if self.cache is not None:
            found = await self.cache.peek(f"apq:{key}")
            return found if isinstance(found, str) else None
        text = self._local.get(key)
        if text is not None:
            self._local.move_to_end(key)
        return text

    async def put(self, key: str, text: str) -> None:
        """Store ``text`` under ``key``; the caller has verified that ``key`` is its hash."""
        if self.cache is not None:
            await self.cache.put(f"apq:{key}", text, self.ttl_s)
            return
        if key in self._local:
            self._local.move_to_end(key)
            return
        self._local[key] = text
        self._chars += len(text)
        while len(self._local) > self.entries or self._chars > self.total_chars:
            _, evicted = self._local.popitem(last=False)
            self._chars -= len(evicted)


def _refused(status: int, code: str, message: str) -> RequestRefused:
    return RequestRefused(status, code, message)


def not_found() -> RequestRefused:
    """Apollo clients recognise the message itself (``PersistedQueryNotFound``) and then send the text."""
    return _refused(200, PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")


class PersistedDocuments:
    """Turns a request's ``query``/``documentId``/``extensions.persistedQuery`` into the text to run, or a
    typed refusal, under the caller's ``DocumentPolicy``."""

    def __init__(
        self,
        trusted: TrustedDocuments,
        apq: APQStore | None,
        policy: DocumentPolicy,
        max_document_bytes: int,
        max_tokens: int,
    ) -> None:
        self.trusted = trusted
        self.apq = apq
        self.policy = policy
        self.max_document_bytes = max_document_bytes
        #: the parser's token limit (``gateway.schema.limits.MAX_TOKENS``): APQ keeps no document past it
        self.max_tokens = max_tokens

    async def resolve(
        self, viewer: Viewer | None, query: object, document_id: object, extensions: object
    ) -> str | None:
        """The document text to run (None: the request named none; the caller refuses that as it did)."""
        if query is not None and not isinstance(query, str):
            return None  # the caller's own check refuses a query that is not a string
        if query is not None and len(query.encode()) > self.max_document_bytes:
            code, message = document_too_large(self.max_document_bytes)
            raise RequestRefused(413, code, message, maxBytes=self.max_document_bytes)
        trusted_only = self.policy.trusted_only(viewer)
        key = _key_of(document_id, extensions)
        if key is None:
            if query is not None and trusted_only and document_hash(query) not in self.trusted:
                raise _untrusted()
            return query
        if query is not None:
            if document_hash(query) != key:
                raise _refused(400, PERSISTED_QUERY_HASH_MISMATCH, "the document's sha256 is not the hash sent")
            if key in self.trusted:
                return query
            if trusted_only:
                raise _untrusted()
            if self.apq is None:
                raise _refused(200, PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported")
            if _parses(query, self.max_tokens):  # one that does not is not kept: running it reports why
                await self.apq.put(key, query)
            return query
        found = self.trusted.get(key)
        if found is not None:
            return found
        if trusted_only:
            raise _untrusted()
        if self.apq is None:
            raise _refused(200, PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported")
        found = await self.apq.get(key)
        if found is None:
            raise not_found()
        return found


def _parses(text: str, max_tokens: int) -> bool:
    """Whether ``text`` parses within ``max_tokens`` lexical tokens."""
    try:
        parse(text, max_tokens=max_tokens)
    except GraphQLError:
        return False
    return True


def _untrusted() -> RequestRefused:
    return _refused(
        403,
        DOCUMENT_NOT_TRUSTED,
        "this client may run only the documents registered in its manifest: send their documentId",
    )


def _key_of(document_id: object, extensions: object) -> str | None:
    """The sha256 hex a request names by ``documentId`` or ``extensions.persistedQuery`` (None: neither)."""
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if document_id is None and persisted is None:
        return None
    if document_id is not None:
        if not isinstance(document_id, str):
            raise _refused(400, BAD_REQUEST, 'documentId must be a string "sha256:<hex>"')
        algorithm, _, digest = document_id.rpartition(":")
        if algorithm not in ("", "sha256") or not _HEX.fullmatch(digest):
            raise _refused(400, BAD_REQUEST, 'documentId must be "sha256:" and 64 lowercase hex digits')
        if persisted is not None and _persisted_key(persisted) != digest:
            raise _refused(400, BAD_REQUEST, "documentId and extensions.persistedQuery name different documents")
        return digest
    return _persisted_key(persisted)


def _persisted_key(persisted: Any) -> str:
    if not isinstance(persisted, dict):
        raise _refused(400, BAD_REQUEST, "extensions.persistedQuery must be an object {version, sha256Hash}")
    if persisted.get("version") != 1:
        raise _refused(400, PERSISTED_QUERY_NOT_SUPPORTED, "only persistedQuery version 1 is supported")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HEX.fullmatch(digest):
        raise _refused(400, BAD_REQUEST, "extensions.persistedQuery.sha256Hash must be 64 lowercase hex digits")
    return digest
