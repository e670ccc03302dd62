"""A simulated backend's own records: the seeded world plus everything that happened since start.

Family simulators render this state in their wire format; they never change the world directly.
Writes (filings, signatures, lawyers entered online) are recorded here with their idempotency keys, so
tests can check what the court itself saw; the staff side (``StaffDesk``) acts as the court would inside
its own system and appends change events to the feed. A lawyer entered online and one entered by the
clerk take the same path (``CourtState.enter_agent``): same checks, same event.

Every change to these records ends in ``changed()``, which calls ``on_change`` when one is set (the demo's
courts save their records there, ``simulators.persistence``). Event ids follow from the feed (never
shortened) and receipt numbers from ``receipts_issued``, a record too, so records reloaded after a restart
carry on numbering where they stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta

from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    AgentReceipt,
    Case,
    CaseFileVolume,
    CaseScope,
    CaseStatus,
    ChangeEvent,
    ChangeKind,
    Filing,
    FilingReceipt,
    Hearing,
    IdentityKind,
    PersonRef,
    ServedDocument,
    ServiceChannel,
    Signature,
    SignatureReceipt,
    Staff,
)
from gateway.config import CourtConfig
from simulators.casefiles import (
    PLATFORM_ID_PREFIX,
    case_documents,
    case_volumes,
    material_pdf,
    platform_copies,
)
from simulators.generator import CourtWorld, World


class Conflict(Exception):
    """An idempotency key reused with different content."""


class Refused(Exception):
    """The backend refuses the request (e.g. signing someone else's document)."""


class Missing(KeyError):
    """No such case, document, filing or material."""


@dataclass
class Faults:
    """Run-time fault injection; the cluster's control API and tests change it while serving."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    hang: bool = False
    rate_limit_per_s: float | None = None
    outage: bool = False

    def clear(self) -> None:
        for f in fields(self):
            setattr(self, f.name, f.default)


class Sessions:
    """Tokens or session ids with a lifetime (OAuth2 tokens) or an idle timeout (SOAP sessions)."""

    def __init__(self, ttl_s: float, *, idle: bool) -> None:
        self.ttl_s = ttl_s
        self.idle = idle
        self._expires: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self._expires[token] = time.monotonic() + self.ttl_s
        return token

    def check(self, token: str | None) -> bool:
        """True when the token is live; an idle session's clock restarts on every use."""
        expires = self._expires.get(token or "")
        if expires is None or expires < time.monotonic():
            self._expires.pop(token or "", None)
            return False
        if self.idle:
            self._expires[token or ""] = time.monotonic() + self.ttl_s
        return True

    def expire_all(self) -> None:
        self._expires.clear()


@dataclass
class FilingRecord:
    filing: Filing
    receipt: FilingReceipt
    deliveries: int = 1  # how many times the gateway sent it; the court keeps one record
    handled: bool = False
    result: str | None = None


@dataclass
class SignatureRecord:
    signature: Signature
    receipt: SignatureReceipt
    deliveries: int = 1


@dataclass
class AgentRecord:
    """A lawyer entered through the family's write, kept under its idempotency key."""

    case_id: str
    agent: Agent
    receipt: AgentReceipt
    deliveries: int = 1  # how many times the gateway sent it; the court entered the lawyer once


def agent_digest(case_id: str, agent: Agent) -> tuple[str, ...]:
    """What makes two deliveries "the same lawyer entry" for an idempotency key."""
    return (case_id, agent.licence_number, agent.client_id_number, agent.name, agent.firm)


def filing_digest(filing: Filing) -> str:
    """What makes two deliveries "the same filing" for an idempotency key."""
    h = hashlib.sha256()
    for part in (filing.case_id, filing.kind, filing.title, filing.filer_id_number):
        h.update(part.encode() + b"\0")
    for a in filing.attachments:
        h.update(a.filename.encode() + b"\0" + hashlib.sha256(a.content).digest())
    return h.hexdigest()


class BackendState:
    """What every simulated backend has: counters, faults, sessions, signatures and a change feed."""

    def __init__(self, world: World, config: CourtConfig) -> None:
        self.world = world
        self.config = config
        self.code = config.code
        self.counters: Counter[str] = Counter()
        self.faults = Faults()
        self.unhang = asyncio.Event()
        self.fault_rng = random.Random(f"{world.seed}:faults:{config.code}")
        self.events: list[ChangeEvent] = []
        self.signatures: dict[str, SignatureRecord] = {}
        self.extra_documents: dict[str, ServedDocument] = {}
        self.time_offset = timedelta()
        #: called after every change to the records (set by ``simulators.persistence``)
        self.on_change: Callable[[], None] | None = None

    def now(self) -> datetime:
        """The backend's clock for what happens at run time (the seeded history is pinned to the
        world's reference date); ``time_offset`` lets tests move it. Courts record whole seconds."""
        return (datetime.now(CHINA_TZ) + self.time_offset).replace(microsecond=0)

    def count(self, operation: str) -> None:
        self.counters[operation] += 1

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def emit(self, kind: ChangeKind, case: Case, **details: str | None) -> ChangeEvent:
        event = ChangeEvent(
            f"{len(self.events) + 1}", kind, self.code, case.case_id, case.case_number, self.now(), **details
        )
        self.events.append(event)
        self.changed()
        return event

    def events_after(self, event_id: str | None) -> list[ChangeEvent]:
        start = int(event_id or 0)
        return [e for e in self.events if int(e.event_id) > start]

    def events_since(self, moment: datetime) -> list[ChangeEvent]:
        """Events at or after ``moment`` (families whose feeds are keyed by time)."""
        return [e for e in self.events if e.occurred_at >= moment]

    # -- documents ---------------------------------------------------------------------------------

    def _base_documents(self, who: PersonRef) -> list[ServedDocument]:
        raise NotImplementedError

    def _with_signature(self, doc: ServedDocument) -> ServedDocument:
        record = self.signatures.get(doc.document_id)
        return replace(doc, signed_at=record.receipt.signed_at) if record and doc.signed_at is None else doc

    def documents_of(self, who: PersonRef) -> list[ServedDocument]:
        docs = self._base_documents(who)
        docs += [d for d in self.extra_documents.values() if d.addressee == who]
        return sorted((self._with_signature(d) for d in docs), key=lambda d: (d.served_at, d.document_id))

    def document(self, document_id: str) -> ServedDocument:
        raise NotImplementedError

    def sign(self, signature: Signature) -> SignatureReceipt:
        """Record a signature once; a repeated delivery returns the first record."""
        doc = self.document(signature.document_id)
        if doc.addressee.number != signature.signer_id_number:
            raise Refused(f"document {doc.document_id} was not served to the signer")
        record = self.signatures.get(doc.document_id)
        if record:
            record.deliveries += 1
            self.changed()
            return record.receipt
        signed_at = (doc.signed_at or signature.signed_at).replace(microsecond=0)
        receipt = SignatureReceipt(doc.document_id, signed_at)
        self.signatures[doc.document_id] = SignatureRecord(signature, receipt)
        self.changed()
        return receipt


class CourtState(BackendState):
    """One court's records over its slice of the world."""

    def __init__(self, world: World, config: CourtConfig) -> None:
        super().__init__(world, config)
        self.slice: CourtWorld = world.courts[config.code]
        self.overrides: dict[str, Case] = {}
        self.extra_people: dict[str, list[str]] = {}  # person → case ids added since start
        self.filings: dict[str, FilingRecord] = {}
        self.agent_writes: dict[str, AgentRecord] = {}
        #: how many receipt numbers the court has handed out (the next one is this plus one)
        self.receipts_issued = 0
        self._scope_index: dict[str, list[str]] | None = None

    # -- cases ---------------------------------------------------------------------------------------

    def case(self, case_id: str) -> Case:
        case = self.overrides.get(case_id) or self.slice.cases.get(case_id)
        if case is None:
            raise Missing(case_id)
        return case

    def case_by_number(self, case_number: str) -> Case:
        case_id = self.slice.by_number.get(case_number)
        if case_id is None:
            raise Missing(case_number)
        return self.case(case_id)

    def cases_of(self, who: PersonRef) -> list[Case]:
        """The person's cases, newest filing first (ties: higher id first), as every family lists them."""
        ids = list(self.slice.by_person.get(who.number, ()))
        extra = [i for i in self.extra_people.get(who.number, ()) if i not in ids]
        cases = [self.case(i) for i in ids + extra]
        if extra:
            cases.sort(key=lambda c: (c.filed_on, c.case_id), reverse=True)
        return cases

    def cases_in_scope(self, scope: CaseScope) -> list[Case]:
        """A staff member's view of the court's cases, newest filing first (as every family lists them)."""
        if self._scope_index is None:
            index: dict[str, list[str]] = {}
            for case in self.slice.cases.values():
                for key in {f"staff:{s.staff_id}" for s in case.panel} | {f"division:{case.division}"}:
                    index.setdefault(key, []).append(case.case_id)
            self._scope_index = index
        if scope.staff_id:
            ids = self._scope_index.get(f"staff:{scope.staff_id}", [])
        elif scope.division:
            ids = self._scope_index.get(f"division:{scope.division}", [])
        else:
            ids = list(self.slice.cases)
        return [self.case(i) for i in ids]

    def all_cases(self) -> list[Case]:
        return [self.overrides.get(i) or c for i, c in self.slice.cases.items()]

    def staff(self) -> tuple[Staff, ...]:
        """The court's roster (人员名册), in the order its system keeps it."""
        return self.slice.staff

    # -- documents and files ---------------------------------------------------------------------------

    def _base_documents(self, who: PersonRef) -> list[ServedDocument]:
        now = self.world.now
        return [d for c in self.cases_of(who) for d in case_documents(self.world.seed, c, now) if d.addressee == who]

    def case_documents(self, case_id: str) -> list[ServedDocument]:
        case = self.case(case_id)
        docs = list(case_documents(self.world.seed, case, self.world.now))
        docs += [d for d in self.extra_documents.values() if d.case_number == case.case_number]
        return [self._with_signature(d) for d in docs]

    def document(self, document_id: str) -> ServedDocument:
        if document_id in self.extra_documents:
            return self._with_signature(self.extra_documents[document_id])
        case_id = document_id.rsplit("-D", 1)[0]
        try:
            case = self.case(case_id)
        except Missing:
            raise Missing(document_id) from None
        for doc in case_documents(self.world.seed, case, self.world.now):
            if doc.document_id == document_id:
                return self._with_signature(doc)
        raise Missing(document_id)

    def volumes(self, case_id: str) -> tuple[CaseFileVolume, ...]:
        return case_volumes(self.world.seed, self.case(case_id), self.world.now)

    def material(self, case_id: str, material_id: str) -> bytes:
        case = self.case(case_id)
        for volume in self.volumes(case_id):
            for material in volume.materials:
                if material.material_id == material_id:
                    return material_pdf(self.config.name, case, material)
        raise Missing(material_id)

    # -- writes ----------------------------------------------------------------------------------------

    def submit_filing(self, filing: Filing) -> FilingReceipt:
        """Record a filing once per idempotency key; the same key with other content is a conflict."""
        self.case(filing.case_id)
        existing = self.filings.get(filing.idempotency_key)
        if existing:
            if filing_digest(existing.filing) != filing_digest(filing):
                raise Conflict(f"idempotency key {filing.idempotency_key} reused with different content")
            existing.deliveries += 1
            self.changed()
            return existing.receipt
        digits = "".join(ch for ch in self.code if ch.isdigit())
        self.receipts_issued += 1
        receipt = FilingReceipt(f"SC{digits}{self.now():%Y%m%d}{self.receipts_issued:05d}", self.now())
        self.filings[filing.idempotency_key] = FilingRecord(filing, receipt)
        self.changed()
        return receipt

    def enter_agent(self, case_id: str, agent: Agent) -> Case:
        """Enter a lawyer on a case: the one path for the clerk's form and every family's online write.

        The client must be a party, and the same lawyer is not entered twice for the same client. The
        case then belongs to the lawyer's cases, and the feed says AGENT_ADDED.
        """
        case = self.case(case_id)
        if agent.client_id_number not in {p.id_number for p in case.parties}:
            raise Refused(f"{agent.client_id_number} is not a party of {case.case_number}")
        if any(
            (a.licence_number, a.client_id_number) == (agent.licence_number, agent.client_id_number)
            for a in case.agents
        ):
            raise Refused(f"{agent.licence_number} already acts for {agent.client_id_number} in {case.case_number}")
        updated = replace(case, agents=(*case.agents, agent))
        self.overrides[case.case_id] = updated
        self.extra_people.setdefault(agent.licence_number, []).append(case.case_id)
        self.emit(ChangeKind.AGENT_ADDED, updated, licence_number=agent.licence_number)
        return updated

    def add_agent(self, case_id: str, agent: Agent, idempotency_key: str) -> AgentReceipt:
        """Enter a lawyer once per idempotency key; a repeat returns the first receipt, the same key with
        another lawyer or case is a conflict."""
        existing = self.agent_writes.get(idempotency_key)
        if existing:
            if agent_digest(existing.case_id, existing.agent) != agent_digest(case_id, agent):
                raise Conflict(f"idempotency key {idempotency_key} reused for a different lawyer entry")
            existing.deliveries += 1
            self.changed()
            return existing.receipt
        self.enter_agent(case_id, agent)
        receipt = AgentReceipt(case_id, agent.licence_number, self.now())
        self.agent_writes[idempotency_key] = AgentRecord(case_id, agent, receipt)
        self.changed()
        return receipt

    def filing_by_receipt(self, receipt_number: str) -> FilingRecord:
        for record in self.filings.values():
            if record.receipt.receipt_number == receipt_number:
                return record
        raise Missing(receipt_number)


class PlatformState(BackendState):
    """The national unified service platform: copies of documents served for every court."""

    def _base_documents(self, who: PersonRef) -> list[ServedDocument]:
        now = self.world.now
        return [
            d
            for court in self.world.courts.values()
            for c in court.cases_of(who)
            for d in platform_copies(self.world.seed, self.code, c, now)
            if d.addressee == who
        ]

    def document(self, document_id: str) -> ServedDocument:
        if document_id in self.extra_documents:
            return self._with_signature(self.extra_documents[document_id])
        case_id = document_id.removeprefix(PLATFORM_ID_PREFIX).rsplit("-D", 1)[0]
        for court in self.world.courts.values():
            case = court.cases.get(case_id)
            if case is None:
                continue
            for doc in platform_copies(self.world.seed, self.code, case, self.world.now):
                if doc.document_id == document_id:
                    return self._with_signature(doc)
        raise Missing(document_id)


@dataclass
class StaffDesk:
    """The court's own people acting inside its system: what the admin endpoint exposes."""

    state: CourtState
    log: list[str] = field(default_factory=list)

    def handle_filing(self, receipt_number: str, result: str = "已阅，材料已入卷") -> ChangeEvent:
        record = self.state.filing_by_receipt(receipt_number)
        record.handled, record.result = True, result
        case = self.state.case(record.filing.case_id)
        return self.state.emit(ChangeKind.FILING_HANDLED, case, filing_receipt_number=receipt_number, result=result)

    def serve_document(
        self,
        case_id: str,
        addressee: PersonRef,
        title: str,
        doc_type: str = "通知书",
        *,
        address_confirmed: bool = True,
    ) -> ServedDocument:
        case = self.state.case(case_id)
        if addressee.kind == IdentityKind.LICENCE_NUMBER:
            names = {a.licence_number: a.name for a in case.agents}
        else:
            names = {p.id_number: p.name for p in case.parties}
        if addressee.number not in names:
            what = "an agent" if addressee.kind == IdentityKind.LICENCE_NUMBER else "a party"
            raise Refused(f"{addressee.number} is not {what} of {case.case_number}")
        n = len(self.state.extra_documents) + 1
        doc = ServedDocument(
            document_id=f"{case.case_id}-S{n:03d}",
            source_code=self.state.code,
            court_code=self.state.code,
            case_number=case.case_number,
            title=f"{case.case_number}{title}",
            doc_type=doc_type,
            addressee_name=names[addressee.number],
            addressee=addressee,
            channel=ServiceChannel.COURT_PLATFORM,
            served_at=self.state.now().replace(microsecond=0),
            address_confirmed=address_confirmed,
            fingerprint=hashlib.sha256(f"{case.case_number}|{title}|{addressee.number}|{n}".encode()).hexdigest(),
        )
        self.state.extra_documents[doc.document_id] = doc
        self._touch(case)
        self.state.emit(ChangeKind.DOCUMENT_SERVED, case, document_id=doc.document_id)
        return doc

    def schedule_hearing(self, case_id: str, starts_at: datetime, room: str = "第1法庭", kind: str = "开庭") -> Hearing:
        case = self.state.case(case_id)
        hearing = Hearing(f"{case.case_id}-H{len(case.hearings) + 1}", starts_at, room, kind)
        status = CaseStatus.IN_TRIAL if case.status == CaseStatus.FILED else case.status
        self._update(replace(case, hearings=(*case.hearings, hearing), status=status))
        self.state.emit(ChangeKind.HEARING_SCHEDULED, case, hearing_id=hearing.hearing_id)
        return hearing

    def close_case(self, case_id: str, on: date | None = None) -> Case:
        case = self.state.case(case_id)
        closed = replace(case, status=CaseStatus.CLOSED, closed_on=on or self.state.now().date())
        self._update(closed)
        self.state.emit(ChangeKind.CASE_CLOSED, closed)
        return closed

    def archive_case(self, case_id: str, on: date | None = None) -> Case:
        case = self.state.case(case_id)
        if case.status not in (CaseStatus.CLOSED, CaseStatus.ARCHIVED):
            raise Refused(f"{case.case_number} is not closed")
        archived = replace(case, status=CaseStatus.ARCHIVED, archived_on=on or self.state.now().date())
        self._update(archived)
        self.state.emit(ChangeKind.CASE_ARCHIVED, archived)
        return archived

    def add_agent(self, case_id: str, agent: Agent) -> Case:
        """The clerk enters a (defendant's) lawyer; the case now belongs to the lawyer's cases too."""
        updated = self.state.enter_agent(case_id, agent)
        self.log.append(f"{updated.case_number} updated")
        return updated

    def _touch(self, case: Case) -> None:
        self._update(replace(case, last_activity_at=self.state.now().replace(microsecond=0)))

    def _update(self, case: Case) -> None:
        self.state.overrides[case.case_id] = case
        self.log.append(f"{case.case_number} updated")
