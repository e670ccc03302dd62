"""The seeded world: reproducible, realistic in shape, linked across courts and tiers."""

from __future__ import annotations

from collections import Counter

from gateway.adapters.model import (
    CaseStatus,
    IdentityKind,
    PartyKind,
    PartyRole,
    PersonRef,
    StaffRole,
    VolumeKind,
)
from gateway.casenumber import TYPE_CODES, CaseNumberParser
from gateway.config import Settings
from simulators import people
from simulators.casefiles import case_documents, case_volumes, platform_copies
from simulators.generator import SeedConfig, World, generate_world
from tests.test_casenumber_hostile import ORIGINAL_21


def test_same_seed_same_world(settings: Settings, world: World) -> None:
    again = generate_world(settings.courts, SeedConfig.load(settings.seed_file))
    for code, court in world.courts.items():
        assert list(court.cases.values()) == list(again.courts[code].cases.values())
        assert court.staff == again.courts[code].staff


def test_another_seed_another_world(settings: Settings, world: World) -> None:
    seed = SeedConfig.load(settings.seed_file)
    other = generate_world(settings.courts, SeedConfig(**{**seed.__dict__, "seed": seed.seed + 1}))
    code = next(iter(world.courts))
    assert list(other.courts[code].cases.values()) != list(world.courts[code].cases.values())


def test_identities_are_valid_real_formats(world: World) -> None:
    for court in world.courts.values():
        for case in court.cases.values():
            for party in case.parties:
                if party.kind == PartyKind.PERSON:
                    assert people.is_valid_id_number(party.id_number), party
                    assert party.id_number.startswith("44"), "Guangdong residents"
                elif party.role != PartyRole.PROSECUTOR:
                    assert people.is_valid_uscc(party.id_number), party
            for agent in case.agents:
                assert len(agent.licence_number) == 17 and agent.licence_number.isdigit()
                assert agent.firm.endswith("律师事务所")
                assert agent.client_id_number in {p.id_number for p in case.parties}


def test_case_numbers_parse_and_route_to_their_own_court(settings: Settings, world: World) -> None:
    parser = CaseNumberParser(settings.courts)
    for code, court in world.courts.items():
        for number, case_id in court.by_number.items():
            parsed = parser.parse(number)
            assert parsed.court_code == code
            assert parsed.type_code == court.cases[case_id].type_code
            assert parsed.year == court.cases[case_id].filed_on.year


def test_every_type_code_occurs(world: World) -> None:
    """Every code the simulators generate (the first 21 of the now complete table) occurs, each in the table."""
    seen = {c.type_code for court in world.courts.values() for c in court.cases.values()}
    assert seen == set(ORIGINAL_21)
    assert seen <= set(TYPE_CODES)


def test_appeals_link_first_instance_to_the_intermediate_court_and_enforcement(
    settings: Settings, world: World
) -> None:
    upper = next(c.code for c in settings.courts if c.tier == "INTERMEDIATE")
    by_number = {c.case_number: c for court in world.courts.values() for c in court.cases.values()}
    appeals = [c for c in world.courts[upper].cases.values() if c.type_code == "民终"]
    assert len(appeals) > 50
    for appeal in appeals:
        origin = by_number[appeal.related_case_numbers[0]]
        assert origin.court_code != upper and origin.type_code == "民初"
        assert origin.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED)
        assert appeal.case_number in origin.related_case_numbers
        assert appeal.filed_on > origin.closed_on  # type: ignore[operator]
        assert {p.id_number for p in appeal.parties} <= {p.id_number for p in origin.parties}
    chains = [
        c
        for court in world.courts.values()
        for c in court.cases.values()
        if c.type_code == "执" and any(by_number[n].type_code == "民终" for n in c.related_case_numbers)
    ]
    assert chains, "some judgments are enforced after appeal: first instance → appeal → enforcement"
    for enforcement in chains:
        appeal = next(by_number[n] for n in enforcement.related_case_numbers if by_number[n].type_code == "民终")
        first = by_number[appeal.related_case_numbers[0]]
        assert first.case_number in enforcement.related_case_numbers
        assert enforcement.court_code == first.court_code, "the first-instance court enforces"


def test_demo_persons_appear_across_courts(world: World) -> None:
    spread = {
        login: {code for code, court in world.courts.items() if court.cases_of(PersonRef(p.kind, p.number))}
        for login, p in world.demo.items()
    }
    assert len(spread["lawyer-chen"]) >= 8
    assert len(spread["party-wang"]) >= 3
    assert spread["lawyer-li"]
    wang = world.demo["party-wang"]
    assert wang.kind == IdentityKind.ID_NUMBER and people.is_valid_id_number(wang.number)
    wang_cases = [c for court in world.courts.values() for c in court.cases_of(PersonRef.party(wang.number))]
    assert any(c.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED) and c.public_hearing for c in wang_cases)
    assert any(c.type_code == "民终" for c in wang_cases), "her lineage reaches the intermediate court"


def test_panels_divisions_and_leadership(world: World) -> None:
    for court in world.courts.values():
        roles = Counter(s.role for s in court.staff)
        assert roles[StaffRole.COURT_LEADER] >= 1 and roles[StaffRole.ARCHIVE_ADMIN] == 1
        heads = {s.division for s in court.staff if s.role == StaffRole.DIVISION_HEAD}
        for case in court.cases.values():
            assert case.division in heads
            assert case.panel[-1].role == StaffRole.CLERK
            assert all(s.division in (case.division, "人民陪审员") for s in case.panel)


def test_case_files_keep_the_internal_volume_and_private_cases_unpublished(world: World) -> None:
    cases = [c for court in world.courts.values() for c in list(court.cases.values())[:60]]
    assert any(not c.public_hearing for c in cases)
    for case in cases:
        main, internal = case_volumes(world.seed, case, world.now)
        assert main.kind == VolumeKind.MAIN and internal.kind == VolumeKind.INTERNAL
        assert not any(m.published for m in internal.materials), "副卷 is never published"
        assert all(m.published == case.public_hearing for m in main.materials)


def test_documents_are_served_before_now_and_copied_to_the_platform_with_the_same_fingerprint(
    settings: Settings, world: World
) -> None:
    platform = next(c.code for c in settings.courts if not c.is_court)
    copies = 0
    for court in world.courts.values():
        for case in list(court.cases.values())[:40]:
            docs = {d.fingerprint: d for d in case_documents(world.seed, case, world.now)}
            assert all(d.served_at <= world.now for d in docs.values())
            for copy in platform_copies(world.seed, platform, case, world.now):
                copies += 1
                assert docs[copy.fingerprint].addressee == copy.addressee
                assert copy.document_id != docs[copy.fingerprint].document_id
    assert copies > 0
