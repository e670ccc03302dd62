"""What the gateway learns about one HTTP request while serving it, for its access line.

One ``RequestRecord`` per request lives in a context variable set by ``middleware.RequestObservation``;
every task the request spawns (resolvers fanning out to courts) shares the same record object, so the
hooks deep down (a court call, the GraphQL extension) add to it without being handed anything. Outside
a request (the outbox workers, the change follower) there is no record and the hooks note nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestRecord:
    request_id: str
    operation: str | None = None
    operation_type: str | None = None
    outcome: str | None = None
    #: a keyed hash of the token's subject (``principal_hash``), never the subject itself
    principal: str | None = None
    courts: set[str] = field(default_factory=set)
    error_codes: set[str] = field(default_factory=set)
    #: the key of ``principal_hash`` (the deployment's, so replicas agree)
    hash_key: bytes = field(default=b"", repr=False)


_current: ContextVar[RequestRecord | None] = ContextVar("gateway_request_record", default=None)


def current() -> RequestRecord | None:
    return _current.get()


def begin(request_id: str, hash_key: bytes) -> tuple[RequestRecord, object]:
    """A new record for this request, made current; pass the token back to :func:`end`."""
    record = RequestRecord(request_id, hash_key=hash_key)
    return record, _current.set(record)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def note_court(court: str, error_code: str | None = None) -> None:
    record = _current.get()
    if record is not None:
        record.courts.add(court)
        if error_code:
            record.error_codes.add(error_code)


def note_error(code: str) -> None:
    """An error code the client got that no court call noted (a refusal before execution, a GraphQL error)."""
    record = _current.get()
    if record is not None:
        record.error_codes.add(code)


def note_principal(subject: str | None) -> None:
    """Who is asking (a token's subject; None: anonymous), hashed at once."""
    record = _current.get()
    if record is not None and subject is not None:
        record.principal = principal_hash(subject, record.hash_key)


def principal_hash(subject: str, key: bytes) -> str:
    """16 hex digits of HMAC-SHA256: the same principal gives the same value in every line (and every
    replica sharing the key), and no dictionary of ID numbers or phone numbers reverses it."""
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:16]
