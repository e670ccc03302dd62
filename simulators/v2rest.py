"""The v2-rest family (粤01, 粤0192, and the national unified service platform): "the modern one".

A JSON/UTF-8 REST API of the 2020s procurement style: OAuth2 client credentials (``POST /oauth/token``,
Bearer tokens that die after 10 minutes), cursor pagination capped at 100, a batch get capped at 50,
``Idempotency-Key`` on writes, a typed change feed, and every error as an RFC 7807
``application/problem+json``. Modern does not mean canonical: the API has its own English
vocabulary (``UNDER_TRIAL``, ``CLAIMANT``, ``LAY_ASSESSOR``, ``case.concluded``), its own field names
and nesting, ISO-8601 times with ``+08:00``, and an opaque cursor that only fits the query it came from.

``GET /v2/cases`` takes exactly one filter: a person (``partyIdNumber``, ``agentLicenceNumber``), a
case number, or a staff view (``panelMemberStaffId``, ``division``, ``scope=court`` for the whole
court), all newest filing first under the same cursor paging.

``GET /v2/staff`` is the court's roster (人员名册) under the same cursor paging; ``POST
/v2/cases/{caseId}/agents`` enters a lawyer on a case (案件绑定) as the clerk would, idempotent by
``Idempotency-Key``.

``GET /openapi.json`` describes exactly what is served (``OPENAPI`` below); tests/test_v2rest.py keeps
the two in step. The national platform speaks the same API over ``PlatformState``: it has documents,
signing and a change feed, and answers every case and staff endpoint with a 404 problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from aiohttp import web

from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    Attachment,
    Case,
    CaseFileVolume,
    CaseScope,
    CaseStatus,
    ChangeEvent,
    ChangeKind,
    Filing,
    FilingKind,
    IdentityKind,
    PartyKind,
    PartyRole,
    PersonRef,
    Procedure,
    ServedDocument,
    ServiceChannel,
    Signature,
    Staff,
    StaffRole,
    VolumeKind,
)
from gateway.config import CourtConfig
from simulators.base import FamilySimulator, FaultKind, Handler
from simulators.state import BackendState, Conflict, CourtState, Missing, Refused, Sessions

log = logging.getLogger("simulators.v2rest")

TOKEN_TTL_S = 600
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_BATCH = 50
JSON = "application/json"
PROBLEM = "application/problem+json"
REALM = "court-api"
PUBLIC_PATHS = frozenset({"/oauth/token", "/openapi.json"})
#: GET /v2/cases filters (exactly one per request) → the shared operation name each one is counted under
CASE_FILTERS = {
    "partyIdNumber": "list_cases",
    "agentLicenceNumber": "list_cases",
    "caseNumber": "find_case",
    "panelMemberStaffId": "list_court_cases",
    "division": "list_court_cases",
    "scope": "list_court_cases",
}
#: the one value of the ``scope`` filter: every case of the court
WHOLE_COURT = "court"

# -- the API's own vocabulary ----------------------------------------------------------------------

STATUSES = {
    CaseStatus.FILED: "REGISTERED",
    CaseStatus.IN_TRIAL: "UNDER_TRIAL",
    CaseStatus.CLOSED: "CONCLUDED",
    CaseStatus.ARCHIVED: "ARCHIVED",
}
PROCEDURES = {
    Procedure.FIRST_INSTANCE: "TRIAL_AT_FIRST_INSTANCE",
    Procedure.SECOND_INSTANCE: "APPEAL",
    Procedure.RETRIAL_REVIEW: "RETRIAL_PETITION",
    Procedure.RETRIAL: "RETRIAL",
    Procedure.SPECIAL: "SPECIAL_PROCEEDING",
    Procedure.PAYMENT_ORDER: "PAYMENT_ORDER",
    Procedure.REVOCATION: "ANNULMENT",
    Procedure.NON_LITIGATION_REVIEW: "NON_LITIGATION_ENFORCEMENT_REVIEW",
    Procedure.ENFORCEMENT: "EXECUTION",
    Procedure.ENFORCEMENT_RESUMED: "EXECUTION_RESUMED",
    Procedure.ENFORCEMENT_OBJECTION: "EXECUTION_OBJECTION",
    Procedure.ENFORCEMENT_REVIEW: "EXECUTION_RECONSIDERATION",
    Procedure.PRESERVATION: "PRESERVATION",
    Procedure.BANKRUPTCY_APPLICATION: "INSOLVENCY_PETITION",
    Procedure.BANKRUPTCY: "INSOLVENCY",
}
PARTY_ROLES = {
    PartyRole.PLAINTIFF: "CLAIMANT",
    PartyRole.DEFENDANT: "DEFENDANT",
    PartyRole.THIRD_PARTY: "INTERESTED_THIRD_PARTY",
    PartyRole.APPELLANT: "APPELLANT",
    PartyRole.APPELLEE: "RESPONDENT_ON_APPEAL",
    PartyRole.APPLICANT: "PETITIONER",
    PartyRole.RESPONDENT: "RESPONDENT",
    PartyRole.ACCUSED: "ACCUSED_PERSON",
    PartyRole.PROSECUTOR: "PUBLIC_PROSECUTOR",
}
PARTY_TYPES = {PartyKind.PERSON: "NATURAL_PERSON", PartyKind.ORGANISATION: "LEGAL_ENTITY"}
STAFF_ROLES = {
    StaffRole.PRESIDING_JUDGE: "PRESIDING",
    StaffRole.JUDGE: "JUDGE",
    StaffRole.PEOPLES_ASSESSOR: "LAY_ASSESSOR",
    StaffRole.CLERK: "COURT_CLERK",
    StaffRole.DIVISION_HEAD: "DIVISION_CHIEF",
    StaffRole.COURT_LEADER: "COURT_LEADERSHIP",
    StaffRole.ARCHIVE_ADMIN: "ARCHIVIST",
}
CHANNELS = {
    ServiceChannel.COURT_PLATFORM: "COURT_ESERVICE",
    ServiceChannel.NATIONAL_PLATFORM: "NATIONAL_ESERVICE",
    ServiceChannel.SMS: "SMS",
    ServiceChannel.EMAIL: "EMAIL",
}
ADDRESSEE_TYPES = {IdentityKind.ID_NUMBER: "PARTY", IdentityKind.LICENCE_NUMBER: "LAWYER"}
VOLUME_TYPES = {VolumeKind.MAIN: "PRIMARY", VolumeKind.INTERNAL: "SECONDARY"}
EVENT_TYPES = {
    ChangeKind.FILING_HANDLED: "filing.handled",
    ChangeKind.DOCUMENT_SERVED: "document.served",
    ChangeKind.HEARING_SCHEDULED: "hearing.scheduled",
    ChangeKind.CASE_CLOSED: "case.concluded",
    ChangeKind.CASE_ARCHIVED: "case.archived",
    ChangeKind.AGENT_ADDED: "agent.added",
}
#: what each event type carries in ``data``: wire name → ChangeEvent field
EVENT_DATA: dict[ChangeKind, dict[str, str]] = {
    ChangeKind.FILING_HANDLED: {"receiptNumber": "filing_receipt_number", "result": "result"},
    ChangeKind.DOCUMENT_SERVED: {"documentId": "document_id"},
    ChangeKind.HEARING_SCHEDULED: {"hearingId": "hearing_id"},
    ChangeKind.CASE_CLOSED: {},
    ChangeKind.CASE_ARCHIVED: {},
    ChangeKind.AGENT_ADDED: {"licenceNumber": "licence_number"},
}
FILING_CATEGORIES = {
    FilingKind.DEFENCE_STATEMENT: "STATEMENT_OF_DEFENCE",
    FilingKind.AGENT_OPINION: "COUNSEL_SUBMISSION",
    FilingKind.EVIDENCE: "SUPPLEMENTARY_EVIDENCE",
    FilingKind.APPLICATION: "APPLICATION",
}
#: identity levels as eIDAS-style assurance levels
ASSURANCE_LEVELS = {"PHONE": "LOW", "REAL_NAME": "SUBSTANTIAL", "FACE": "HIGH"}
SIGN_METHODS = {"ONLINE_CONFIRMATION": "CONFIRMATION", "E_SEAL": "ELECTRONIC_SEAL"}


# -- problems (RFC 7807) ----------------------------------------------------------------------------


class Problem(Exception):
    """Raised anywhere in a handler; the problem middleware answers it as application/problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    def response(self, request: web.Request | None = None) -> web.Response:
        body: dict[str, Any] = {"type": f"/problems/{self.slug}", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if request is not None:
            body["instance"] = request.path
        body.update(self.extensions)
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            status=self.status,
            content_type=PROBLEM,
            charset="utf-8",
            headers=self.headers,
        )


