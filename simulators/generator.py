"""The seeded legacy world: people, lawyers, staff and cases of every configured court.

One seed gives the same world in every run. Cases are built as mutable drafts (so appeals and
enforcement can link across courts and tiers), numbered in filing order per year and type, then
frozen into canonical ``Case`` values. Served documents, case-file volumes and material PDFs are
derived lazily from a case (see ``simulators.casefiles``), which keeps bench-size worlds fast to build.
"""

from __future__ import annotations

import random
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    Case,
    CaseStatus,
    DemoIdentity,
    Hearing,
    IdentityKind,
    Party,
    PartyKind,
    PartyRole,
    PersonRef,
    Staff,
    StaffRole,
    Tier,
)
from gateway.casenumber import TYPE_CODES, format_case_number
from gateway.config import CourtConfig
from simulators import people

CIVIL_CAUSES = (
    "民间借贷纠纷",
    "金融借款合同纠纷",
    "买卖合同纠纷",
    "房屋租赁合同纠纷",
    "物业服务合同纠纷",
    "劳动争议",
    "机动车交通事故责任纠纷",
    "信用卡纠纷",
    "建设工程施工合同纠纷",
    "服务合同纠纷",
    "网络购物合同纠纷",
    "侵害作品信息网络传播权纠纷",
    "名誉权纠纷",
    "追索劳动报酬纠纷",
    "房屋买卖合同纠纷",
    "装饰装修合同纠纷",
    "股权转让纠纷",
    "离婚纠纷",
    "继承纠纷",
    "生命权、身体权、健康权纠纷",
)
PRIVATE_CAUSES = frozenset({"离婚纠纷", "继承纠纷"})  # heard in private: files are not published
INTERNET_CAUSES = (
    "网络购物合同纠纷",
    "网络服务合同纠纷",
    "侵害作品信息网络传播权纠纷",
    "网络侵权责任纠纷",
    "金融借款合同纠纷",
    "小额借款合同纠纷",
    "域名权属纠纷",
)
CRIMINAL_CAUSES = ("盗窃罪", "诈骗罪", "危险驾驶罪", "故意伤害罪", "帮助信息网络犯罪活动罪", "掩饰、隐瞒犯罪所得罪")
ADMIN_CAUSES = ("行政处罚", "行政强制", "政府信息公开", "行政许可", "工伤认定")
SPECIAL_CAUSES = ("申请确认人民调解协议效力", "申请实现担保物权", "申请宣告失踪", "申请认定财产无主")
BANKRUPTCY_CAUSES = ("破产清算", "破产重整")

CIVIL_DIVISIONS = ("民一庭", "民二庭", "民三庭")
DIVISIONS = ("立案庭", *CIVIL_DIVISIONS, "刑事审判庭", "行政审判庭", "审判监督庭", "执行局")

#: type code → how often it is an original (not derived) case, per kind of court
ORIGINAL_MIX: dict[str, dict[str, int]] = {
    "basic": {
        "民初": 58,
        "刑初": 5,
        "行初": 3,
        "民特": 3,
        "民督": 2,
        "民撤": 1,
        "财保": 3,
        "破申": 1,
        "破": 1,
        "行审": 1,
    },
    "internet": {"民初": 80, "民特": 4, "行初": 3, "民督": 2},
    "intermediate": {"民初": 10, "刑初": 3, "行初": 4, "民特": 2, "行审": 2, "破申": 2, "破": 2, "财保": 1},
}
#: derived type code → share, and which type codes its origin may have
DERIVED_SAME_COURT: dict[str, dict[str, tuple[int, tuple[str, ...]]]] = {
    "basic": {
        "执": (14, ("民初", "民特", "民督")),
        "执恢": (2, ("执",)),
        "执异": (3, ("执",)),
        "执保": (2, ("民初",)),
        "民再": (1, ("民初",)),
    },
    "internet": {"执": (9, ("民初", "民特")), "执异": (1, ("执",)), "执恢": (1, ("执",))},
    "intermediate": {
        "民申": (4, ("民终",)),
        "行申": (2, ("行终",)),
        "民再": (2, ("民申",)),
        "执": (5, ("民初",)),
        "执异": (1, ("执",)),
        "执恢": (1, ("执",)),
        "执保": (1, ("民初",)),
    },
}
#: the intermediate court's cases derived from the basic courts below it
DERIVED_FROM_BASIC: dict[str, tuple[int, tuple[str, ...]]] = {
    "民终": (45, ("民初",)),
    "刑终": (5, ("刑初",)),
    "行终": (5, ("行初",)),
    "执复": (4, ("执异",)),
}
#: appeals that are later enforced by the first-instance court
ENFORCED_AFTER_APPEAL = 0.3

