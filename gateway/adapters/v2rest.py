"""The v2-rest adapter: the Intermediate Court, the Internet Court and the national platform.

The family is a JSON REST API with OAuth2 client credentials, cursor pages of at most 100, batch gets
of at most 50, ``Idempotency-Key`` on writes and RFC 7807 problems (see ``simulators/v2rest.py`` and
its ``GET /openapi.json``). This module maps that API's vocabulary to the canonical model and its
failures to the typed court errors; the wire shapes below never leave it.

The national platform (``kind = "platform"``) speaks the same API but has only documents, signing
and the change feed: case methods raise ``NotSupported`` without calling it, entering a lawyer raises
``CourtUnsupported`` (the platform is no court), and its staff roster is empty, also without a call.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypedDict, TypeVar
from urllib.parse import quote

import aiohttp

from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtRateLimited,
    CourtRejected,
    CourtUnavailable,
    CourtUnsupported,
    NotFoundAtCourt,
    NotSupported,
)
from gateway.adapters.http_base import HttpCourtAdapter, HttpReply, gather_or_cancel
from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    AgentReceipt,
    Case,
    CaseFileVolume,
    CasePage,
    CaseScope,
    CaseStatus,
    ChangeEvent,
    ChangeKind,
    ChangePage,
    Filing,
    FilingKind,
    FilingReceipt,
    Hearing,
    IdentityKind,
    Material,
    MaterialContent,
    Party,
    PartyKind,
    PartyRole,
    PersonRef,
    Procedure,
    ServedDocument,
    ServiceChannel,
    Signature,
    SignatureReceipt,
    Staff,
    StaffRole,
    VolumeKind,
)
from gateway.config import CourtConfig

MAX_BATCH = 50
#: renew a token this long before the court says it expires
TOKEN_MARGIN_S = 30.0

# -- the court's vocabulary, read back into canonical terms ----------------------------------------

STATUSES = {
    "REGISTERED": CaseStatus.FILED,
    "UNDER_TRIAL": CaseStatus.IN_TRIAL,
    "CONCLUDED": CaseStatus.CLOSED,
    "ARCHIVED": CaseStatus.ARCHIVED,
}
PROCEDURES = {
    "TRIAL_AT_FIRST_INSTANCE": Procedure.FIRST_INSTANCE,
    "APPEAL": Procedure.SECOND_INSTANCE,
    "RETRIAL_PETITION": Procedure.RETRIAL_REVIEW,
    "RETRIAL": Procedure.RETRIAL,
    "SPECIAL_PROCEEDING": Procedure.SPECIAL,
    "PAYMENT_ORDER": Procedure.PAYMENT_ORDER,
    "ANNULMENT": Procedure.REVOCATION,
    "NON_LITIGATION_ENFORCEMENT_REVIEW": Procedure.NON_LITIGATION_REVIEW,
    "EXECUTION": Procedure.ENFORCEMENT,
    "EXECUTION_RESUMED": Procedure.ENFORCEMENT_RESUMED,
    "EXECUTION_OBJECTION": Procedure.ENFORCEMENT_OBJECTION,
    "EXECUTION_RECONSIDERATION": Procedure.ENFORCEMENT_REVIEW,
    "PRESERVATION": Procedure.PRESERVATION,
    "INSOLVENCY_PETITION": Procedure.BANKRUPTCY_APPLICATION,
    "INSOLVENCY": Procedure.BANKRUPTCY,
}
PARTY_ROLES = {
    "CLAIMANT": PartyRole.PLAINTIFF,
    "DEFENDANT": PartyRole.DEFENDANT,
    "INTERESTED_THIRD_PARTY": PartyRole.THIRD_PARTY,
    "APPELLANT": PartyRole.APPELLANT,
    "RESPONDENT_ON_APPEAL": PartyRole.APPELLEE,
    "PETITIONER": PartyRole.APPLICANT,
    "RESPONDENT": PartyRole.RESPONDENT,
    "ACCUSED_PERSON": PartyRole.ACCUSED,
    "PUBLIC_PROSECUTOR": PartyRole.PROSECUTOR,
}
PARTY_KINDS = {"NATURAL_PERSON": PartyKind.PERSON, "LEGAL_ENTITY": PartyKind.ORGANISATION}
STAFF_ROLES = {
    "PRESIDING": StaffRole.PRESIDING_JUDGE,
    "JUDGE": StaffRole.JUDGE,
    "LAY_ASSESSOR": StaffRole.PEOPLES_ASSESSOR,
    "COURT_CLERK": StaffRole.CLERK,
    "DIVISION_CHIEF": StaffRole.DIVISION_HEAD,
    "COURT_LEADERSHIP": StaffRole.COURT_LEADER,
    "ARCHIVIST": StaffRole.ARCHIVE_ADMIN,
}
CHANNELS = {
    "COURT_ESERVICE": ServiceChannel.COURT_PLATFORM,
    "NATIONAL_ESERVICE": ServiceChannel.NATIONAL_PLATFORM,
    "SMS": ServiceChannel.SMS,
    "EMAIL": ServiceChannel.EMAIL,
}
ADDRESSEE_KINDS = {"PARTY": IdentityKind.ID_NUMBER, "LAWYER": IdentityKind.LICENCE_NUMBER}
VOLUME_KINDS = {"PRIMARY": VolumeKind.MAIN, "SECONDARY": VolumeKind.INTERNAL}
EVENT_KINDS = {
    "filing.handled": ChangeKind.FILING_HANDLED,
    "document.served": ChangeKind.DOCUMENT_SERVED,
    "hearing.scheduled": ChangeKind.HEARING_SCHEDULED,
    "case.concluded": ChangeKind.CASE_CLOSED,
    "case.archived": ChangeKind.CASE_ARCHIVED,
    "agent.added": ChangeKind.AGENT_ADDED,
}
FILING_CATEGORIES = {
    FilingKind.DEFENCE_STATEMENT: "STATEMENT_OF_DEFENCE",
    FilingKind.AGENT_OPINION: "COUNSEL_SUBMISSION",
    FilingKind.EVIDENCE: "SUPPLEMENTARY_EVIDENCE",
    FilingKind.APPLICATION: "APPLICATION",
}
ASSURANCE_LEVELS = {"PHONE": "LOW", "REAL_NAME": "SUBSTANTIAL", "FACE": "HIGH"}
SIGN_METHODS = {"ONLINE_CONFIRMATION": "CONFIRMATION", "E_SEAL": "ELECTRONIC_SEAL"}


# -- wire shapes ------------------------------------------------------------------------------------


class TokenWire(TypedDict):
    access_token: str
    token_type: str
    expires_in: int


class PartyWire(TypedDict):
    name: str
    idNumber: str
    role: str
    partyType: str
    phone: str | None


class AgentWire(TypedDict):
    name: str
    licenceNumber: str
    lawFirm: str
    clientIdNumber: str
    phone: str | None


class PanelMemberWire(TypedDict):
    staffId: str
    name: str
    role: str
    division: str
    phone: str | None


class HearingWire(TypedDict):
    id: str
    startsAt: str
    courtroom: str
    type: str


class CaseTypeWire(TypedDict):
    code: str
    procedure: str


class CaseWire(TypedDict):
    id: str
    courtCode: str
    caseNumber: str
    caseType: CaseTypeWire
    causeOfAction: str
    status: str
    filingDate: str
    closingDate: str | None
    archivingDate: str | None
    publicHearing: bool
    division: str
    parties: list[PartyWire]
    agents: list[AgentWire]
    panel: list[PanelMemberWire]
    hearings: list[HearingWire]
    relatedCaseNumbers: list[str]
    lastActivityAt: str | None


class StaffListWire(TypedDict):
    staff: list[PanelMemberWire]
    nextCursor: str | None
    totalSize: int


class AgentReceiptWire(TypedDict):
    caseId: str
    licenceNumber: str
    recordedAt: str


class CaseListWire(TypedDict):
    cases: list[CaseWire]
    nextCursor: str | None
    totalSize: int


class CaseBatchWire(TypedDict):
    cases: list[CaseWire]


class AddresseeWire(TypedDict):
    name: str
    type: str
    idNumber: str


class DocumentWire(TypedDict):
    id: str
    sourceSystem: str
    issuingCourtCode: str
    caseNumber: str
    title: str
    documentType: str
    addressee: AddresseeWire
    deliveryChannel: str
    servedAt: str
    addressConfirmed: bool
    signedAt: str | None
    contentSha256: str | None


class DocumentListWire(TypedDict):
    documents: list[DocumentWire]
    nextCursor: str | None
    totalSize: int


class MaterialWire(TypedDict):
    id: str
    title: str
    pageCount: int
    published: bool
    mediaType: str


class VolumeWire(TypedDict):
    id: str
    type: str
    title: str
    materials: list[MaterialWire]


class EventCaseWire(TypedDict):
    id: str
    caseNumber: str
    courtCode: str


class EventWire(TypedDict):
    id: str
    type: str
    occurredAt: str
    case: EventCaseWire
    data: dict[str, str]


class ChangeListWire(TypedDict):
    events: list[EventWire]
    nextSince: str
    hasMore: bool


class FilingReceiptWire(TypedDict):
    receiptNumber: str
    receivedAt: str


class SignatureReceiptWire(TypedDict):
    documentId: str
    signedAt: str


# -- parsing ----------------------------------------------------------------------------------------

_T = TypeVar("_T")


def _word(words: Mapping[str, _T], value: str) -> _T:
    try:
        return words[value]
    except KeyError:
        raise ValueError(f"unknown value {value!r}") from None


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return moment.astimezone(CHINA_TZ)


def _optional_time(value: str | None) -> datetime | None:
    return _time(value) if value else None


def _optional_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def parse_case(wire: CaseWire) -> Case:
    return Case(
        case_id=wire["id"],
        court_code=wire["courtCode"],
        case_number=wire["caseNumber"],
        type_code=wire["caseType"]["code"],
        procedure=_word(PROCEDURES, wire["caseType"]["procedure"]),
        cause=wire["causeOfAction"],
        status=_word(STATUSES, wire["status"]),
        filed_on=date.fromisoformat(wire["filingDate"]),
        closed_on=_optional_date(wire["closingDate"]),
        archived_on=_optional_date(wire["archivingDate"]),
        public_hearing=wire["publicHearing"],
        division=wire["division"],
        parties=tuple(
            Party(
                p["name"], p["idNumber"], _word(PARTY_ROLES, p["role"]), _word(PARTY_KINDS, p["partyType"]), p["phone"]
            )
            for p in wire["parties"]
        ),
        agents=tuple(
            Agent(a["name"], a["licenceNumber"], a["lawFirm"], a["clientIdNumber"], a["phone"]) for a in wire["agents"]
        ),
        panel=tuple(map(parse_staff, wire["panel"])),
        hearings=tuple(Hearing(h["id"], _time(h["startsAt"]), h["courtroom"], h["type"]) for h in wire["hearings"]),
        related_case_numbers=tuple(wire["relatedCaseNumbers"]),
        last_activity_at=_optional_time(wire["lastActivityAt"]),
    )


def parse_staff(wire: PanelMemberWire) -> Staff:
    return Staff(wire["staffId"], wire["name"], _word(STAFF_ROLES, wire["role"]), wire["division"], wire["phone"])


def parse_staff_page(wire: StaffListWire) -> tuple[list[Staff], str | None]:
    return [parse_staff(s) for s in wire["staff"]], wire["nextCursor"]


def parse_agent_receipt(wire: AgentReceiptWire) -> AgentReceipt:
    return AgentReceipt(wire["caseId"], wire["licenceNumber"], _time(wire["recordedAt"]))


def parse_document(wire: DocumentWire) -> ServedDocument:
    addressee = wire["addressee"]
    return ServedDocument(
        document_id=wire["id"],
        source_code=wire["sourceSystem"],
        court_code=wire["issuingCourtCode"],
        case_number=wire["caseNumber"],
        title=wire["title"],
        doc_type=wire["documentType"],
        addressee_name=addressee["name"],
        addressee=PersonRef(_word(ADDRESSEE_KINDS, addressee["type"]), addressee["idNumber"]),
        channel=_word(CHANNELS, wire["deliveryChannel"]),
        served_at=_time(wire["servedAt"]),
        address_confirmed=wire["addressConfirmed"],
        signed_at=_optional_time(wire["signedAt"]),
        fingerprint=wire["contentSha256"] or "",
    )


def parse_volume(wire: VolumeWire) -> CaseFileVolume:
    materials = tuple(
        Material(m["id"], m["title"], m["pageCount"], m["published"], m["mediaType"]) for m in wire["materials"]
    )
    return CaseFileVolume(wire["id"], _word(VOLUME_KINDS, wire["type"]), wire["title"], materials)


def parse_event(wire: EventWire) -> ChangeEvent:
    data = wire["data"]
    return ChangeEvent(
        event_id=wire["id"],
        kind=_word(EVENT_KINDS, wire["type"]),
        court_code=wire["case"]["courtCode"],
        case_id=wire["case"]["id"],
        case_number=wire["case"]["caseNumber"],
        occurred_at=_time(wire["occurredAt"]),
        filing_receipt_number=data.get("receiptNumber"),
        result=data.get("result"),
        document_id=data.get("documentId"),
        hearing_id=data.get("hearingId"),
        licence_number=data.get("licenceNumber"),
    )


def parse_token(wire: TokenWire) -> tuple[str, float]:
    """The Bearer token and how many seconds it lives."""
    if wire["token_type"].lower() != "bearer":
        raise ValueError(f"unexpected token type {wire['token_type']!r}")
    return wire["access_token"], float(wire["expires_in"])


def parse_case_page(wire: CaseListWire) -> CasePage:
    return CasePage(tuple(map(parse_case, wire["cases"])), wire["nextCursor"], wire["totalSize"])


def parse_case_batch(wire: CaseBatchWire) -> list[Case]:
    return [parse_case(c) for c in wire["cases"]]


def parse_document_page(wire: DocumentListWire) -> tuple[list[ServedDocument], str | None]:
    return [parse_document(d) for d in wire["documents"]], wire["nextCursor"]


def parse_change_page(wire: ChangeListWire) -> ChangePage:
    return ChangePage(tuple(map(parse_event, wire["events"])), wire["nextSince"])


def parse_filing_receipt(wire: FilingReceiptWire) -> FilingReceipt:
    return FilingReceipt(wire["receiptNumber"], _time(wire["receivedAt"]))


def parse_signature_receipt(wire: SignatureReceiptWire) -> SignatureReceipt:
    return SignatureReceipt(wire["documentId"], _time(wire["signedAt"]))


def _person_filter(who: PersonRef, *, party: str, lawyer: str) -> dict[str, str]:
    return {party if who.kind == IdentityKind.ID_NUMBER else lawyer: who.number}


def _scope_filter(scope: CaseScope) -> dict[str, str]:
    """A staff view as the one ``GET /v2/cases`` filter it is; a panel member wins over a division."""
    if scope.staff_id:
        return {"panelMemberStaffId": scope.staff_id}
    if scope.division:
        return {"division": scope.division}
    return {"scope": "court"}


def _problem(reply: HttpReply) -> str:
    """The RFC 7807 problem's title and detail, for error messages."""
    try:
        problem = reply.json()
        return f"{reply.status} {problem.get('title', '')}: {problem.get('detail', '')}".rstrip(": ")
    except (ValueError, AttributeError):
        return f"HTTP {reply.status}"


