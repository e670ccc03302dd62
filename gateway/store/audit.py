"""The audit log: append-only records, each hash-chained to the one before it.

``hash = sha256(prev_hash + canonical JSON of the record)``, where the canonical JSON has sorted
keys, no whitespace, UTF-8 text and the timestamp in ISO 8601 UTC with microseconds. Changing a
record breaks its hash; deleting one leaves a gap in ``seq`` or a ``prev_hash`` pointing nowhere;
deleting the newest ones leaves the head pointing past the end. The chain proves the log intact to
anyone who cannot rewrite all of it and its head; anchoring head hashes outside the database (e.g. a
daily published digest) is what defends against that.

The canonical form is a storage format: changing :func:`record_hash` breaks every existing chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.models import AuditHead, AuditRecord

#: the ``prev_hash`` of record 1, and the head's hash while the log is empty
GENESIS_HASH = "0" * 64
HEAD_ID = 1
SYSTEM_ACTOR = "system"

_COLUMNS = AuditRecord.__table__.c


class AuditChainError(Exception):
    """The chain cannot be appended to (its head row is missing: run the migrations)."""


@dataclass(frozen=True)
class AuditVerification:
    """What :func:`verify` found. ``checked`` counts the records whose hash and link verified, in
    ``seq`` order, before the first problem; ``first_bad_seq`` is where the log stops being trustworthy
    (a missing record's seq, an altered one's, or the one the head should have named)."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain ok: {self.checked} records verified"
        at = f" at seq {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"audit chain BROKEN{at}: {self.reason} ({self.checked} records verified before it)"


def canonical_json(value: Any) -> bytes:
    """The one byte string a JSON value hashes as; refuses what JSON cannot carry (NaN, datetimes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def record_hash(
    *,
    prev_hash: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    court_code: str | None,
    details: Mapping[str, Any],
) -> str:
    """The hash of one record, chained to ``prev_hash``."""
    fields = {
        "seq": seq,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "court_code": court_code,
        "details": details,
    }
    return hashlib.sha256(prev_hash.encode() + canonical_json(fields)).hexdigest()


async def append(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    court_code: str | None = None,
    details: Mapping[str, Any] | None = None,
    client_id: str | None = None,
) -> AuditRecord:
    """Add a record to the chain inside the caller's transaction: it exists only if that commits.

    Appends serialise on the head row (PostgreSQL: ``SELECT … FOR UPDATE``; SQLite: the store's
    sessions hold the write lock from BEGIN), so ``seq`` has no gaps and no duplicates. Keep the
    transaction short: every other append waits for it. ``client_id``: the registered client the person
    acted through, kept in ``details`` (absent for the court's own apps, so earlier records hash alike).
    """
    for name, value in (
        ("actor", actor),
        ("action", action),
        ("subject_type", subject_type),
        ("subject_id", subject_id),
    ):
        if not value:
            raise ValueError(f"audit record needs a {name}")
    # a registered client acting for the person (OAuth, issue 14) is recorded beside them
    merged = {**(details or {}), **({"client_id": client_id} if client_id else {})}
    # stored exactly as hashed: the JSON round trip turns tuples into lists, keys into strings
    stored_details: dict[str, Any] = json.loads(canonical_json(merged))

    head = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update())
    ).one_or_none()
    if head is None:
        raise AuditChainError("the audit_head row is missing: run `court-gateway migrate`")

    record = AuditRecord(
        seq=head.seq + 1,
        occurred_at=datetime.now(UTC),  # taken under the lock, so time follows seq
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        court_code=court_code,
        details=stored_details,
        prev_hash=head.hash,
    )
    record.hash = _hash_of(record)
    session.add(record)
    await session.flush()
    await session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=record.seq, hash=record.hash),
        execution_options={"synchronize_session": False},
    )
    return record


def _hash_of(record: Any) -> str:
    """The hash a stored record (an ``AuditRecord`` or a row of ``audit_log``) should carry."""
    return record_hash(
        prev_hash=record.prev_hash,
        seq=record.seq,
        occurred_at=record.occurred_at,
        actor=record.actor,
        action=record.action,
        subject_type=record.subject_type,
        subject_id=record.subject_id,
        court_code=record.court_code,
        details=record.details,
    )


async def verify(session: AsyncSession, *, batch_size: int = 1000) -> AuditVerification:
    """Walk the whole chain in ``seq`` order, ``batch_size`` records at a time, and check every link
    and the head. Run it in ``Store.session(read_only=True)`` so that appends committed meanwhile
    neither block it nor show up half-way."""
    head = (await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID))).one_or_none()
    if head is None:
        return AuditVerification(False, 0, None, "the audit head row is missing")

    last_seq, last_hash = 0, GENESIS_HASH  # the chain is gapless up to here, so last_seq records are checked
    while True:
        query = select(*_COLUMNS).where(_COLUMNS.seq > last_seq).order_by(_COLUMNS.seq).limit(batch_size)
        rows = iter(await session.execute(query))
        fetched = 0
        while True:
            try:
                row = next(rows, None)  # column types (timestamp, JSON) are parsed here, row by row
            except ValueError as e:  # e.g. a timestamp or JSON edited into something unparseable
                return AuditVerification(
                    False, last_seq, last_seq + 1, f"the record after {last_seq} is unreadable: {e}"
                )
            if row is None:
                break
            fetched += 1
            problem = _check_record(row, last_seq + 1, last_hash)
            if problem is not None:
                return AuditVerification(False, last_seq, *problem)
            last_seq, last_hash = row.seq, row.hash
        if fetched < batch_size:
            return _check_head(head.seq, head.hash, last_seq, last_hash)


def _check_record(row: Any, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    """``(first bad seq, reason)`` when ``row`` is not the intact successor of the record hashed ``prev_hash``."""
    if row.seq != expected_seq:
        return expected_seq, f"record {expected_seq} is missing (the next record is {row.seq})"
    if row.prev_hash != prev_hash:
        return row.seq, f"record {row.seq} does not link to record {row.seq - 1} (prev_hash mismatch)"
    if row.hash != _hash_of(row):
        return row.seq, f"record {row.seq} was altered (its hash does not match its contents)"
    return None


def _check_head(head_seq: int, head_hash: str, last_seq: int, last_hash: str) -> AuditVerification:
    """Every record checked out; the head must name the last one, or records were cut or added."""
    if head_seq > last_seq:
        reason = f"the head expects {head_seq} records but the chain ends at {last_seq}: the newest were deleted"
        return AuditVerification(False, last_seq, last_seq + 1, reason)
    if head_seq < last_seq:
        reason = f"the head ends at record {head_seq} but records follow up to {last_seq}: the head was altered"
        return AuditVerification(False, last_seq, head_seq + 1, reason)
    if head_hash != last_hash:
        reason = f"the head's hash does not match record {last_seq}: the head was altered"
        return AuditVerification(False, last_seq, last_seq or None, reason)
    return AuditVerification(True, last_seq)