HEARINGLESS = frozenset({"执", "执恢", "执保", "财保", "民督", "破申", "行审"})
COLLEGIAL = frozenset({"民终", "刑终", "行终", "民再", "民申", "行申", "破", "执复", "刑初", "行初"})


@dataclass(frozen=True)
class SeedConfig:
    seed: int
    reference_date: date
    demo_cases_per_court: int
    bench_cases_per_court: int
    persons: tuple[DemoIdentity, ...]
    cases_per_court: dict[str, int]  # demo login → cases planted per listed court

    @classmethod
    def load(cls, path: Path) -> SeedConfig:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        persons = tuple(
            DemoIdentity(
                login=p["login"],
                name=p["name"],
                kind=IdentityKind(p["kind"]),
                number=p["number"],
                phone=p["phone"],
                firm=p.get("firm"),
                courts=tuple(p.get("courts", ())),
            )
            for p in raw.get("person", [])
        )
        return cls(
            seed=int(raw["seed"]),
            reference_date=date.fromisoformat(raw["reference_date"]),
            demo_cases_per_court=int(raw["demo_cases_per_court"]),
            bench_cases_per_court=int(raw["bench_cases_per_court"]),
            persons=persons,
            cases_per_court={p["login"]: int(p.get("cases_per_court", 2)) for p in raw.get("person", [])},
        )


class _Draft:
    """A case under construction: mutable so that later cases can link to it."""

    __slots__ = (
        "agents",
        "archived_on",
        "case_id",
        "cause",
        "closed_on",
        "court",
        "division",
        "filed_on",
        "hearings",
        "number",
        "panel",
        "parties",
        "public",
        "related",
        "status",
        "type_code",
    )

    def __init__(self, court: CourtConfig, case_id: str, type_code: str, filed_on: date) -> None:
        self.court = court
        self.case_id = case_id
        self.type_code = type_code
        self.filed_on = filed_on
        self.cause = ""
        self.status = CaseStatus.FILED
        self.closed_on: date | None = None
        self.archived_on: date | None = None
        self.public = True
        self.division = ""
        self.parties: list[Party] = []
        self.agents: list[Agent] = []
        self.panel: list[Staff] = []
        self.hearings: list[Hearing] = []
        self.related: list[_Draft] = []
        self.number = 0

    @property
    def decided(self) -> bool:
        return self.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED)


@dataclass
class CourtWorld:
    """One court's slice of the world: its staff, and its cases newest filing first."""

    court: CourtConfig
    staff: tuple[Staff, ...]
    cases: dict[str, Case] = field(default_factory=dict)
    by_number: dict[str, str] = field(default_factory=dict)  # case number → case id
    by_person: dict[str, list[str]] = field(default_factory=dict)  # ID / licence number → case ids

    def cases_of(self, who: PersonRef) -> list[Case]:
        return [self.cases[i] for i in self.by_person.get(who.number, ())]

    def staff_in(self, division: str, role: StaffRole) -> list[Staff]:
        return [s for s in self.staff if s.division == division and s.role == role]


@dataclass
class World:
    """The ground truth every simulator serves and every contract test compares against."""

    seed: int
    reference_date: date
    courts: dict[str, CourtWorld]
    demo: dict[str, DemoIdentity]

    @property
    def now(self) -> datetime:
        """The simulated courts' "now": the end of the reference date's working day."""
        return datetime.combine(self.reference_date, time(18, 0), CHINA_TZ)

    def case_count(self) -> int:
        return sum(len(c.cases) for c in self.courts.values())


