"""The soap-gbk family (荔湾, 海珠, 白云, 番禺): SOAP 1.1 rpc/literal in GBK behind a session login.

Everything peculiar to this family ends in this module: the envelope and its GBK encoding, the
``SOAPAction`` header, the session id every call carries (renewed once when the court says it
expired), pinyin-initial names, local times without a zone, ``yyyyMMdd`` dates, numeric status codes,
Chinese role words, 是/否 and 1/0 flags, and Faults that all arrive as HTTP 500 and differ only in
their faultstring. There is no batch get, so ``get_cases`` runs bounded parallel ``GetAjxx`` calls;
a page of a person's cases (``QueryAjList``) or of a staff view of the court (``QueryFyAjList``) is one
call whose rows are full case records. The roster (``QueryRyList``) comes 20 rows a page: the first
page says how many there are, the rest are asked for together. ``TjDlr`` enters a lawyer, idempotent
by its 业务流水号 ``ywlsh``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import TypeVar

from lxml import etree

from adapters.basic_courts.terms import PARTY_ROLES, STAFF_ROLES
from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtError,
    CourtRateLimited,
    CourtRejected,
    CourtUnavailable,
    NotFoundAtCourt,
)
from gateway.adapters.http_base import HttpCourtAdapter, gather_or_cancel
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
    PersonRef,
    ServedDocument,
    ServiceChannel,
    Signature,
    SignatureReceipt,
    Staff,
    VolumeKind,
)
from gateway.casenumber import TYPE_CODES
from gateway.config import CourtConfig

T = TypeVar("T")
Part = str | etree._Element

_PATH = "/services/AjService"
_NS = "http://ws.court.gd.cn/aj"
_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
_DECLARATION = b'<?xml version="1.0" encoding="GBK"?>\n'
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_TIME = "%Y-%m-%d %H:%M:%S"
_FEED_START = "1970-01-01 00:00:00"

# the court's codes and words → the canonical model
_STATUS = {"1": CaseStatus.FILED, "2": CaseStatus.IN_TRIAL, "3": CaseStatus.CLOSED, "4": CaseStatus.ARCHIVED}
_PARTY_KINDS = {"1": PartyKind.PERSON, "2": PartyKind.ORGANISATION}
_CHANNELS = {
    "1": ServiceChannel.COURT_PLATFORM,
    "2": ServiceChannel.NATIONAL_PLATFORM,
    "3": ServiceChannel.SMS,
    "4": ServiceChannel.EMAIL,
}
_ADDRESSEES = {"1": IdentityKind.ID_NUMBER, "2": IdentityKind.LICENCE_NUMBER}
_VOLUME_KINDS = {"1": VolumeKind.MAIN, "2": VolumeKind.INTERNAL}
_CHANGE_KINDS = {
    "材料已处理": ChangeKind.FILING_HANDLED,
    "文书送达": ChangeKind.DOCUMENT_SERVED,
    "排期开庭": ChangeKind.HEARING_SCHEDULED,
    "结案": ChangeKind.CASE_CLOSED,
    "归档": ChangeKind.CASE_ARCHIVED,
    "新增代理人": ChangeKind.AGENT_ADDED,
}
_FLAGS = {"是": True, "1": True, "否": False, "0": False}
# … and the canonical model → the court's codes, for what we send
_FILING_KINDS = {
    FilingKind.DEFENCE_STATEMENT: "答辩状",
    FilingKind.AGENT_OPINION: "代理词",
    FilingKind.EVIDENCE: "补充证据材料",
    FilingKind.APPLICATION: "申请书",
}
_IDENTITY_LEVELS = {"PHONE": "1", "REAL_NAME": "2", "FACE": "3"}
_SIGN_METHODS = {"ONLINE_CONFIRMATION": "1", "E_SEAL": "2"}


class _SessionExpired(CourtAuthFailed):
    """The court forgot our session; ``_call`` logs in again once. Never leaves this module."""


#: faultstring prefix → error; everything is HTTP 500, so these words are all there is to go by
_FAULTS: tuple[tuple[str, type[CourtError]], ...] = (
    ("会话已过期", _SessionExpired),
    ("用户名或密码错误", CourtAuthFailed),
    ("系统繁忙", CourtRateLimited),  # overload: back off and retry; the court gives no Retry-After
    ("未找到", NotFoundAtCourt),
    ("系统异常", CourtUnavailable),
)


class _Malformed(ValueError):
    """The answer is not what the WSDL says it would be."""


# -- the wire -------------------------------------------------------------------------------------------


def _envelope(operation: str, parts: dict[str, Part]) -> bytes:
    """One rpc/literal request, parts in WSDL order, encoded GBK (rare characters as references)."""
    envelope = etree.Element(f"{{{_SOAP}}}Envelope", nsmap={"soapenv": _SOAP, "aj": _NS})
    call = etree.SubElement(etree.SubElement(envelope, f"{{{_SOAP}}}Body"), f"{{{_NS}}}{operation}")
    for name, value in parts.items():
        if isinstance(value, str):
            etree.SubElement(call, name).text = value
        else:
            call.append(value)
    encoded = etree.tostring(envelope, encoding="GBK", xml_declaration=False)
    assert isinstance(encoded, bytes)
    return _DECLARATION + encoded


def _answer(court_code: str, operation: str, status: int, raw: bytes) -> etree._Element:
    """The ``<OperationResponse>`` element, or the typed error a Fault (or garbage) stands for."""
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError:
        raise CourtUnavailable(court_code, f"{operation}: HTTP {status}, not a SOAP answer") from None
    body = root.find(f"{{{_SOAP}}}Body")
    fault = body.find(f"{{{_SOAP}}}Fault") if body is not None else None
    if fault is not None:
        faultstring = fault.findtext("faultstring") or ""
        for prefix, error in _FAULTS:
            if faultstring.startswith(prefix):
                raise error(court_code, faultstring)
        server_side = (fault.findtext("faultcode") or "").endswith("Server")
        raise (CourtUnavailable if server_side else CourtRejected)(court_code, faultstring)
    response = body.find(f"{{{_NS}}}{operation}Response") if body is not None else None
    if status != 200 or response is None:
        raise CourtUnavailable(court_code, f"{operation}: HTTP {status}, no {operation}Response")
    return response


def _items(tag: str, item: str, rows: Sequence[dict[str, str]]) -> etree._Element:
    """A list part such as ``<fjList><fj>…</fj></fjList>``."""
    element = etree.Element(tag)
    for row in rows:
        entry = etree.SubElement(element, item)
        for name, value in row.items():
            etree.SubElement(entry, name).text = value
    return element


def _wire_time(value: datetime) -> str:
    """Local time, no zone; a fraction only when there is one (the court keeps what it is sent)."""
    local = value.astimezone(CHINA_TZ)
    text = local.strftime(_TIME)
    return f"{text}.{local.microsecond:06d}".rstrip("0") if local.microsecond else text


def _who(who: PersonRef) -> dict[str, Part]:
    number = who.number
    return {"zjhm": number, "zyzh": ""} if who.kind == IdentityKind.ID_NUMBER else {"zjhm": "", "zyzh": number}


def _scope(scope: CaseScope) -> dict[str, Part]:
    """承办人编号 or 部门 (a panel member wins over a division); both empty asks for the whole court."""
    if scope.staff_id:
        return {"cbrbh": scope.staff_id, "bm": ""}
    return {"cbrbh": "", "bm": scope.division or ""}


# -- reading answers ------------------------------------------------------------------------------------


class _Record:
    """One row element's child values by tag, read once: lxml's ``findtext`` walks the children in Python
    on every call, and a case record is read field by field (about 60 lookups a case). Same answers as
    ``findtext`` on a direct child: the first child of that tag, ``""`` for an empty one, None for none."""

    __slots__ = ("_values", "element", "tag")

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.tag = element.tag
        values: dict[str, str] = {}
        for child in element:
            tag = child.tag
            if isinstance(tag, str) and tag not in values:
                values[tag] = child.text or ""
        self._values = values

    def findtext(self, name: str) -> str | None:
        return self._values.get(name)


Row = etree._Element | _Record


def _text(element: Row, name: str) -> str:
    value = element.findtext(name)
    if value is None:
        raise _Malformed(f"<{element.tag}> has no <{name}>")
    return value


def _optional(element: Row, name: str) -> str | None:
    """A value the court leaves out when there is none (an empty element is an empty string)."""
    return element.findtext(name)


def _code(table: dict[str, T], element: Row, name: str) -> T:
    value = _text(element, name)
    if value not in table:
        raise _Malformed(f"unknown <{name}> {value!r}")
    return table[value]


def _date(element: Row, name: str) -> date | None:
    value = element.findtext(name)
    if not value:
        return None
    if len(value) == 8 and value.isdigit():  # the court's only form; strptime costs ~20x more
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    raise ValueError(f"<{name}> {value!r} is not a date")


def _time(element: Row, name: str) -> datetime | None:
    value = element.findtext(name)
    if not value:
        return None
    if len(value) == 19 and value[10] == " ":  # the usual form, without a fraction: 10x faster than strptime
        return datetime.fromisoformat(value).replace(tzinfo=CHINA_TZ)
    return datetime.strptime(value, f"{_TIME}.%f" if "." in value else _TIME).replace(tzinfo=CHINA_TZ)


def _required_time(element: Row, name: str) -> datetime:
    value = _time(element, name)
    if value is None:
        raise _Malformed(f"<{element.tag}> has no <{name}>")
    return value


def _children(element: Row, path: str) -> list[_Record]:
    """The row elements at ``path``, each read once into a ``_Record``."""
    if isinstance(element, _Record):
        element = element.element
    return [_Record(child) for child in element.iterfind(path) if isinstance(child.tag, str)]


def _case(response: etree._Element) -> Case:
    """The ``<ajxx>`` of GetAjxx or QueryAjByAh."""
    aj = response.find("ajxx")
    if aj is None:
        raise _Malformed("no <ajxx>")
    return _case_record(_Record(aj))


def _case_page(response: etree._Element) -> tuple[int, list[Case]]:
    """QueryAjList, QueryFyAjList: the total count ``zs`` and one page of full records."""
    return int(_text(response, "zs")), [_case_record(aj) for aj in _children(response, "ajList/aj")]


def _case_record(aj: _Record) -> Case:
    type_code = _text(aj, "lxdz")
    filed_on = _date(aj, "larq")
    if filed_on is None or type_code not in TYPE_CODES:
        raise _Malformed(f"case {aj.findtext('ajbh')}: bad <larq> or <lxdz>")
    return Case(
        case_id=_text(aj, "ajbh"),
        court_code=_text(aj, "fydz"),
        case_number=_text(aj, "ah"),
        type_code=type_code,
        procedure=TYPE_CODES[type_code],
        cause=_text(aj, "ay"),
        status=_code(_STATUS, aj, "ajzt"),
        filed_on=filed_on,
        closed_on=_date(aj, "jarq"),
        archived_on=_date(aj, "gdrq"),
        public_hearing=_code(_FLAGS, aj, "sfgksl"),
        division=_text(aj, "cbbm"),
        parties=tuple(
            Party(
                _text(p, "xm"),
                _text(p, "zjhm"),
                _code(PARTY_ROLES, p, "ssdw"),
                _code(_PARTY_KINDS, p, "dsrlx"),
                _optional(p, "lxdh"),
            )
            for p in _children(aj, "dsrList/dsr")
        ),
        agents=tuple(
            Agent(_text(a, "xm"), _text(a, "zyzh"), _text(a, "lsswsmc"), _text(a, "wtrzjhm"), _optional(a, "lxdh"))
            for a in _children(aj, "dlrList/dlr")
        ),
        panel=tuple(
            Staff(_text(s, "rybh"), _text(s, "xm"), _code(STAFF_ROLES, s, "js"), _text(s, "bm"), _optional(s, "lxdh"))
            for s in _children(aj, "spzz/cy")
        ),
        hearings=tuple(
            Hearing(_text(h, "ktbh"), _required_time(h, "ktsj"), _text(h, "ftmc"), _text(h, "ktlx"))
            for h in _children(aj, "ktList/kt")
        ),
        related_case_numbers=tuple(g.element.text or "" for g in _children(aj, "glajList/glah")),
        last_activity_at=_time(aj, "zhhdsj"),
    )


def _documents(source_code: str, response: etree._Element) -> list[ServedDocument]:
    return [
        ServedDocument(
            document_id=_text(ws, "wsbh"),
            source_code=source_code,
            court_code=_text(ws, "fydz"),
            case_number=_text(ws, "ah"),
            title=_text(ws, "wsmc"),
            doc_type=_text(ws, "wslx"),
            addressee_name=_text(ws, "sjrxm"),
            addressee=PersonRef(_code(_ADDRESSEES, ws, "sjrlx"), _text(ws, "sjrzjhm")),
            channel=_code(_CHANNELS, ws, "sdfs"),
            served_at=_required_time(ws, "sdsj"),
            address_confirmed=_code(_FLAGS, ws, "dzqr"),
            signed_at=_time(ws, "qssj"),
            fingerprint=_text(ws, "wszy"),
        )
        for ws in _children(response, "wsList/ws")
    ]


def _volumes(response: etree._Element) -> list[CaseFileVolume]:
    return [
        CaseFileVolume(
            _text(jz, "jzbh"),
            _code(_VOLUME_KINDS, jz, "jzlx"),
            _text(jz, "jzmc"),
            tuple(
                Material(
                    _text(cl, "clbh"),
                    _text(cl, "clmc"),
                    int(_text(cl, "ys")),
                    _code(_FLAGS, cl, "sfgk"),
                    _text(cl, "wjlx"),
                )
                for cl in _children(jz, "clList/cl")
            ),
        )
        for jz in _children(response, "jzList/jz")
    ]


def _material(response: etree._Element) -> MaterialContent:
    # the court wraps base64 at 76 columns; b64decode skips the line breaks
    content = base64.b64decode(_text(response, "wjnr"))
    return MaterialContent(_text(response, "clbh"), _text(response, "wjlx"), content)


def _events(response: etree._Element) -> tuple[int, list[ChangeEvent]]:
    events = [
        ChangeEvent(
            event_id=_text(bg, "bgbh"),
            kind=_code(_CHANGE_KINDS, bg, "bglx"),
            court_code=_text(bg, "fydz"),
            case_id=_text(bg, "ajbh"),
            case_number=_text(bg, "ah"),
            occurred_at=_required_time(bg, "bgsj"),
            filing_receipt_number=_optional(bg, "hzh"),
            result=_optional(bg, "cljg"),
            document_id=_optional(bg, "wsbh"),
            hearing_id=_optional(bg, "ktbh"),
            licence_number=_optional(bg, "zyzh"),
        )
        for bg in _children(response, "bgList/bg")
    ]
    return int(_text(response, "zs")), events


def _filing_receipt(response: etree._Element) -> FilingReceipt:
    return FilingReceipt(_text(response, "hzh"), _required_time(response, "jssj"))


def _staff_page(response: etree._Element) -> tuple[int, list[Staff]]:
    """QueryRyList: the roster's size ``zs`` and one page of 人员 rows."""
    staff = [
        Staff(_text(r, "rybh"), _text(r, "xm"), _code(STAFF_ROLES, r, "js"), _text(r, "bm"), _optional(r, "sjhm"))
        for r in _children(response, "ryList/ry")
    ]
    return int(_text(response, "zs")), staff