def _bad_request(detail: str) -> Problem:
    return Problem(400, "invalid-request", "Invalid request", detail)


def _not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Resource not found", detail)


def _unauthorised(detail: str, error: str | None) -> Problem:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return Problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


# -- rendering --------------------------------------------------------------------------------------


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: datetime | None) -> str | None:
    return value.astimezone(CHINA_TZ).isoformat() if value else None


def case_json(case: Case) -> dict[str, Any]:
    return {
        "id": case.case_id,
        "courtCode": case.court_code,
        "caseNumber": case.case_number,
        "caseType": {"code": case.type_code, "procedure": PROCEDURES[case.procedure]},
        "causeOfAction": case.cause,
        "status": STATUSES[case.status],
        "filingDate": _date(case.filed_on),
        "closingDate": _date(case.closed_on),
        "archivingDate": _date(case.archived_on),
        "publicHearing": case.public_hearing,
        "division": case.division,
        "parties": [
            {
                "name": p.name,
                "idNumber": p.id_number,
                "role": PARTY_ROLES[p.role],
                "partyType": PARTY_TYPES[p.kind],
                "phone": p.phone,
            }
            for p in case.parties
        ],
        "agents": [
            {
                "name": a.name,
                "licenceNumber": a.licence_number,
                "lawFirm": a.firm,
                "clientIdNumber": a.client_id_number,
                "phone": a.phone,
            }
            for a in case.agents
        ],
        "panel": [staff_json(s) for s in case.panel],
        "hearings": [
            {"id": h.hearing_id, "startsAt": _time(h.starts_at), "courtroom": h.room, "type": h.kind}
            for h in case.hearings
        ],
        "relatedCaseNumbers": list(case.related_case_numbers),
        "lastActivityAt": _time(case.last_activity_at),
    }


def staff_json(member: Staff) -> dict[str, Any]:
    """One roster entry; the same shape as a panel member of a case."""
    return {
        "staffId": member.staff_id,
        "name": member.name,
        "role": STAFF_ROLES[member.role],
        "division": member.division,
        "phone": member.phone,
    }


