"""A court's records survive its restart (``SimulatorCluster.remember``), all of them, all or none.

Two clusters over the same world and directory stand for one demo before and after Ctrl-C (their state
only: no sockets are needed to write and read records).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from gateway.adapters.model import Agent, Attachment, Filing, FilingKind, PersonRef, Signature
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import SeedConfig, World, generate_world

COURT = "粤0104"


def filing(case_id: str, case_number: str, key: str) -> Filing:
    return Filing(
        key, case_id, case_number, FilingKind.EVIDENCE, "证据", "陈律师", "14401200000000001",
        (Attachment("证据.pdf", "application/pdf", b"%PDF-1.4 evidence"),),
    )  # fmt: skip


def test_every_kind_of_record_is_reloaded_and_numbering_carries_on(
    tmp_path: Path, world: World, settings: Settings
) -> None:
    before = SimulatorCluster(settings.courts, world)
    assert not before.remember(tmp_path).loaded
    court = before.court_state(COURT)
    case = court.all_cases()[0]
    party = case.parties[0]
    first = court.submit_filing(filing(case.case_id, case.case_number, "k1"))
    desk = before.desk(COURT)
    desk.handle_filing(first.receipt_number, "已阅")
    served = desk.serve_document(case.case_id, PersonRef("ID_NUMBER", party.id_number), "开庭传票", "传票")
    court.sign(Signature("s1", served.document_id, party.name, party.id_number, "REAL_NAME", court.now()))
    court.add_agent(case.case_id, Agent("李律师", "14401201910000001", "某律师事务所", party.id_number), "a1")
    desk.close_case(case.case_id)

    after = SimulatorCluster(settings.courts, world)
    restored = after.remember(tmp_path)
    assert restored.loaded, restored.reason
    again = after.court_state(COURT)
    assert again.filings["k1"].receipt == first and again.filings["k1"].handled
    assert again.document(served.document_id).signed_at is not None
    assert [a.licence_number for a in again.case(case.case_id).agents][-1] == "14401201910000001"
    assert again.case(case.case_id).status == "CLOSED"
    assert [e.event_id for e in again.events] == [e.event_id for e in court.events]
    lawyer = PersonRef("LICENCE_NUMBER", "14401201910000001")
    assert case.case_id in [c.case_id for c in again.cases_of(lawyer)], "the lawyer's cases include it"

    second = again.submit_filing(filing(case.case_id, case.case_number, "k2"))
    assert int(second.receipt_number[-5:]) == int(first.receipt_number[-5:]) + 1, "no receipt number twice"
    after.desk(COURT).schedule_hearing(case.case_id, datetime(2027, 1, 5, 9, 30), "第3法庭")
    assert again.events[-1].event_id == str(len(court.events) + 1), "event ids carry on"


def test_records_of_another_world_or_unreadable_ones_are_not_loaded_and_none_are(
    tmp_path: Path, world: World, settings: Settings
) -> None:
    before = SimulatorCluster(settings.courts, world)
    before.remember(tmp_path)
    case = before.court_state(COURT).all_cases()[0]
    before.court_state(COURT).submit_filing(filing(case.case_id, case.case_number, "k1"))

    smaller = generate_world(settings.courts, SeedConfig.load(settings.seed_file), 20)
    assert not SimulatorCluster(settings.courts, smaller).remember(tmp_path).loaded, "another world's records"

    before = SimulatorCluster(settings.courts, world)
    assert not before.remember(tmp_path).loaded, "the smaller world's records replaced them"
    before.court_state(COURT).submit_filing(filing(case.case_id, case.case_number, "k1"))
    assert SimulatorCluster(settings.courts, world).remember(tmp_path).loaded
    (tmp_path / "gzzy.pickle").write_bytes(b"not a pickle")
    after = SimulatorCluster(settings.courts, world)
    restored = after.remember(tmp_path)
    assert not restored.loaded and "1 of 14 courts" in restored.reason
    assert after.court_state(COURT).filings == {}, "all or none: the courts agree with one another"
    assert (
        after.court_state(COURT)
        .submit_filing(filing(case.case_id, case.case_number, "k9"))
        .receipt_number.endswith("00001")
    )