def _agent_receipt(response: etree._Element) -> AgentReceipt:
    return AgentReceipt(_text(response, "ajbh"), _text(response, "zyzh"), _required_time(response, "djsj"))


def _signature_receipt(response: etree._Element) -> SignatureReceipt:
    return SignatureReceipt(_text(response, "wsbh"), _required_time(response, "qssj"))


# -- the change-feed cursor: the court filters by whole seconds, so remember what that second held ----


def _second(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime(_TIME)


def _read_cursor(cursor: str | None) -> tuple[str, set[str]]:
    if not cursor:
        return _FEED_START, set()
    since, _, seen = cursor.partition("|")
    return since, set(filter(None, seen.split(",")))


def _write_cursor(since: str, seen: set[str]) -> str:
    return f"{since}|{','.join(sorted(seen, key=lambda i: (len(i), i)))}"


# -- the adapter ----------------------------------------------------------------------------------------


class SoapGbkAdapter(HttpCourtAdapter):
    """AjService of one soap-gbk court, as the canonical contract."""

    max_page_size = 20
    supports_agent_writes = True  # TjDlr

    def __init__(self, court: CourtConfig) -> None:
        super().__init__(court)
        self._session_id: str | None = None
        self._login_lock = asyncio.Lock()

    # -- plumbing: one court session, one way to call (the HTTP session is the base's) --------------------

    async def _post(self, operation: str, parts: dict[str, Part]) -> etree._Element:
        headers = {"Content-Type": "text/xml; charset=GBK", "SOAPAction": f'"urn:{operation}"'}
        body = _envelope(operation, parts)
        reply = await self._exchange("POST", _PATH, label=operation, data=body, headers=headers)
        return _answer(self.court.code, operation, reply.status, reply.body)

    async def _login(self) -> str:
        credentials = self.court.credentials
        response = await self._post(
            "Login", {"yhm": credentials.get("username", ""), "mm": credentials.get("password", "")}
        )
        session_id = response.findtext("sessionId")
        if not session_id:
            raise CourtAuthFailed(self.court.code, "Login answered without a sessionId")
        return session_id

    async def _live_session(self, stale: str | None = None) -> str:
        """The live session id, logging in first if there is none or it is ``stale`` (once for all callers)."""
        async with self._login_lock:
            if self._session_id is None or self._session_id == stale:
                self._session_id = None
                self._session_id = await self._login()
            return self._session_id

    async def _call(self, operation: str, parse: Callable[[etree._Element], T], **parts: Part) -> T:
        """Call with the session id, renewing an expired session once; parse the answer or fail typed."""
        session_id = self._session_id or await self._live_session()
        try:
            response = await self._post(operation, {"sessionId": session_id, **parts})
        except _SessionExpired:
            session_id = await self._live_session(stale=session_id)
            try:
                response = await self._post(operation, {"sessionId": session_id, **parts})
            except _SessionExpired as e:
                raise CourtAuthFailed(self.court.code, f"session refused right after login: {e.message}") from None
        try:
            return parse(response)
        except ValueError as e:  # _Malformed, and dates, numbers or base64 the court got wrong
            raise CourtUnavailable(self.court.code, f"{operation}: malformed answer: {e}") from None

    # -- reads ----------------------------------------------------------------------------------------

    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._paged_cases("QueryAjList", _who(who), position, limit)

    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._paged_cases("QueryFyAjList", _scope(scope), position, limit)

    async def _paged_cases(
        self, operation: str, filters: dict[str, Part], position: str | None, limit: int
    ) -> CasePage:
        """One page of a paged case query; ``position`` is the next page number (the caller keeps ``limit``)."""
        size = max(1, min(limit, self.max_page_size))
        if position is not None and not position.isdigit():
            raise CourtRejected(self.court.code, f"not a position of this court: {position!r}")
        page = int(position or 1)
        total, cases = await self._call(operation, _case_page, **filters, pageNo=str(page), pageSize=str(size))
        return CasePage(tuple(cases), str(page + 1) if page * size < total else None, total)

    async def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        """One GetAjxx per case (the family has no batch get), at most ``concurrency`` at a time."""
        return await self._each_found(case_ids, lambda case_id: self._call("GetAjxx", _case, ajbh=case_id))

    async def find_case(self, case_number: str) -> Case | None:
        try:
            return await self._call("QueryAjByAh", _case, ah=case_number)
        except NotFoundAtCourt:
            return None

    async def list_documents(self, who: PersonRef) -> list[ServedDocument]:
        return await self._call("QueryWsList", partial(_documents, self.court.code), **_who(who))

    async def list_volumes(self, case_id: str) -> list[CaseFileVolume]:
        return await self._call("QueryJz", _volumes, ajbh=case_id)

    async def read_material(self, case_id: str, material_id: str) -> MaterialContent:
        return await self._call("GetJzcl", _material, ajbh=case_id, clbh=material_id)

    async def list_staff(self) -> list[Staff]:
        """QueryRyList page 1, which gives the total, then every further page at once (20 rows a page)."""
        size = self.max_page_size

        async def page(number: int) -> tuple[int, list[Staff]]:
            return await self._call("QueryRyList", _staff_page, pageNo=str(number), pageSize=str(size))

        total, staff = await page(1)
        rest = await gather_or_cancel(page(n) for n in range(2, -(-total // size) + 1))
        return staff + [member for _, rows in rest for member in rows]

    async def changes(self, cursor: str | None) -> ChangePage:
        """QueryBgList filters by whole seconds (at or after ``kssj``), so the cursor carries that second
        and the ids already seen in it: nothing at the boundary is lost or reported twice."""
        since, seen = _read_cursor(cursor)
        events: list[ChangeEvent] = []
        page = 1
        while True:
            total, rows = await self._call(
                "QueryBgList", _events, kssj=since, pageNo=str(page), pageSize=str(self.max_page_size)
            )
            events += rows
            if not rows or page * self.max_page_size >= total:
                break
            page += 1
        fresh = tuple(e for e in events if e.event_id not in seen)
        if not events:
            return ChangePage((), _write_cursor(since, seen))
        last = max(_second(e.occurred_at) for e in events)
        return ChangePage(fresh, _write_cursor(last, {e.event_id for e in events if _second(e.occurred_at) == last}))

    # -- writes ---------------------------------------------------------------------------------------

    async def submit_filing(self, filing: Filing) -> FilingReceipt:
        attachments = _items(
            "fjList",
            "fj",
            [
                {"wjm": a.filename, "wjlx": a.content_type, "wjnr": base64.b64encode(a.content).decode("ascii")}
                for a in filing.attachments
            ],
        )
        return await self._call(
            "TjCl",
            _filing_receipt,
            ajbh=filing.case_id,
            ah=filing.case_number,
            cllx=_FILING_KINDS[filing.kind],
            clmc=filing.title,
            tjrxm=filing.filer_name,
            tjrzjhm=filing.filer_id_number,
            fjList=attachments,
            ywlsh=filing.idempotency_key,
        )

    async def sign_document(self, signature: Signature) -> SignatureReceipt:
        return await self._call(
            "QdWs",
            _signature_receipt,
            wsbh=signature.document_id,
            qsrxm=signature.signer_name,
            qsrzjhm=signature.signer_id_number,
            rzdj=_IDENTITY_LEVELS.get(signature.identity_level, signature.identity_level),
            qsfs=_SIGN_METHODS.get(signature.method, signature.method),
            qssj=_wire_time(signature.signed_at),
            lsh=signature.idempotency_key,
        )

    async def add_agent(self, case_id: str, agent: Agent, *, idempotency_key: str) -> AgentReceipt:
        """TjDlr; the 业务流水号 ``ywlsh`` carries the key, so a repeat returns the first 登记时间."""
        return await self._call(
            "TjDlr",
            _agent_receipt,
            ajbh=case_id,
            xm=agent.name,
            zyzh=agent.licence_number,
            lsswsmc=agent.firm,
            wtrzjhm=agent.client_id_number,
            lxdh=agent.phone or "",
            ywlsh=idempotency_key,
        )