def document_json(doc: ServedDocument) -> dict[str, Any]:
    return {
        "id": doc.document_id,
        "sourceSystem": doc.source_code,
        "issuingCourtCode": doc.court_code,
        "caseNumber": doc.case_number,
        "title": doc.title,
        "documentType": doc.doc_type,
        "addressee": {
            "name": doc.addressee_name,
            "type": ADDRESSEE_TYPES[doc.addressee.kind],
            "idNumber": doc.addressee.number,
        },
        "deliveryChannel": CHANNELS[doc.channel],
        "servedAt": _time(doc.served_at),
        "addressConfirmed": doc.address_confirmed,
        "signedAt": _time(doc.signed_at),
        "contentSha256": doc.fingerprint or None,
    }


def volume_json(volume: CaseFileVolume) -> dict[str, Any]:
    return {
        "id": volume.volume_id,
        "type": VOLUME_TYPES[volume.kind],
        "title": volume.title,
        "materials": [
            {
                "id": m.material_id,
                "title": m.title,
                "pageCount": m.pages,
                "published": m.published,
                "mediaType": m.content_type,
            }
            for m in volume.materials
        ],
    }


def event_json(event: ChangeEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "type": EVENT_TYPES[event.kind],
        "occurredAt": _time(event.occurred_at),
        "case": {"id": event.case_id, "caseNumber": event.case_number, "courtCode": event.court_code},
        "data": {wire: getattr(event, name) for wire, name in EVENT_DATA[event.kind].items()},
    }


def _json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body, ensure_ascii=False), status=status, content_type=JSON, charset="utf-8")


# -- reading requests -------------------------------------------------------------------------------