# -- pools of people -----------------------------------------------------------------------------


class _Pools:
    def __init__(self, rng: random.Random, total_cases: int) -> None:
        n_persons = max(1500, total_cases // 3)
        n_orgs = max(300, total_cases // 12)
        n_lawyers = max(250, total_cases // 40)
        seen: set[str] = set()
        self.persons: list[Party] = []
        serial = 0
        while len(self.persons) < n_persons:
            serial += 1
            number = people.id_number(rng, serial)
            if number in seen:
                continue
            seen.add(number)
            self.persons.append(
                Party(people.person_name(rng), number, PartyRole.PLAINTIFF, PartyKind.PERSON, people.phone(rng))
            )
        self.orgs = [
            Party(
                people.organisation_name(rng),
                people.credit_code(rng, i),
                PartyRole.PLAINTIFF,
                PartyKind.ORGANISATION,
                None,
            )
            for i in range(n_orgs)
        ]
        self.lawyers = [
            (people.person_name(rng), people.licence_number(rng, i + 100), rng.choice(people.FIRMS), people.phone(rng))
            for i in range(n_lawyers)
        ]

    def party(self, rng: random.Random, role: PartyRole, org_share: float = 0.3) -> Party:
        base = rng.choice(self.orgs) if rng.random() < org_share else rng.choice(self.persons)
        return Party(base.name, base.id_number, role, base.kind, base.phone)

    def agent_for(self, rng: random.Random, client: Party) -> Agent:
        name, licence, firm, phone = rng.choice(self.lawyers)
        return Agent(name, licence, firm, client.id_number, phone)


def _staff_for(court: CourtConfig, rng: random.Random, cases_per_court: int) -> tuple[Staff, ...]:
    digits = "".join(ch for ch in court.code if ch.isdigit())
    judges_per_division = max(4, cases_per_court // 1500)
    staff: list[Staff] = []

    def add(division_no: int, n: int, role: StaffRole, division: str) -> None:
        staff.append(
            Staff(f"{digits}{division_no:02d}{n:03d}", people.person_name(rng), role, division, people.phone(rng))
        )

    for d, division in enumerate(DIVISIONS, start=1):
        add(d, 0, StaffRole.DIVISION_HEAD, division)
        for n in range(1, judges_per_division + 1):
            add(d, n, StaffRole.JUDGE, division)
        for n in range(1, judges_per_division + 1):
            add(d, 100 + n, StaffRole.CLERK, division)
    for n in range(1, 7):
        add(90, n, StaffRole.PEOPLES_ASSESSOR, "人民陪审员")
    for n in range(1, 4):
        add(91, n, StaffRole.COURT_LEADER, "院领导")
    add(92, 1, StaffRole.ARCHIVE_ADMIN, "档案室")
    return tuple(staff)


# -- the generator -------------------------------------------------------------------------------


class _Generator:
    def __init__(self, courts: Sequence[CourtConfig], seed: SeedConfig, cases_per_court: int) -> None:
        self.seed = seed
        self.ref = seed.reference_date
        self.per_court = cases_per_court
        self.courts = [c for c in courts if c.is_court]
        self.rng = random.Random(seed.seed)
        self.pools = _Pools(self.rng, cases_per_court * len(self.courts))
        self.staff = {
            c.code: _staff_for(c, random.Random(f"{seed.seed}:staff:{c.code}"), cases_per_court) for c in self.courts
        }
        self.staff_by_post: dict[tuple[str, str, StaffRole], list[Staff]] = defaultdict(list)
        for code, members in self.staff.items():
            for member in members:
                self.staff_by_post[(code, member.division, member.role)].append(member)
        self.drafts: dict[str, list[_Draft]] = {c.code: [] for c in self.courts}
        self.serials: dict[str, int] = defaultdict(int)

    # the kind of court decides its case mix
    @staticmethod
    def _mix_key(court: CourtConfig) -> str:
        if court.tier == Tier.INTERMEDIATE:
            return "intermediate"
        return "internet" if court.family == "v2-rest" else "basic"

    def run(self) -> World:
        basic = [c for c in self.courts if c.tier != Tier.INTERMEDIATE]
        upper = [c for c in self.courts if c.tier == Tier.INTERMEDIATE]
        for court in self.courts:
            self._originals(court)
        self._plant_demo_persons()
        for court in basic:
            self._derive_same_court(court)
        for court in upper:
            self._derive_from_basic(court, basic)
            self._derive_same_court(court)
        return self._freeze()

    def _new(self, court: CourtConfig, type_code: str, filed_on: date) -> _Draft:
        self.serials[court.code] += 1
        digits = "".join(ch for ch in court.code if ch.isdigit())
        draft = _Draft(court, f"{digits}{self.serials[court.code]:08d}", type_code, filed_on)
        self.drafts[court.code].append(draft)
        return draft

    def _quota(self, share: int, mix_total: int) -> int:
        return max(1, round(self.per_court * share / mix_total))

    def _mix_total(self, court: CourtConfig) -> int:
        key = self._mix_key(court)
        total = sum(ORIGINAL_MIX[key].values()) + sum(s for s, _ in DERIVED_SAME_COURT[key].values())
        if key == "intermediate":
            total += sum(s for s, _ in DERIVED_FROM_BASIC.values())
        return total

    # -- originals: cases that start in this court ------------------------------------------------

    def _originals(self, court: CourtConfig) -> None:
        rng = random.Random(f"{self.seed.seed}:originals:{court.code}")
        total = self._mix_total(court)
        for type_code, share in ORIGINAL_MIX[self._mix_key(court)].items():
            for _ in range(self._quota(share, total)):
                age = int(rng.triangular(0, 4 * 365, 150))
                draft = self._new(court, type_code, self.ref - timedelta(days=age))
                self._fill_original(draft, rng)

    def _fill_original(self, d: _Draft, rng: random.Random) -> None:
        t = d.type_code
        pools = self.pools
        if t.startswith("刑"):
            d.cause = rng.choice(CRIMINAL_CAUSES)
            prosecutor = d.court.name.replace("人民法院", "人民检察院").replace("中级", "")
            d.parties = [Party(prosecutor, f"PROSECUTOR-{d.court.slug}", PartyRole.PROSECUTOR, PartyKind.ORGANISATION)]
            d.parties += [pools.party(rng, PartyRole.ACCUSED, org_share=0) for _ in range(rng.choice((1, 1, 2)))]
        elif t.startswith("行"):
            d.cause = rng.choice(ADMIN_CAUSES)
            d.parties = [pools.party(rng, PartyRole.PLAINTIFF, 0.2), pools.party(rng, PartyRole.DEFENDANT, 1.0)]
        elif t in ("民特", "民督", "财保", "民撤"):
            d.cause = rng.choice(SPECIAL_CAUSES) if t == "民特" else rng.choice(CIVIL_CAUSES[:5])
            d.parties = [pools.party(rng, PartyRole.APPLICANT), pools.party(rng, PartyRole.RESPONDENT)]
        elif t.startswith("破"):
            d.cause = rng.choice(BANKRUPTCY_CAUSES)
            d.parties = [pools.party(rng, PartyRole.APPLICANT, 0.5), pools.party(rng, PartyRole.RESPONDENT, 1.0)]
        else:
            causes = INTERNET_CAUSES if self._mix_key(d.court) == "internet" else CIVIL_CAUSES
            d.cause = rng.choice(causes)
            d.parties = [pools.party(rng, PartyRole.PLAINTIFF) for _ in range(rng.choice((1, 1, 1, 2)))]
            d.parties += [pools.party(rng, PartyRole.DEFENDANT) for _ in range(rng.choice((1, 1, 2)))]
            if rng.random() < 0.08:
                d.parties.append(pools.party(rng, PartyRole.THIRD_PARTY))
        d.public = d.cause not in PRIVATE_CAUSES and rng.random() > 0.04
        self._agents(d, rng)
        self._lifecycle(d, rng)

    def _agents(self, d: _Draft, rng: random.Random) -> None:
        d.agents = [
            self.pools.agent_for(rng, p) for p in d.parties if p.role != PartyRole.PROSECUTOR and rng.random() < 0.55
        ]

    def _lifecycle(self, d: _Draft, rng: random.Random) -> None:
        """Status, dates, division, panel and hearings, consistent with the filing date."""
        age = (self.ref - d.filed_on).days
        if age < 45:
            d.status = CaseStatus.FILED if rng.random() < 0.4 else CaseStatus.IN_TRIAL
        elif age < 300 and rng.random() < 0.55:
            d.status = CaseStatus.IN_TRIAL
        else:
            d.closed_on = d.filed_on + timedelta(days=rng.randrange(30, max(31, min(age, 320))))
            d.status = CaseStatus.CLOSED
            archive_on = d.closed_on + timedelta(days=rng.randrange(30, 150))
            if archive_on <= self.ref and rng.random() < 0.75:
                d.status, d.archived_on = CaseStatus.ARCHIVED, archive_on
        d.division = _division_for(d.type_code, rng)
        judges = self._staff(d, StaffRole.JUDGE)
        clerks = self._staff(d, StaffRole.CLERK)
        if d.type_code in COLLEGIAL or rng.random() < 0.3:
            presiding, second = rng.sample(judges, 2)
            third = (
                rng.choice(self._assessors(d))
                if TYPE_CODES[d.type_code].value == "FIRST_INSTANCE"
                else rng.choice([j for j in judges if j not in (presiding, second)])
            )
            d.panel = [_as(presiding, StaffRole.PRESIDING_JUDGE), second, third]
        else:
            d.panel = [rng.choice(judges)]
        d.panel.append(rng.choice(clerks))
        if d.type_code not in HEARINGLESS and d.status != CaseStatus.FILED:
            self._hearings(d, rng)

    def _staff(self, d: _Draft, role: StaffRole) -> list[Staff]:
        return self.staff_by_post[(d.court.code, d.division, role)]

    def _assessors(self, d: _Draft) -> list[Staff]:
        return self.staff_by_post[(d.court.code, "人民陪审员", StaffRole.PEOPLES_ASSESSOR)]

    def _hearings(self, d: _Draft, rng: random.Random) -> None:
        last = d.closed_on or (d.filed_on + timedelta(days=150))
        span = max(1, (last - d.filed_on).days - 5)
        days = sorted({rng.randrange(min(20, span), span + 1) for _ in range(rng.choice((1, 1, 2)))})
        for n, offset in enumerate(days, start=1):
            starts = datetime.combine(
                d.filed_on + timedelta(days=offset), time(9, 30) if rng.random() < 0.5 else time(14, 30), CHINA_TZ
            )
            kind = "开庭" if n == 1 else rng.choice(("开庭", "宣判", "调解"))
            d.hearings.append(Hearing(f"{d.case_id}-H{n}", starts, f"第{rng.randrange(1, 31)}法庭", kind))

    # -- demo persons --------------------------------------------------------------------------------

    def _plant_demo_persons(self) -> None:
        """Put each demo person into real cases of the courts their seed entry lists.

        Planted cases are civil first-instance cases, some decided (so they can be appealed, enforced,
        read in the archive) and some in progress; lawyers act for a party, parties replace one.
        """
        taken: set[str] = set()
        for person in self.seed.persons:
            rng = random.Random(f"{self.seed.seed}:plant:{person.login}")
            for code in person.courts:
                if code not in self.drafts:
                    continue
                wanted = self.seed.cases_per_court[person.login]
                candidates = [d for d in self.drafts[code] if d.type_code == "民初" and d.case_id not in taken]
                decided = [d for d in candidates if d.decided and d.public]
                ongoing = [d for d in candidates if not d.decided]
                picks = rng.sample(decided, min(len(decided), (wanted + 1) // 2))
                picks += rng.sample(ongoing, min(len(ongoing), wanted - len(picks)))
                for d in picks:
                    taken.add(d.case_id)
                    self._plant(d, person, rng)

    def _plant(self, d: _Draft, person: DemoIdentity, rng: random.Random) -> None:
        side = rng.randrange(len(d.parties))
        if person.kind == IdentityKind.ID_NUMBER:
            old = d.parties[side]
            d.parties[side] = Party(person.name, person.number, old.role, PartyKind.PERSON, person.phone)
            d.agents = [a for a in d.agents if a.client_id_number != old.id_number]
        else:
            client = d.parties[side]
            d.agents = [a for a in d.agents if a.client_id_number != client.id_number]
            d.agents.append(Agent(person.name, person.number, person.firm or "", client.id_number, person.phone))

    # -- derived cases: appeals, enforcement, retrials ----------------------------------------------

    def _derive_same_court(self, court: CourtConfig) -> None:
        rng = random.Random(f"{self.seed.seed}:derived:{court.code}")
        total = self._mix_total(court)
        for type_code, (share, origin_types) in DERIVED_SAME_COURT[self._mix_key(court)].items():
            origins = [
                d
                for d in self.drafts[court.code]
                if d.type_code in origin_types and d.decided and not any(r.type_code == type_code for r in d.related)
            ]
            rng.shuffle(origins)
            for origin in origins[: self._quota(share, total)]:
                self._derive(court, type_code, origin, rng)

    def _derive_from_basic(self, court: CourtConfig, basic: list[CourtConfig]) -> None:
        rng = random.Random(f"{self.seed.seed}:appeals:{court.code}")
        total = self._mix_total(court)
        for type_code, (share, origin_types) in DERIVED_FROM_BASIC.items():
            pool = [d for b in basic for d in self.drafts[b.code] if d.type_code in origin_types and d.decided]
            rng.shuffle(pool)
            # demo persons' decided cases are appealed first, so their lineage is there to be seen
            demo_numbers = {p.number for p in self.seed.persons}
            pool.sort(key=lambda d: not _involves(d, demo_numbers))
            for origin in pool[: self._quota(share, total)]:
                appeal = self._derive(court, type_code, origin, rng)
                if appeal and appeal.decided and type_code == "民终" and rng.random() < ENFORCED_AFTER_APPEAL:
                    enforcement = self._derive(origin.court, "执", appeal, rng)
                    if enforcement:
                        enforcement.related.append(origin)
                        origin.related.append(enforcement)

    def _derive(self, court: CourtConfig, type_code: str, origin: _Draft, rng: random.Random) -> _Draft | None:
        start = (origin.closed_on or origin.filed_on) + timedelta(days=rng.randrange(10, 60))
        if start >= self.ref:
            return None
        d = self._new(court, type_code, start)
        d.cause = origin.cause
        d.public = origin.public
        first, second = _sides(origin)
        if type_code.endswith("终"):
            appellant_first = rng.random() < 0.4
            d.parties = [_role(p, PartyRole.APPELLANT if appellant_first else PartyRole.APPELLEE) for p in first]
            d.parties += [_role(p, PartyRole.APPELLEE if appellant_first else PartyRole.APPELLANT) for p in second]
        elif type_code in ("民申", "行申", "民再"):
            d.parties = [_role(p, PartyRole.APPLICANT) for p in second] + [
                _role(p, PartyRole.RESPONDENT) for p in first
            ]
        else:
            d.parties = [_role(p, PartyRole.APPLICANT) for p in first] + [
                _role(p, PartyRole.RESPONDENT) for p in second
            ]
        # most agents stay on for the next stage; some parties change lawyers; a party who is not in the
        # new case takes no lawyer there
        parties = {p.id_number for p in d.parties}
        d.agents = [
            a if rng.random() < 0.75 else self.pools.agent_for(rng, _client(d, a))
            for a in origin.agents
            if a.client_id_number in parties
        ]
        self._lifecycle(d, rng)
        d.related.append(origin)
        origin.related.append(d)
        return d

    # -- numbering and freezing ----------------------------------------------------------------------

    def _freeze(self) -> World:
        worlds: dict[str, CourtWorld] = {}
        for court in self.courts:
            rng = random.Random(f"{self.seed.seed}:numbers:{court.code}")
            drafts = sorted(self.drafts[court.code], key=lambda d: (d.filed_on, d.case_id))
            counters: dict[tuple[int, str], int] = {}
            for d in drafts:
                key = (d.filed_on.year, d.type_code)
                counters[key] = counters.get(key, rng.randrange(1, 800)) + rng.choice((1, 1, 1, 2, 3))
                d.number = counters[key]
            worlds[court.code] = CourtWorld(court, self.staff[court.code])
        for court in self.courts:
            world = worlds[court.code]
            for d in sorted(self.drafts[court.code], key=lambda d: (d.filed_on, d.case_id), reverse=True):
                case = _to_case(d, self.ref)
                world.cases[case.case_id] = case
                world.by_number[case.case_number] = case.case_id
                for number in _people_of(case):
                    world.by_person.setdefault(number, []).append(case.case_id)
        return World(self.seed.seed, self.ref, worlds, {p.login: p for p in self.seed.persons})


def _division_for(type_code: str, rng: random.Random) -> str:
    if type_code.startswith("刑"):
        return "刑事审判庭"
    if type_code.startswith("行"):
        return "审判监督庭" if type_code == "行申" else "行政审判庭"
    if type_code in ("民申", "民再"):
        return "审判监督庭"
    if type_code.startswith("执"):
        return "执行局"
    if type_code == "财保":
        return "立案庭"
    if type_code.startswith("破"):
        return "民二庭"
    return rng.choice(CIVIL_DIVISIONS)


def _as(staff: Staff, role: StaffRole) -> Staff:
    return Staff(staff.staff_id, staff.name, role, staff.division, staff.phone)


def _role(p: Party, role: PartyRole) -> Party:
    return Party(p.name, p.id_number, role, p.kind, p.phone)


def _sides(d: _Draft) -> tuple[list[Party], list[Party]]:
    """The two sides of a decided case: who started it, and who answered."""
    first_roles = {PartyRole.PLAINTIFF, PartyRole.APPLICANT, PartyRole.APPELLANT, PartyRole.PROSECUTOR}
    first = [p for p in d.parties if p.role in first_roles and p.role != PartyRole.PROSECUTOR]
    second = [p for p in d.parties if p.role not in first_roles and p.role != PartyRole.THIRD_PARTY]
    if not first:  # criminal cases: the accused appeals against the judgment
        first, second = second, []
    return first, second


def _client(d: _Draft, agent: Agent) -> Party:
    return next((p for p in d.parties if p.id_number == agent.client_id_number), d.parties[0])


def _involves(d: _Draft, numbers: set[str]) -> bool:
    return any(p.id_number in numbers for p in d.parties) or any(a.licence_number in numbers for a in d.agents)


def _people_of(case: Case) -> Iterable[str]:
    seen: set[str] = set()
    for number in [p.id_number for p in case.parties] + [a.licence_number for a in case.agents]:
        if number not in seen:
            seen.add(number)
            yield number


def _to_case(d: _Draft, today: date) -> Case:
    number = format_case_number(d.filed_on.year, d.court.code, d.type_code, d.number)
    moments = [datetime.combine(d.filed_on, time(9, 0), CHINA_TZ)]
    moments += [h.starts_at for h in d.hearings if h.starts_at.date() <= min(d.closed_on or today, today)]
    moments += [datetime.combine(x, time(17, 0), CHINA_TZ) for x in (d.closed_on, d.archived_on) if x]
    related = tuple(format_case_number(r.filed_on.year, r.court.code, r.type_code, r.number) for r in d.related)
    return Case(
        case_id=d.case_id,
        court_code=d.court.code,
        case_number=number,
        type_code=d.type_code,
        procedure=TYPE_CODES[d.type_code],
        cause=d.cause,
        status=d.status,
        filed_on=d.filed_on,
        closed_on=d.closed_on,
        archived_on=d.archived_on,
        public_hearing=d.public,
        division=d.division,
        parties=tuple(d.parties),
        agents=tuple(d.agents),
        panel=tuple(d.panel),
        hearings=tuple(d.hearings),
        related_case_numbers=related,
        last_activity_at=max(moments),
    )


def generate_world(courts: Sequence[CourtConfig], seed: SeedConfig, cases_per_court: int | None = None) -> World:
    """Build the whole legacy world; ``cases_per_court`` defaults to the seed's demo size."""
    return _Generator(courts, seed, cases_per_court or seed.demo_cases_per_court).run()
