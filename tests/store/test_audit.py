"""The audit log: a gapless hash chain that notices edits, deletions (anywhere, the newest included)
and a tampered head, and stays one chain under concurrent appends.

Tampering goes around the application, straight to the tables, the way someone with database access would.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.sql.dml import UpdateBase

from gateway.cli import main
from gateway.store import Store
from gateway.store.audit import GENESIS_HASH, AuditVerification, append, record_hash, verify
from gateway.store.migrate import upgrade_async
from gateway.store.models import AppendOnlyError, AuditHead, AuditRecord
from gateway.store.testing import sqlite_url

LOG = cast(Table, AuditRecord.__table__)
HEAD = cast(Table, AuditHead.__table__)


async def _append(store: Store, n: int, **fields: Any) -> AuditRecord:
    async with store.session() as session:
        return await _append_in(session, n, **fields)


async def _append_in(session: Any, n: int, **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "actor": "lawyer-chen",
        "action": "material.downloaded",
        "subject_type": "material",
        "subject_id": f"M-{n}",
        "court_code": "粤0104",
        "details": {"file": f"第{n}卷.pdf", "pages": n},
    }
    return await append(session, **{**values, **fields})


@pytest.fixture
async def chain(store: Store) -> Store:
    """Five records, each committed on its own."""
    for n in range(1, 6):
        await _append(store, n)
    return store


async def _verify(store: Store, batch_size: int = 1000) -> AuditVerification:
    async with store.session(read_only=True) as session:
        return await verify(session, batch_size=batch_size)


async def _tamper(store: Store, statement: UpdateBase) -> None:
    async with store.session() as session:
        await session.execute(statement)


# -- an intact chain ----------------------------------------------------------------------------------


async def test_appends_form_a_chain_that_verifies(store: Store) -> None:
    first = await _append(store, 1, court_code=None, details=None, actor="system")
    async with store.session() as session:  # several appends in one unit of work
        more = [await _append_in(session, n) for n in (2, 3, 4)]
    records = [first, *more]

    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]

    async with store.session(read_only=True) as session:
        stored = (await session.scalars(select(AuditRecord).order_by(AuditRecord.seq))).all()
    assert [(r.seq, r.hash) for r in stored] == [(r.seq, r.hash) for r in records]
    assert stored[0].court_code is None and stored[0].details == {} and stored[0].actor == "system"
    assert stored[3].details == {"file": "第4卷.pdf", "pages": 4} and stored[3].court_code == "粤0104"
    assert all(r.occurred_at.tzinfo is not None and r.occurred_at.utcoffset() == timedelta(0) for r in stored)
    assert [r.occurred_at for r in stored] == sorted(r.occurred_at for r in stored)

    result = await _verify(store)
    assert result == AuditVerification(ok=True, checked=4, first_bad_seq=None, reason=None)
    assert str(result) == "audit chain ok: 4 records verified"


async def test_an_empty_log_verifies(store: Store) -> None:
    assert await _verify(store) == AuditVerification(ok=True, checked=0)


@pytest.mark.parametrize("batch_size", [1, 2, 5, 1000])
async def test_verify_walks_the_chain_in_batches(chain: Store, batch_size: int) -> None:
    assert await _verify(chain, batch_size) == AuditVerification(ok=True, checked=5)
    await _tamper(chain, update(LOG).where(LOG.c.seq == 4).values(subject_id="M-x"))
    result = await _verify(chain, batch_size)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3)


# -- tampering ----------------------------------------------------------------------------------------


TAMPERING: list[Any] = [
    pytest.param(update(LOG).where(LOG.c.seq == 3).values(actor="mallory"), 3, 2, "altered", id="edited-actor"),
    pytest.param(
        update(LOG).where(LOG.c.seq == 2).values(details={"file": "x.pdf"}), 2, 1, "altered", id="edited-details"
    ),
    pytest.param(
        update(LOG).where(LOG.c.seq == 1).values(occurred_at=datetime(2020, 1, 1, tzinfo=UTC)),
        1,
        0,
        "altered",
        id="edited-timestamp",
    ),
    pytest.param(update(LOG).where(LOG.c.seq == 4).values(prev_hash="a" * 64), 4, 3, "does not link", id="edited-link"),
    pytest.param(delete(LOG).where(LOG.c.seq == 3), 3, 2, "missing", id="deleted-middle"),
    pytest.param(delete(LOG).where(LOG.c.seq == 1), 1, 0, "missing", id="deleted-first"),
    pytest.param(delete(LOG).where(LOG.c.seq == 5), 5, 4, "newest were deleted", id="deleted-last"),
    pytest.param(delete(LOG).where(LOG.c.seq >= 4), 4, 3, "newest were deleted", id="deleted-last-two"),
    pytest.param(update(HEAD).values(hash="f" * 64), 5, 5, "head", id="edited-head-hash"),
    pytest.param(update(HEAD).values(seq=4), 5, 5, "head", id="rewound-head"),
    pytest.param(delete(HEAD), None, 0, "head row is missing", id="deleted-head"),
]


@pytest.mark.parametrize(("tampering", "first_bad_seq", "checked", "reason"), TAMPERING)
async def test_tampering_is_detected_where_it_happened(
    chain: Store, tampering: UpdateBase, first_bad_seq: int | None, checked: int, reason: str
) -> None:
    await _tamper(chain, tampering)
    result = await _verify(chain)
    assert not result.ok
    assert (result.first_bad_seq, result.checked) == (first_bad_seq, checked)
    assert result.reason is not None and reason in result.reason
    assert str(result).startswith("audit chain BROKEN")


async def test_a_rewritten_record_with_a_fresh_hash_breaks_the_next_link(chain: Store) -> None:
    async with chain.session() as session:
        record = (await session.execute(select(LOG).where(LOG.c.seq == 3))).one()
        fields = {k: getattr(record, k) for k in record._fields if k != "hash"} | {"actor": "mallory"}
        await session.execute(update(LOG).where(LOG.c.seq == 3).values(actor="mallory", hash=record_hash(**fields)))
    result = await _verify(chain)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3)
    assert result.reason is not None and "does not link" in result.reason


async def test_an_unparseable_record_is_reported_not_raised(tmp_path: Path) -> None:
    """SQLite only: PostgreSQL's column types refuse an unparseable timestamp in the first place."""
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    async with Store(url) as store:
        for n in (1, 2, 3):
            await _append(store, n)
        async with store.session() as session:
            await session.execute(text("UPDATE audit_log SET occurred_at = 'yesterday' WHERE seq = 2"))
        result = await _verify(store)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 2, 1)
    assert result.reason is not None and "unreadable" in result.reason