def _limit(request: web.Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    raw = request.query.get("limit", "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise _bad_request("limit must be a positive integer")
    if int(raw) > MAX_PAGE_SIZE:
        raise _bad_request(f"limit must not exceed {MAX_PAGE_SIZE}")
    return int(raw)


def _one_filter(request: web.Request, names: Sequence[str]) -> tuple[str, str]:
    given = [(n, request.query[n].strip()) for n in names if request.query.get(n, "").strip()]
    if len(given) != 1:
        raise _bad_request(f"exactly one of {', '.join(names)} is required")
    return given[0]


def _staff_scope(name: str, value: str) -> CaseScope:
    """A staff filter of GET /v2/cases as the view it asks for."""
    if name == "panelMemberStaffId":
        return CaseScope(staff_id=value)
    if name == "division":
        return CaseScope(division=value)
    if value != WHOLE_COURT:
        raise _bad_request(f"scope must be {WHOLE_COURT}")
    return CaseScope()


def _page(request: web.Request, query: str, items: Sequence[Any]) -> tuple[Sequence[Any], str | None]:
    """One page from ``items``; the cursor is opaque and only valid for the query it was made for."""
    limit = _limit(request)
    fit = hashlib.sha256(query.encode()).hexdigest()[:12]
    start = 0
    cursor = request.query.get("cursor", "")
    if cursor:
        try:
            offset, _, tag = base64.urlsafe_b64decode(cursor.encode() + b"==").decode().partition(":")
            start = int(offset)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _bad_request("cursor is malformed") from None
        if tag != fit or start < 0:
            raise _bad_request("cursor does not belong to this query")
    end = start + limit
    following = base64.urlsafe_b64encode(f"{end}:{fit}".encode()).decode().rstrip("=") if end < len(items) else None
    return items[start:end], following


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != JSON:
        raise Problem(415, "unsupported-media-type", "Unsupported media type", "send application/json")
    try:
        body = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("body must be a JSON object")
    return body


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _bad_request(f"{name} is required")
    return value


def _member(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise _bad_request(f"{name} must be an object")
    return value


def _choice(body: Mapping[str, Any], name: str, words: Mapping[Any, str]) -> Any:
    value = _text(body, name)
    for canonical, word in words.items():
        if word == value:
            return canonical
    raise _bad_request(f"{name} must be one of {', '.join(words.values())}")


def _moment(body: Mapping[str, Any], name: str) -> datetime:
    try:
        value = datetime.fromisoformat(_text(body, name))
    except ValueError:
        raise _bad_request(f"{name} must be an ISO-8601 date-time") from None
    if value.tzinfo is None:
        raise _bad_request(f"{name} must carry a UTC offset")
    return value.astimezone(CHINA_TZ)


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    """HTTP Basic (RFC 7617): ``Basic base64(id:secret)``; (None, None) when it is not that."""
    scheme, _, encoded = header.partition(" ")
    try:
        login, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (login, password) if scheme.lower() == "basic" and colon else (None, None)


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise _bad_request("the Idempotency-Key header is required for writes")
    return key


# -- the service ------------------------------------------------------------------------------------


class V2RestSimulator(FamilySimulator):
    """The REST API of one court, or of the national platform."""

    family = "v2-rest"

    def __init__(self, config: CourtConfig, state: BackendState) -> None:
        super().__init__(config, state)
        self.tokens = Sessions(ttl_s=TOKEN_TTL_S, idle=False)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/oauth/token", self.issue_token),
            web.get("/openapi.json", self.openapi, allow_head=False),
            web.get("/v2/cases", self.list_cases, allow_head=False),
            web.get("/v2/cases:batchGet", self.batch_get, allow_head=False),
            web.get("/v2/cases/{caseId}/volumes", self.list_volumes, allow_head=False),
            web.get("/v2/cases/{caseId}/materials/{materialId}/content", self.read_material, allow_head=False),
            web.post("/v2/cases/{caseId}/filings", self.submit_filing),
            web.post("/v2/cases/{caseId}/agents", self.add_agent),
            web.get("/v2/staff", self.list_staff, allow_head=False),
            web.get("/v2/documents", self.list_documents, allow_head=False),
            web.post("/v2/documents/{documentId}:sign", self.sign_document),
            web.get("/v2/changes", self.changes, allow_head=False),
        ]

    def build(self) -> web.Application:
        app = super().build()
        app.middlewares.append(self._problems)  # inside the fault middleware: faults come first
        return app

    def fault_response(self, kind: FaultKind, request: web.Request) -> web.StreamResponse:
        if kind == FaultKind.RATE_LIMITED:
            rate = self.state.faults.rate_limit_per_s or 1.0
            retry_after = str(max(1, math.ceil(1 / rate)))
            problem = Problem(
                429,
                "rate-limited",
                "Too many requests",
                f"retry after {retry_after} s",
                headers={"Retry-After": retry_after},
            )
        else:
            problem = Problem(503, "service-unavailable", "Service unavailable", "the case system is unavailable")
        return problem.response(request)

    def expire_sessions(self) -> None:
        self.tokens.expire_all()

    @web.middleware
    async def _problems(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Bearer authentication for everything but the token endpoint and the API description, and
        every failure (ours, aiohttp's 404/405, a crash) answered as a problem."""
        try:
            if request.match_info.http_exception is None and request.path not in PUBLIC_PATHS:
                self._authorise(request)
            return await handler(request)
        except Problem as problem:
            return problem.response(request)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            return Problem(
                e.status, "http-error", e.reason, headers={k: v for k, v in e.headers.items() if k == "Allow"}
            ).response(request)
        except Exception:
            log.exception("v2-rest handler failed")
            return Problem(500, "internal-error", "Internal server error").response(request)

    def _authorise(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorised("a Bearer token is required", None)
        if not self.tokens.check(token.strip()):
            raise _unauthorised("the access token is invalid or has expired", "invalid_token")

    def _court(self) -> CourtState:
        """The case endpoints exist on the platform too, but it has no cases."""
        if not isinstance(self.state, CourtState):
            raise _not_found("this service holds no cases")
        return self.state

    def _case(self, case_id: str) -> Case:
        try:
            return self._court().case(case_id)
        except Missing:
            raise _not_found(f"no case {case_id}") from None

    # -- endpoints ----------------------------------------------------------------------------------

    async def issue_token(self, request: web.Request) -> web.Response:
        """RFC 6749 §4.4; client credentials as HTTP Basic or in the form body."""
        self.state.count("auth")
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            raise Problem(
                400,
                "unsupported-grant-type",
                "unsupported_grant_type",
                "grant_type must be client_credentials",
                error="unsupported_grant_type",
            )
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if "Authorization" in request.headers:
            client_id, client_secret = _basic_credentials(request.headers["Authorization"])
        expected = (self.config.credentials.get("client_id"), self.config.credentials.get("client_secret"))
        if (client_id, client_secret) != expected or None in expected:
            raise Problem(
                401,
                "invalid-client",
                "invalid_client",
                "client authentication failed",
                headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
                error="invalid_client",
            )
        return _json_response({"access_token": self.tokens.issue(), "token_type": "Bearer", "expires_in": TOKEN_TTL_S})

    async def openapi(self, request: web.Request) -> web.Response:
        return _json_response(openapi_document(f"{request.scheme}://{request.host}", self.config))

    async def list_cases(self, request: web.Request) -> web.Response:
        """A person's cases, a staff view of the court's cases, or one case by number: one filter, one list."""
        name, value = _one_filter(request, tuple(CASE_FILTERS))
        operation = CASE_FILTERS[name]
        scope = _staff_scope(name, value) if operation == "list_court_cases" else None
        self.state.count(operation)
        court = self._court()
        if scope is not None:
            cases = court.cases_in_scope(scope)
        elif name == "caseNumber":
            try:
                cases = [court.case_by_number(value)]
            except Missing:
                cases = []
        else:
            who = PersonRef.party(value) if name == "partyIdNumber" else PersonRef.lawyer(value)
            cases = court.cases_of(who)
        page, following = _page(request, f"{name}={value}", cases)
        return _json_response({"cases": [case_json(c) for c in page], "nextCursor": following, "totalSize": len(cases)})

    async def batch_get(self, request: web.Request) -> web.Response:
        self.state.count("get_cases")
        ids = [i.strip() for i in request.query.get("ids", "").split(",") if i.strip()]
        if not ids:
            raise _bad_request("ids is required")
        if len(ids) > MAX_BATCH:
            raise _bad_request(f"at most {MAX_BATCH} ids per batch")
        court = self._court()
        found = []
        for case_id in ids:
            try:
                found.append(court.case(case_id))
            except Missing:
                continue
        return _json_response({"cases": [case_json(c) for c in found]})

    async def list_volumes(self, request: web.Request) -> web.Response:
        self.state.count("list_volumes")
        case = self._case(request.match_info["caseId"])
        return _json_response({"volumes": [volume_json(v) for v in self._court().volumes(case.case_id)]})

    async def read_material(self, request: web.Request) -> web.Response:
        self.state.count("read_material")
        case = self._case(request.match_info["caseId"])
        material_id = request.match_info["materialId"]
        try:
            content = self._court().material(case.case_id, material_id)
        except Missing:
            raise _not_found(f"no material {material_id} in case {case.case_id}") from None
        return web.Response(body=content, content_type="application/pdf")

    async def submit_filing(self, request: web.Request) -> web.Response:
        """201 for a new filing, 200 with the same receipt when the key was seen with the same content."""
        self.state.count("submit_filing")
        case = self._case(request.match_info["caseId"])
        key = _idempotency_key(request)
        body = await _json_body(request)
        if _text(body, "caseNumber") != case.case_number:
            raise _bad_request("caseNumber does not match the case")
        submitter = _member(body, "submitter")
        filing = Filing(
            idempotency_key=key,
            case_id=case.case_id,
            case_number=case.case_number,
            kind=_choice(body, "category", FILING_CATEGORIES),
            title=_text(body, "title"),
            filer_name=_text(submitter, "name"),
            filer_id_number=_text(submitter, "idNumber"),
            attachments=_attachments(body.get("attachments")),
        )
        court = self._court()
        replay = key in court.filings
        try:
            receipt = court.submit_filing(filing)
        except Conflict:
            raise Problem(
                409,
                "idempotency-key-reused",
                "Idempotency key reused",
                "this Idempotency-Key was used for a different filing",
            ) from None
        return _json_response(
            {"receiptNumber": receipt.receipt_number, "receivedAt": _time(receipt.received_at)},
            status=200 if replay else 201,
        )

    async def add_agent(self, request: web.Request) -> web.Response:
        """Enter a lawyer on the case: 201 the first time, 200 with the same receipt for the same key again."""
        self.state.count("add_agent")
        case = self._case(request.match_info["caseId"])
        key = _idempotency_key(request)
        body = await _json_body(request)
        phone = body.get("phone")
        if phone is not None and not isinstance(phone, str):
            raise _bad_request("phone must be a string or null")
        agent = Agent(
            name=_text(body, "name"),
            licence_number=_text(body, "licenceNumber"),
            firm=_text(body, "lawFirm"),
            client_id_number=_text(body, "clientIdNumber"),
            phone=phone or None,
        )
        court = self._court()
        replay = key in court.agent_writes
        try:
            receipt = court.add_agent(case.case_id, agent, key)
        except Conflict:
            raise Problem(
                409,
                "idempotency-key-reused",
                "Idempotency key reused",
                "this Idempotency-Key was used for a different lawyer entry",
            ) from None
        except Refused as e:
            raise Problem(422, "agent-refused", "Agent refused", str(e)) from None
        return _json_response(
            {
                "caseId": receipt.case_id,
                "licenceNumber": receipt.licence_number,
                "recordedAt": _time(receipt.recorded_at),
            },
            status=200 if replay else 201,
        )

    async def list_staff(self, request: web.Request) -> web.Response:
        """The court's roster, in the order its system keeps it, under the usual cursor paging."""
        self.state.count("list_staff")
        if not isinstance(self.state, CourtState):
            raise _not_found("this service has no staff")
        staff = self.state.staff()
        page, following = _page(request, "staff", staff)
        return _json_response(
            {"staff": [staff_json(m) for m in page], "nextCursor": following, "totalSize": len(staff)}
        )

    async def list_documents(self, request: web.Request) -> web.Response:
        self.state.count("list_documents")
        name, value = _one_filter(request, ("addresseeIdNumber", "addresseeLicenceNumber"))
        who = PersonRef.party(value) if name == "addresseeIdNumber" else PersonRef.lawyer(value)
        documents = self.state.documents_of(who)
        page, following = _page(request, f"{name}={value}", documents)
        return _json_response(
            {"documents": [document_json(d) for d in page], "nextCursor": following, "totalSize": len(documents)}
        )

    async def sign_document(self, request: web.Request) -> web.Response:
        self.state.count("sign_document")
        key = _idempotency_key(request)
        body = await _json_body(request)
        signer = _member(body, "signer")
        signature = Signature(
            idempotency_key=key,
            document_id=request.match_info["documentId"],
            signer_name=_text(signer, "name"),
            signer_id_number=_text(signer, "idNumber"),
            identity_level=_choice(body, "assuranceLevel", ASSURANCE_LEVELS),
            signed_at=_moment(body, "signedAt"),
            method=_choice(body, "method", SIGN_METHODS),
        )
        try:
            receipt = self.state.sign(signature)
        except Missing:
            raise _not_found(f"no document {signature.document_id}") from None
        except Refused as e:
            raise Problem(403, "signature-refused", "Signature refused", str(e)) from None
        return _json_response({"documentId": receipt.document_id, "signedAt": _time(receipt.signed_at)})

    async def changes(self, request: web.Request) -> web.Response:
        """Events after ``since`` (an event id), oldest first; ``nextSince`` is where to resume."""
        self.state.count("changes")
        since = request.query.get("since", "").strip()
        if since and not since.isdigit():
            raise _bad_request("since must be an event id")
        limit = _limit(request, default=MAX_PAGE_SIZE)
        events = self.state.events_after(since or None)
        page = events[:limit]
        next_since = page[-1].event_id if page else (since or "0")
        return _json_response(
            {"events": [event_json(e) for e in page], "nextSince": next_since, "hasMore": len(events) > limit}
        )


def _attachments(value: object) -> tuple[Attachment, ...]:
    if not isinstance(value, list) or not value:
        raise _bad_request("attachments must be a non-empty array")
    attachments = []
    for item in value:
        if not isinstance(item, dict):
            raise _bad_request("each attachment must be an object")
        encoded = item.get("contentBase64")
        if not isinstance(encoded, str):
            raise _bad_request("contentBase64 is required")
        try:
            content = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise _bad_request("contentBase64 is not valid base64") from None
        attachments.append(Attachment(_text(item, "fileName"), _text(item, "mediaType"), content))
    return tuple(attachments)


# -- the API description ----------------------------------------------------------------------------

STRING: dict[str, Any] = {"type": "string"}
DATE: dict[str, Any] = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """A closed object, every field present (null where there is no value): no undocumented fields."""
    return {"type": "object", "additionalProperties": False, "required": list(properties), "properties": properties}


def _enum(words: Mapping[Any, str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(words.values())}


def _array(items: dict[str, Any], **limits: int) -> dict[str, Any]:
    return {"type": "array", "items": items, **limits}


def _schemas() -> dict[str, Any]:
    return {
        "DateTime": {
            "type": "string",
            "format": "date-time",
            "description": "ISO-8601, always +08:00",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00$",
        },
        "Problem": {
            "type": "object",
            "description": "RFC 7807 problem details",
            "required": ["type", "title", "status"],
            "properties": {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer"},
                "detail": STRING,
                "instance": STRING,
                "error": {"type": "string", "description": "RFC 6749 error code (token endpoint)"},
            },
        },
        "Token": _object(
            {"access_token": STRING, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer", "minimum": 1}}
        ),
        "Party": _object(
            {
                "name": STRING,
                "idNumber": STRING,
                "role": _enum(PARTY_ROLES),
                "partyType": _enum(PARTY_TYPES),
                "phone": _nullable(STRING),
            }
        ),
        "Agent": _object(
            {
                "name": STRING,
                "licenceNumber": STRING,
                "lawFirm": STRING,
                "clientIdNumber": {"type": "string", "description": "the party they act for"},
                "phone": _nullable(STRING),
            }
        ),
        "PanelMember": {
            **_object(
                {
                    "staffId": STRING,
                    "name": STRING,
                    "role": _enum(STAFF_ROLES),
                    "division": STRING,
                    "phone": _nullable(STRING),
                }
            ),
            "description": "a member of the court's staff: on a case's panel, or in the roster (GET /v2/staff)",
        },
        "StaffList": _object(
            {
                "staff": _array(_ref("PanelMember"), maxItems=MAX_PAGE_SIZE),
                "nextCursor": _nullable(STRING),
                "totalSize": {"type": "integer", "minimum": 0},
            }
        ),
        "AgentReceipt": _object({"caseId": STRING, "licenceNumber": STRING, "recordedAt": _ref("DateTime")}),
        "Hearing": _object(
            {
                "id": STRING,
                "startsAt": _ref("DateTime"),
                "courtroom": STRING,
                "type": {"type": "string", "description": "开庭, 询问, 调解, 宣判"},
            }
        ),
        "Case": _object(
            {
                "id": STRING,
                "courtCode": STRING,
                "caseNumber": STRING,
                "caseType": _object(
                    {"code": {"type": "string", "description": "民初, 民终, 执, …"}, "procedure": _enum(PROCEDURES)}
                ),
                "causeOfAction": STRING,
                "status": _enum(STATUSES),
                "filingDate": DATE,
                "closingDate": _nullable(DATE),
                "archivingDate": _nullable(DATE),
                "publicHearing": {"type": "boolean"},
                "division": STRING,
                "parties": _array(_ref("Party")),
                "agents": _array(_ref("Agent")),
                "panel": _array(_ref("PanelMember")),
                "hearings": _array(_ref("Hearing")),
                "relatedCaseNumbers": _array(STRING),
                "lastActivityAt": _nullable(_ref("DateTime")),
            }
        ),
        "CaseList": _object(
            {
                "cases": _array(_ref("Case"), maxItems=MAX_PAGE_SIZE),
                "nextCursor": _nullable(STRING),
                "totalSize": {"type": "integer", "minimum": 0},
            }
        ),
        "CaseBatch": _object({"cases": _array(_ref("Case"), maxItems=MAX_BATCH)}),
        "Document": _object(
            {
                "id": STRING,
                "sourceSystem": {"type": "string", "description": "the court or platform that served it"},
                "issuingCourtCode": STRING,
                "caseNumber": STRING,
                "title": STRING,
                "documentType": STRING,
                "addressee": _object(
                    {
                        "name": STRING,
                        "type": _enum(ADDRESSEE_TYPES),
                        "idNumber": {"type": "string", "description": "ID number or licence number"},
                    }
                ),
                "deliveryChannel": _enum(CHANNELS),
                "servedAt": _ref("DateTime"),
                "addressConfirmed": {"type": "boolean"},
                "signedAt": _nullable(_ref("DateTime")),
                "contentSha256": _nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
            }
        ),
        "DocumentList": _object(
            {
                "documents": _array(_ref("Document"), maxItems=MAX_PAGE_SIZE),
                "nextCursor": _nullable(STRING),
                "totalSize": {"type": "integer", "minimum": 0},
            }
        ),
        "SignRequest": _object(
            {
                "signer": _object({"name": STRING, "idNumber": STRING}),
                "assuranceLevel": _enum(ASSURANCE_LEVELS),
                "signedAt": _ref("DateTime"),
                "method": _enum(SIGN_METHODS),
            }
        ),
        "SignatureReceipt": _object({"documentId": STRING, "signedAt": _ref("DateTime")}),
        "FilingRequest": _object(
            {
                "caseNumber": STRING,
                "category": _enum(FILING_CATEGORIES),
                "title": STRING,
                "submitter": _object(
                    {"name": STRING, "idNumber": {"type": "string", "description": "ID number or licence number"}}
                ),
                "attachments": _array(
                    _object(
                        {
                            "fileName": STRING,
                            "mediaType": STRING,
                            "contentBase64": {"type": "string", "contentEncoding": "base64"},
                        }
                    ),
                    minItems=1,
                ),
            }
        ),
        "FilingReceipt": _object({"receiptNumber": STRING, "receivedAt": _ref("DateTime")}),
        "Volume": _object(
            {
                "id": STRING,
                "type": _enum(VOLUME_TYPES),
                "title": STRING,
                "materials": _array(
                    _object(
                        {
                            "id": STRING,
                            "title": STRING,
                            "pageCount": {"type": "integer", "minimum": 0},
                            "published": {"type": "boolean"},
                            "mediaType": STRING,
                        }
                    )
                ),
            }
        ),
        "VolumeList": _object({"volumes": _array(_ref("Volume"))}),
        "Event": {"oneOf": [_event_schema(kind) for kind in EVENT_TYPES], "discriminator": {"propertyName": "type"}},
        "ChangeList": _object(
            {
                "events": _array(_ref("Event"), maxItems=MAX_PAGE_SIZE),
                "nextSince": STRING,
                "hasMore": {"type": "boolean"},
            }
        ),
    }


def _event_schema(kind: ChangeKind) -> dict[str, Any]:
    data = {wire: STRING for wire in EVENT_DATA[kind]}
    return _object(
        {
            "id": STRING,
            "type": {"const": EVENT_TYPES[kind]},
            "occurredAt": _ref("DateTime"),
            "case": _object({"id": STRING, "caseNumber": STRING, "courtCode": STRING}),
            "data": _object(data),
        }
    )


def _parameter(
    name: str, where: str, description: str, schema: dict[str, Any] | None = None, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema or STRING,
    }


CURSOR = _parameter("cursor", "query", "nextCursor of the previous page; only valid for the same filter")
LIMIT = _parameter(
    "limit",
    "query",
    f"page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
)
CASE_ID = _parameter("caseId", "path", "the court's case id")
IDEMPOTENCY_KEY = _parameter("Idempotency-Key", "header", "the same key repeats the first answer", required=True)


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: Sequence[Any] = (),
    body: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """Every operation can be rate limited or unavailable, and protected ones answer 401 without a token."""
    statuses = dict(responses)
    if not public:
        statuses["401"] = {
            **_problem("missing, invalid or expired token"),
            "headers": {"WWW-Authenticate": {"schema": STRING}},
        }
    statuses["429"] = {
        **_problem("rate limited"),
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "string", "pattern": r"^\d+$"}}
        },
    }
    statuses["503"] = _problem("the case system is unavailable")
    statuses["default"] = _problem("any other error")
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": statuses}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    if public:
        operation["security"] = []
    return operation


def _paths() -> dict[str, Any]:
    no_cases = "unknown case (the national platform has no cases at all)"
    return {
        "/oauth/token": {
            "post": _operation(
                "issueToken",
                "OAuth2 client credentials; client_id/client_secret in the form or as HTTP Basic",
                {
                    "200": _ok("Token"),
                    "400": _problem("unsupported grant type"),
                    "401": {**_problem("invalid_client"), "headers": {"WWW-Authenticate": {"schema": STRING}}},
                },
                body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {
                                    "grant_type": {"const": "client_credentials"},
                                    "client_id": STRING,
                                    "client_secret": STRING,
                                },
                            }
                        }
                    },
                },
                public=True,
            )
        },
        "/openapi.json": {
            "get": _operation(
                "getOpenApi",
                "This document",
                {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "paths"]}}},
                    }
                },
                public=True,
            )
        },
        "/v2/cases": {
            "get": _operation(
                "listCases",
                "A person's cases or a staff view of the court's cases, newest filing first, or one case by "
                "number; exactly one filter",
                {
                    "200": _ok("CaseList"),
                    "400": _problem("no or several filters, an unknown scope, bad limit or cursor"),
                    "404": _problem(no_cases),
                },
                parameters=[
                    _parameter("partyIdNumber", "query", "cases where this ID number is a party"),
                    _parameter("agentLicenceNumber", "query", "cases where this lawyer is an agent"),
                    _parameter("caseNumber", "query", "the case with this case number (0 or 1 result)"),
                    _parameter("panelMemberStaffId", "query", "cases whose panel includes this staff member"),
                    _parameter("division", "query", "the cases of this division (民一庭, 执行局, …)"),
                    _parameter("scope", "query", "every case of the court", {"type": "string", "enum": [WHOLE_COURT]}),
                    CURSOR,
                    LIMIT,
                ],
            )
        },
        "/v2/cases:batchGet": {
            "get": _operation(
                "batchGetCases",
                f"Up to {MAX_BATCH} cases by id, in the order asked; unknown ids are left out",
                {
                    "200": _ok("CaseBatch"),
                    "400": _problem(f"no ids, or more than {MAX_BATCH}"),
                    "404": _problem(no_cases),
                },
                parameters=[
                    {
                        **_parameter(
                            "ids",
                            "query",
                            "comma-separated case ids",
                            _array(STRING, minItems=1, maxItems=MAX_BATCH),
                            required=True,
                        ),
                        "style": "form",
                        "explode": False,
                    }
                ],
            )
        },
        "/v2/cases/{caseId}/volumes": {
            "get": _operation(
                "listVolumes",
                "The case file: PRIMARY (正卷) and SECONDARY (副卷) volumes, without content",
                {"200": _ok("VolumeList"), "404": _problem(no_cases)},
                parameters=[CASE_ID],
            )
        },
        "/v2/cases/{caseId}/materials/{materialId}/content": {
            "get": _operation(
                "readMaterial",
                "One material's PDF",
                {
                    "200": {
                        "description": "the PDF",
                        "content": {
                            "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}
                        },
                    },
                    "404": _problem("unknown case or material"),
                },
                parameters=[CASE_ID, _parameter("materialId", "path", "the material's id")],
            )
        },
        "/v2/cases/{caseId}/filings": {
            "post": _operation(
                "submitFiling",
                "Submit materials; attachments travel base64-encoded inside the JSON body",
                {
                    "201": _ok("FilingReceipt", "received"),
                    "200": _ok("FilingReceipt", "the same Idempotency-Key and content again: the first receipt"),
                    "400": _problem("invalid body or missing Idempotency-Key"),
                    "404": _problem(no_cases),
                    "409": _problem("the Idempotency-Key was used for different content"),
                },
                parameters=[CASE_ID, IDEMPOTENCY_KEY],
                body={"required": True, "content": {JSON: {"schema": _ref("FilingRequest")}}},
            )
        },
        "/v2/cases/{caseId}/agents": {
            "post": _operation(
                "addAgent",
                "Enter a lawyer on the case for one of its parties (案件绑定), as the court's clerk would; the case "
                "then lists under agentLicenceNumber and the feed reports agent.added",
                {
                    "201": _ok("AgentReceipt", "entered"),
                    "200": _ok("AgentReceipt", "the same Idempotency-Key and lawyer again: the first receipt"),
                    "400": _problem("invalid body or missing Idempotency-Key"),
                    "404": _problem(no_cases),
                    "409": _problem("the Idempotency-Key was used for a different lawyer entry"),
                    "422": _problem("the client is not a party, or the lawyer already acts for them"),
                },
                parameters=[CASE_ID, IDEMPOTENCY_KEY],
                body={"required": True, "content": {JSON: {"schema": _ref("Agent")}}},
            )
        },
        "/v2/staff": {
            "get": _operation(
                "listStaff",
                "The court's staff roster (judges, clerks, division chiefs, court leadership, archivists, lay "
                "assessors), in the court's own order",
                {
                    "200": _ok("StaffList"),
                    "400": _problem("bad limit or cursor"),
                    "404": _problem("the national platform has no staff"),
                },
                parameters=[CURSOR, LIMIT],
            )
        },
        "/v2/documents": {
            "get": _operation(
                "listDocuments",
                "Documents served to a party or a lawyer, oldest first; exactly one filter",
                {"200": _ok("DocumentList"), "400": _problem("no or several filters, bad limit or cursor")},
                parameters=[
                    _parameter("addresseeIdNumber", "query", "documents served to this party"),
                    _parameter("addresseeLicenceNumber", "query", "documents served to this lawyer"),
                    CURSOR,
                    LIMIT,
                ],
            )
        },
        "/v2/documents/{documentId}:sign": {
            "post": _operation(
                "signDocument",
                "Sign for a served document; signing again keeps the first signature",
                {
                    "200": _ok("SignatureReceipt"),
                    "400": _problem("invalid body or missing Idempotency-Key"),
                    "403": _problem("the document was not served to the signer"),
                    "404": _problem("unknown document"),
                },
                parameters=[_parameter("documentId", "path", "the document's id"), IDEMPOTENCY_KEY],
                body={"required": True, "content": {JSON: {"schema": _ref("SignRequest")}}},
            )
        },
        "/v2/changes": {
            "get": _operation(
                "listChanges",
                "Events after an event id, oldest first",
                {"200": _ok("ChangeList"), "400": _problem("since is not an event id, or bad limit")},
                parameters=[
                    _parameter("since", "query", "the nextSince of the previous call; omit for the start"),
                    {**LIMIT, "description": f"page size, 1 to {MAX_PAGE_SIZE} (default {MAX_PAGE_SIZE})"},
                ],
            )
        },
    }


def openapi_document(server_url: str, config: CourtConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this simulator, for the address it was asked at."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{config.name} case API",
            "version": "2.0.0",
            "description": "JSON/UTF-8; times ISO-8601 with +08:00; errors are RFC 7807 problems.",
        },
        "servers": [{"url": server_url}],
        "security": [{"oauth2": []}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "Bearer tokens live 600 s",
                    "flows": {"clientCredentials": {"tokenUrl": f"{server_url}/oauth/token", "scopes": {}}},
                }
            },
        },
    }