# -- the adapter ------------------------------------------------------------------------------------


class V2RestAdapter(HttpCourtAdapter):
    """One v2-rest backend: a court, or the national platform."""

    max_page_size = 100

    def __init__(self, court: CourtConfig) -> None:
        super().__init__(court)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        #: courts enter lawyers; the national platform has no cases to enter them on
        self.supports_agent_writes = court.is_court

    # -- plumbing: one token, one status mapping (the session is the base's) ------------------------

    def _default_headers(self) -> Mapping[str, str]:
        return {"Accept": "application/json, application/problem+json"}

    async def _access_token(self, stale: str | None = None) -> str:
        """The current token; a new one when there is none, it is ``stale`` (refused) or about to expire."""
        async with self._token_lock:
            if self._token is None or self._token == stale or time.monotonic() >= self._token_expires:
                credentials = self.court.credentials
                basic = aiohttp.encode_basic_auth(
                    credentials.get("client_id", ""), credentials.get("client_secret", "")
                )
                reply = await self._exchange(
                    "POST",
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": basic},
                )
                if reply.status in (400, 401):
                    raise CourtAuthFailed(self.court.code, f"token refused: {_problem(reply)}")
                self._token, lifetime = self._parse(reply, parse_token)
                self._token_expires = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_S)
            return self._token

    async def _request(self, method: str, path: str, **kwargs: Any) -> HttpReply:
        """An authorised call: renews the token once when it is refused, then maps failures to typed errors."""
        token = await self._access_token()
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {token}"}
        reply = await self._exchange(method, path, headers=headers, **kwargs)
        if reply.status == 401:
            headers["Authorization"] = f"Bearer {await self._access_token(stale=token)}"
            reply = await self._exchange(method, path, headers=headers, **kwargs)
            if reply.status == 401:
                raise CourtAuthFailed(self.court.code, f"token refused after renewal: {_problem(reply)}")
        return reply

    async def _call(self, parse: Callable[[Any], _T], method: str, path: str, **kwargs: Any) -> _T:
        """An authorised JSON call, parsed into the canonical model."""
        return self._parse(await self._request(method, path, **kwargs), parse)

    def _parse(self, reply: HttpReply, parse: Callable[[Any], _T], *, raw: bool = False) -> _T:
        """Typed errors for failures; an answer that does not parse is a broken court, not our bug."""
        code, status = self.court.code, reply.status
        if status == 429:
            raise CourtRateLimited(code, _problem(reply), retry_after=reply.retry_after)
        if status >= 500:
            raise CourtUnavailable(code, _problem(reply))
        if status == 404:
            raise NotFoundAtCourt(code, _problem(reply))
        if status == 401:
            raise CourtAuthFailed(code, _problem(reply))
        if status >= 400:
            raise CourtRejected(code, _problem(reply))
        try:
            return parse(reply.body if raw else reply.json())
        except (ValueError, KeyError, TypeError) as e:
            raise CourtUnavailable(code, f"unreadable answer: {e!r}") from None

    def _courts_only(self, what: str) -> None:
        if not self.court.is_court:
            raise NotSupported(self.court.code, f"the national platform has no {what}")

    def _court_system_only(self, what: str) -> None:
        """What only a court's own system can do (entering lawyers on cases): the platform is no court."""
        if not self.court.is_court:
            raise CourtUnsupported(self.court.code, f"the national platform has no {what}")

    # -- reads ------------------------------------------------------------------------------------

    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> CasePage:
        params = _person_filter(who, party="partyIdNumber", lawyer="agentLicenceNumber")
        return await self._case_page(params, position, limit)

    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._case_page(_scope_filter(scope), position, limit)

    async def _case_page(self, params: dict[str, str], position: str | None, limit: int) -> CasePage:
        """One cursor page of ``GET /v2/cases`` under one filter (a cursor only fits the filter it came from)."""
        self._courts_only("cases")
        params = {**params, "limit": str(min(max(limit, 1), self.max_page_size))}
        if position:
            params["cursor"] = position
        return await self._call(parse_case_page, "GET", "/v2/cases", params=params)

    async def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        """Batches of 50 in parallel (the connector's limit protects the court); answers in the order asked."""
        self._courts_only("cases")
        batches = [case_ids[i : i + MAX_BATCH] for i in range(0, len(case_ids), MAX_BATCH)]
        answers = await gather_or_cancel(
            self._call(parse_case_batch, "GET", "/v2/cases:batchGet", params={"ids": ",".join(b)}) for b in batches
        )
        found = {case.case_id: case for cases in answers for case in cases}
        return [found[i] for i in case_ids if i in found]

    async def find_case(self, case_number: str) -> Case | None:
        self._courts_only("cases")
        try:
            page = await self._call(parse_case_page, "GET", "/v2/cases", params={"caseNumber": case_number})
        except NotFoundAtCourt:
            return None
        return page.cases[0] if page.cases else None

    async def list_documents(self, who: PersonRef) -> list[ServedDocument]:
        params = _person_filter(who, party="addresseeIdNumber", lawyer="addresseeLicenceNumber")
        params["limit"] = str(self.max_page_size)
        documents: list[ServedDocument] = []
        while True:
            page, cursor = await self._call(parse_document_page, "GET", "/v2/documents", params=params)
            documents += page
            if cursor is None:
                return documents
            params["cursor"] = cursor

    async def list_volumes(self, case_id: str) -> list[CaseFileVolume]:
        self._courts_only("case files")
        path = f"/v2/cases/{quote(case_id, safe='')}/volumes"
        return await self._call(lambda wire: [parse_volume(v) for v in wire["volumes"]], "GET", path)

    async def read_material(self, case_id: str, material_id: str) -> MaterialContent:
        self._courts_only("case files")
        path = f"/v2/cases/{quote(case_id, safe='')}/materials/{quote(material_id, safe='')}/content"
        reply = await self._request("GET", path, headers={"Accept": "application/pdf"})
        return self._parse(reply, lambda body: MaterialContent(material_id, reply.content_type, body), raw=True)

    async def list_staff(self) -> list[Staff]:
        """The roster in pages of 100 (one page for most courts), walked to the end; the platform, which
        employs no judges or clerks, has an empty roster (answered without a call)."""
        if not self.court.is_court:
            return []
        params = {"limit": str(self.max_page_size)}
        staff: list[Staff] = []
        while True:
            page, cursor = await self._call(parse_staff_page, "GET", "/v2/staff", params=params)
            staff += page
            if cursor is None:
                return staff
            params["cursor"] = cursor

    async def changes(self, cursor: str | None) -> ChangePage:
        """One page of the feed (at most 100 events); the caller resumes from the page's cursor."""
        params = {"limit": str(self.max_page_size), **({"since": cursor} if cursor else {})}
        return await self._call(parse_change_page, "GET", "/v2/changes", params=params)

    # -- writes -----------------------------------------------------------------------------------

    async def submit_filing(self, filing: Filing) -> FilingReceipt:
        self._courts_only("filings")
        body = {
            "caseNumber": filing.case_number,
            "category": FILING_CATEGORIES[filing.kind],
            "title": filing.title,
            "submitter": {"name": filing.filer_name, "idNumber": filing.filer_id_number},
            "attachments": [
                {
                    "fileName": a.filename,
                    "mediaType": a.content_type,
                    "contentBase64": base64.b64encode(a.content).decode(),
                }
                for a in filing.attachments
            ],
        }
        path = f"/v2/cases/{quote(filing.case_id, safe='')}/filings"
        headers = {"Idempotency-Key": filing.idempotency_key}
        return await self._call(parse_filing_receipt, "POST", path, json=body, headers=headers)

    async def sign_document(self, signature: Signature) -> SignatureReceipt:
        if signature.identity_level not in ASSURANCE_LEVELS or signature.method not in SIGN_METHODS:
            raise CourtRejected(self.court.code, f"unknown identity level or method in {signature}")
        body = {
            "signer": {"name": signature.signer_name, "idNumber": signature.signer_id_number},
            "assuranceLevel": ASSURANCE_LEVELS[signature.identity_level],
            "signedAt": signature.signed_at.astimezone(CHINA_TZ).isoformat(),
            "method": SIGN_METHODS[signature.method],
        }
        path = f"/v2/documents/{quote(signature.document_id, safe='')}:sign"
        headers = {"Idempotency-Key": signature.idempotency_key}
        return await self._call(parse_signature_receipt, "POST", path, json=body, headers=headers)

    async def add_agent(self, case_id: str, agent: Agent, *, idempotency_key: str) -> AgentReceipt:
        """``POST /v2/cases/{id}/agents`` with the key as ``Idempotency-Key``: 201 first, 200 on a repeat."""
        self._court_system_only("cases to enter a lawyer on")
        body = {
            "name": agent.name,
            "licenceNumber": agent.licence_number,
            "lawFirm": agent.firm,
            "clientIdNumber": agent.client_id_number,
            "phone": agent.phone,
        }
        path = f"/v2/cases/{quote(case_id, safe='')}/agents"
        headers = {"Idempotency-Key": idempotency_key}
        return await self._call(parse_agent_receipt, "POST", path, json=body, headers=headers)