# -- appending ----------------------------------------------------------------------------------------


async def test_concurrent_appends_make_one_gapless_chain(store: Store) -> None:
    records = await asyncio.gather(*(_append(store, n) for n in range(1, 31)))
    assert sorted(r.seq for r in records) == list(range(1, 31))
    assert await _verify(store) == AuditVerification(ok=True, checked=30)


async def test_a_rolled_back_append_leaves_no_gap(store: Store) -> None:
    await _append(store, 1)
    with pytest.raises(RuntimeError):
        async with store.session() as session:
            await _append_in(session, 2)
            raise RuntimeError("the filing was not stored after all")
    assert (await _append(store, 3)).seq == 2
    assert await _verify(store) == AuditVerification(ok=True, checked=2)


async def test_append_refuses_what_could_never_verify(store: Store) -> None:
    with pytest.raises(TypeError):
        await _append(store, 1, details={"at": datetime.now(UTC)})
    with pytest.raises(ValueError):
        await _append(store, 1, details={"ratio": float("nan")})
    with pytest.raises(ValueError):
        await _append(store, 1, actor="")
    assert await _verify(store) == AuditVerification(ok=True, checked=0)


async def test_records_cannot_be_changed_through_the_orm(chain: Store) -> None:
    with pytest.raises(AppendOnlyError):
        async with chain.session() as session:
            record = await session.get_one(AuditRecord, 2)
            record.actor = "mallory"
            await session.flush()
    with pytest.raises(AppendOnlyError):
        async with chain.session() as session:
            await session.delete(await session.get_one(AuditRecord, 2))
            await session.flush()
    assert await _verify(chain) == AuditVerification(ok=True, checked=5)


def test_the_hash_format_is_stable() -> None:
    """The canonical form is a storage format: changing it breaks every chain already written."""
    canonical = (
        '{"action":"material.downloaded","actor":"lawyer-chen","court_code":"粤0104",'
        '"details":{"file":"起诉状.pdf","pages":3,"watermark":true},'
        '"occurred_at":"2025-03-01T01:30:00.123456+00:00","seq":1,"subject_id":"M-2024-001","subject_type":"material"}'
    )
    expected = hashlib.sha256((GENESIS_HASH + canonical).encode()).hexdigest()
    computed = record_hash(
        prev_hash=GENESIS_HASH,
        seq=1,
        occurred_at=datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        actor="lawyer-chen",
        action="material.downloaded",
        subject_type="material",
        subject_id="M-2024-001",
        court_code="粤0104",
        details={"watermark": True, "pages": 3, "file": "起诉状.pdf"},
    )
    assert computed == expected == "592b7eb0b4a9ad86b884f1363ae341b2676eba49e8d529e00ef15cf863e63d1c"


# -- the command line ---------------------------------------------------------------------------------


async def test_cli_audit_verify_exits_1_when_the_chain_is_broken(
    chain: Store, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    await asyncio.to_thread(main, ["audit", "verify"])  # returns: exit status 0
    assert capsys.readouterr().out == "audit chain ok: 5 records verified\n"

    await _tamper(chain, delete(LOG).where(LOG.c.seq == 5))
    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(main, ["audit", "verify"])
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert out.startswith("audit chain BROKEN at seq 5:") and out.count("\n") == 1


async def test_cli_audit_verify_exits_2_before_migrations(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(main, ["audit", "verify"])
    assert exited.value.code == 2
    assert "court-gateway migrate" in capsys.readouterr().err
