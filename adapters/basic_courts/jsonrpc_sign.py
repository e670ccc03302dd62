"""The jsonrpc-sign family (越秀, 天河, 黄埔, 花都, 增城): signed form POSTs to ``/gateway.do``.

Everything peculiar to this family ends in this module: the form fields ``method``, ``appKey``,
``timestamp`` (Beijing local ``yyyy-MM-dd HH:mm:ss``), ``data`` (a JSON string) and ``sign`` (upper-case
MD5 of ``secret + "appKey=…&data=…&method=…&timestamp=…" + secret``); HTTP 200 for everything, with the
outcome in an E-code; pinyin field names; epoch-millisecond dates and times; the court's status,
channel and volume codes. Pages are ``pageNo``/``pageSize`` (at most 50), so a position of
``list_cases`` (``court.case.list``) or ``list_court_cases`` (``court.case.listByStaff``) is the next
page number; the batch get takes 100 ``ajbh`` at a time. The roster (``ry.list``) is read
50 rows a page; ``aj.dlr.add`` enters a lawyer, idempotent by its 业务流水号 ``ywlsh``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict, TypeVar

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

_PATH = "/gateway.do"
_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
_MAX_BATCH = 100
_FEED_PAGE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).astimezone(CHINA_TZ)  # the Unix epoch, in Beijing time

#: E-code → typed error; the court answers HTTP 200 whatever happened, so the code is all there is
_ERRORS: dict[str, type[CourtError]] = {
    "E1001": CourtAuthFailed,  # 签名错误: a wrong app secret
    "E1002": CourtAuthFailed,  # 时间戳无效: our clock and the court's disagree by more than 5 minutes
    "E1003": CourtAuthFailed,  # 应用不存在: a wrong app key
    "E2001": CourtRejected,  # 参数错误
    "E4040": NotFoundAtCourt,
    "E4090": CourtRejected,  # 业务流水号重复 with other content
    "E4290": CourtRateLimited,  # 请求过于频繁; no retry-after is given
    "E9999": CourtUnavailable,  # 系统异常
}

# the court's codes and words → the canonical model
_STATUS = {"10": CaseStatus.FILED, "20": CaseStatus.IN_TRIAL, "30": CaseStatus.CLOSED, "40": CaseStatus.ARCHIVED}
_PARTY_KINDS = {"自然人": PartyKind.PERSON, "法人": PartyKind.ORGANISATION, "非法人组织": PartyKind.ORGANISATION}
_CHANNELS = {
    "1": ServiceChannel.COURT_PLATFORM,
    "2": ServiceChannel.NATIONAL_PLATFORM,
    "3": ServiceChannel.SMS,
    "4": ServiceChannel.EMAIL,
}
_ADDRESSEES = {"1": IdentityKind.ID_NUMBER, "2": IdentityKind.LICENCE_NUMBER}
_VOLUME_KINDS = {"Z": VolumeKind.MAIN, "F": VolumeKind.INTERNAL}
_EVENT_KINDS = {
    "CLCL": ChangeKind.FILING_HANDLED,
    "WSSD": ChangeKind.DOCUMENT_SERVED,
    "PQKT": ChangeKind.HEARING_SCHEDULED,
    "JA": ChangeKind.CASE_CLOSED,
    "GD": ChangeKind.CASE_ARCHIVED,
    "XZDLR": ChangeKind.AGENT_ADDED,
}
_FLAGS = {1: True, 0: False}
# … and the canonical model → the court's codes, for what we send
_FILING_KINDS = {
    FilingKind.DEFENCE_STATEMENT: "01",
    FilingKind.AGENT_OPINION: "02",
    FilingKind.EVIDENCE: "03",
    FilingKind.APPLICATION: "04",
}
_IDENTITY_LEVELS = {"PHONE": "1", "REAL_NAME": "2", "FACE": "3"}
_SIGN_METHODS = {"ONLINE_CONFIRMATION": "1", "E_SEAL": "2"}


# -- wire shapes (what ``data`` holds in the court's answers) -------------------------------------------


class _Envelope(TypedDict):
    code: str
    msg: str
    data: Any


class _PartyWire(TypedDict):
    xm: str
    zjhm: str
    ssdw: str
    dsrlx: str
    lxdh: str | None


class _AgentWire(TypedDict):
    xm: str
    zyzh: str
    lsswsmc: str
    wtrzjhm: str
    lxdh: str | None


class _StaffWire(TypedDict):
    rybh: str
    xm: str
    js: str
    bm: str
    lxdh: str | None


class _RosterWire(TypedDict):
    rybh: str
    xm: str
    js: str
    bm: str
    sjhm: str | None


class _HearingWire(TypedDict):
    ktbh: str
    ktsj: int
    ftmc: str
    ktlx: str


class _CaseWire(TypedDict):
    ajbh: str
    fydm: str
    ah: str
    ajlx: str
    ay: str
    ajzt: str
    larq: int
    jarq: int | None
    gdrq: int | None
    sfgkss: int
    cbbm: str
    zhgxsj: int | None
    dsrList: list[_PartyWire]
    dlrList: list[_AgentWire]
    hytcy: list[_StaffWire]
    ktList: list[_HearingWire]
    glajList: list[dict[str, str]]


class _DocumentWire(TypedDict):
    wsbh: str
    fydm: str
    ah: str
    wsmc: str
    wslx: str
    sjrxm: str
    sjrlx: str
    sjrzjhm: str
    sdfs: str
    sdsj: int
    dzqr: int
    qssj: int | None
    wszy: str


class _MaterialWire(TypedDict):
    clbh: str
    clmc: str
    ys: int
    sfgk: int
    wjlx: str


class _VolumeWire(TypedDict):
    jzbh: str
    jzlx: str
    jzmc: str
    clList: list[_MaterialWire]


class _EventWire(TypedDict):
    sjbh: str
    sjlx: str
    fydm: str
    ajbh: str
    ah: str
    fssj: int
    hzh: str | None
    cljg: str | None
    wsbh: str | None
    ktbh: str | None
    zyzh: str | None


# -- signing and the wire -------------------------------------------------------------------------------


def sign(fields: Mapping[str, str], secret: str) -> str:
    """MD5 over the fields sorted by name as ``k=v`` joined by ``&``, wrapped in the secret, upper-case hex.

    Raw values (before URL encoding), so what we sign is exactly what the court decodes.
    """
    joined = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


def _signed_form(method: str, data: Mapping[str, Any], app_key: str, secret: str, now: datetime) -> dict[str, str]:
    fields = {
        "method": method,
        "appKey": app_key,
        "timestamp": now.astimezone(CHINA_TZ).strftime(_TIMESTAMP),
        "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
    }
    return {**fields, "sign": sign(fields, secret)}


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _time(value: int) -> datetime:
    """Epoch ms as Beijing time; integer arithmetic, so nothing is lost to float rounding."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"not epoch milliseconds: {value!r}")
    return _EPOCH + timedelta(milliseconds=value)


def _optional_time(value: int | None) -> datetime | None:
    return None if value is None else _time(value)


def _date(value: int | None) -> date | None:
    return None if value is None else _time(value).date()


def _code(table: Mapping[Any, T], value: object) -> T:
    if value not in table:
        raise ValueError(f"unknown code {value!r}")
    return table[value]


def _who(who: PersonRef) -> dict[str, str]:
    return {"zjhm": who.number} if who.kind == IdentityKind.ID_NUMBER else {"zyzh": who.number}


def _scope(scope: CaseScope) -> dict[str, str]:
    """人员编号 or 部门 (a panel member wins over a division); neither asks for the whole court."""
    if scope.staff_id:
        return {"rybh": scope.staff_id}
    return {"bm": scope.division} if scope.division else {}


# -- reading answers ------------------------------------------------------------------------------------


def _case(aj: _CaseWire) -> Case:
    filed_on = _date(aj["larq"])
    if filed_on is None:
        raise ValueError(f"case {aj['ajbh']} has no larq")
    return Case(
        case_id=aj["ajbh"],
        court_code=aj["fydm"],
        case_number=aj["ah"],
        type_code=aj["ajlx"],
        procedure=_code(TYPE_CODES, aj["ajlx"]),
        cause=aj["ay"],
        status=_code(_STATUS, aj["ajzt"]),
        filed_on=filed_on,
        closed_on=_date(aj["jarq"]),
        archived_on=_date(aj["gdrq"]),
        public_hearing=_code(_FLAGS, aj["sfgkss"]),
        division=aj["cbbm"],
        parties=tuple(
            Party(p["xm"], p["zjhm"], _code(PARTY_ROLES, p["ssdw"]), _code(_PARTY_KINDS, p["dsrlx"]), p["lxdh"])
            for p in aj["dsrList"]
        ),
        agents=tuple(Agent(a["xm"], a["zyzh"], a["lsswsmc"], a["wtrzjhm"], a["lxdh"]) for a in aj["dlrList"]),
        panel=tuple(Staff(s["rybh"], s["xm"], _code(STAFF_ROLES, s["js"]), s["bm"], s["lxdh"]) for s in aj["hytcy"]),
        hearings=tuple(Hearing(h["ktbh"], _time(h["ktsj"]), h["ftmc"], h["ktlx"]) for h in aj["ktList"]),
        related_case_numbers=tuple(g["ah"] for g in aj["glajList"]),
        last_activity_at=_optional_time(aj["zhgxsj"]),
    )


def _document(source_code: str, ws: _DocumentWire) -> ServedDocument:
    return ServedDocument(
        document_id=ws["wsbh"],
        source_code=source_code,
        court_code=ws["fydm"],
        case_number=ws["ah"],
        title=ws["wsmc"],
        doc_type=ws["wslx"],
        addressee_name=ws["sjrxm"],
        addressee=PersonRef(_code(_ADDRESSEES, ws["sjrlx"]), ws["sjrzjhm"]),
        channel=_code(_CHANNELS, ws["sdfs"]),
        served_at=_time(ws["sdsj"]),
        address_confirmed=_code(_FLAGS, ws["dzqr"]),
        signed_at=_optional_time(ws["qssj"]),
        fingerprint=ws["wszy"],
    )


def _volume(jz: _VolumeWire) -> CaseFileVolume:
    materials = tuple(
        Material(cl["clbh"], cl["clmc"], int(cl["ys"]), _code(_FLAGS, cl["sfgk"]), cl["wjlx"]) for cl in jz["clList"]
    )
    return CaseFileVolume(jz["jzbh"], _code(_VOLUME_KINDS, jz["jzlx"]), jz["jzmc"], materials)


def _event(bg: _EventWire) -> ChangeEvent:
    return ChangeEvent(
        event_id=bg["sjbh"],
        kind=_code(_EVENT_KINDS, bg["sjlx"]),
        court_code=bg["fydm"],
        case_id=bg["ajbh"],
        case_number=bg["ah"],
        occurred_at=_time(bg["fssj"]),
        filing_receipt_number=bg["hzh"],
        result=bg["cljg"],
        document_id=bg["wsbh"],
        hearing_id=bg["ktbh"],
        licence_number=bg["zyzh"],
    )


def _staff_page(data: Any) -> tuple[int, list[Staff]]:
    rows: list[_RosterWire] = data["list"]
    return int(data["total"]), [
        Staff(r["rybh"], r["xm"], _code(STAFF_ROLES, r["js"]), r["bm"], r["sjhm"]) for r in rows
    ]


def _agent_receipt(data: Any) -> AgentReceipt:
    return AgentReceipt(data["ajbh"], data["zyzh"], _time(data["djsj"]))


def _page(data: Any) -> tuple[int, list[Case]]:
    return int(data["total"]), [_case(aj) for aj in data["list"]]


def _cases(data: Any) -> list[Case]:
    return [_case(aj) for aj in data["list"]]


def _events(data: Any) -> tuple[list[ChangeEvent], bool]:
    return [_event(bg) for bg in data["list"]], bool(data["hasMore"])


# -- the adapter ----------------------------------------------------------------------------------------


class JsonRpcSignAdapter(HttpCourtAdapter):
    """``/gateway.do`` of one jsonrpc-sign court, as the canonical contract."""

    max_page_size = 50
    supports_agent_writes = True  # aj.dlr.add

    def __init__(self, court: CourtConfig) -> None:
        super().__init__(court)
        self._app_key = court.credentials.get("app_key", "")
        self._secret = court.credentials.get("app_secret", "")

    async def _call(self, method: str, data: Mapping[str, Any], parse: Callable[[Any], T]) -> T:
        """Sign and post one call; return the parsed ``data`` or raise the typed error its code stands for."""
        form = _signed_form(method, data, self._app_key, self._secret, datetime.now(CHINA_TZ))
        reply = await self._exchange("POST", _PATH, label=method, data=form)
        if reply.status != 200:
            raise CourtUnavailable(self.court.code, f"{method}: HTTP {reply.status}")
        try:
            answer: _Envelope = reply.json()
            code, msg = answer["code"], answer.get("msg", "")
        except (ValueError, TypeError, KeyError):
            raise CourtUnavailable(self.court.code, f"{method}: not a gateway.do answer") from None
        if code != "0000":
            raise _ERRORS.get(code, CourtUnavailable)(self.court.code, f"{method}: {code} {msg}")
        try:
            return parse(answer["data"])
        except (ValueError, TypeError, KeyError) as e:
            raise CourtUnavailable(self.court.code, f"{method}: malformed answer: {e!r}") from None

    # -- reads ----------------------------------------------------------------------------------------

    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._paged_cases("court.case.list", _who(who), position, limit)

    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._paged_cases("court.case.listByStaff", _scope(scope), position, limit)

    async def _paged_cases(self, method: str, filters: dict[str, str], position: str | None, limit: int) -> CasePage:
        """One page of a paged case list; ``position`` is the next page number (the caller keeps ``limit``)."""
        size = max(1, min(limit, self.max_page_size))
        if position is not None and not position.isdigit():
            raise CourtRejected(self.court.code, f"not a position of this court: {position!r}")
        page = int(position or 1)
        total, cases = await self._call(method, {**filters, "pageNo": page, "pageSize": size}, _page)
        return CasePage(tuple(cases), str(page + 1) if page * size < total else None, total)

    async def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        """``court.case.batchGet`` in chunks of 100, run together; the answer is put back in the order asked."""
        unique = list(dict.fromkeys(case_ids))
        chunks = [unique[i : i + _MAX_BATCH] for i in range(0, len(unique), _MAX_BATCH)]
        found = {
            case.case_id: case
            for chunk in await gather_or_cancel(
                self._call("court.case.batchGet", {"ajbhList": c}, _cases) for c in chunks
            )
            for case in chunk
        }
        return [found[i] for i in case_ids if i in found]

    async def find_case(self, case_number: str) -> Case | None:
        try:
            return await self._call("court.case.getByAh", {"ah": case_number}, _case)
        except NotFoundAtCourt:
            return None

    async def list_documents(self, who: PersonRef) -> list[ServedDocument]:
        code = self.court.code
        return await self._call("court.doc.list", _who(who), lambda d: [_document(code, ws) for ws in d["list"]])

    async def list_volumes(self, case_id: str) -> list[CaseFileVolume]:
        return await self._call("court.archive.list", {"ajbh": case_id}, lambda d: [_volume(jz) for jz in d["jzList"]])

    async def read_material(self, case_id: str, material_id: str) -> MaterialContent:
        def parse(d: Any) -> MaterialContent:
            return MaterialContent(d["clbh"], d["wjlx"], base64.b64decode(d["wjnr"], validate=True))

        return await self._call("court.archive.download", {"ajbh": case_id, "clbh": material_id}, parse)

    async def list_staff(self) -> list[Staff]:
        """``ry.list`` page 1, which gives the total, then every further page at once."""
        size = self.max_page_size

        async def page(number: int) -> tuple[int, list[Staff]]:
            return await self._call("ry.list", {"pageNo": number, "pageSize": size}, _staff_page)

        total, staff = await page(1)
        rest = await gather_or_cancel(page(n) for n in range(2, -(-total // size) + 1))
        return staff + [member for _, rows in rest for member in rows]

    async def changes(self, cursor: str | None) -> ChangePage:
        """The feed is keyed by event id, so the cursor is simply the last id seen."""
        last_id = cursor or "0"
        events: list[ChangeEvent] = []
        while True:
            page, more = await self._call("court.change.list", {"lastId": last_id, "pageSize": _FEED_PAGE}, _events)
            events += page
            if page:
                last_id = page[-1].event_id
            if not more or not page:
                return ChangePage(tuple(events), last_id)

    # -- writes ---------------------------------------------------------------------------------------

    async def submit_filing(self, filing: Filing) -> FilingReceipt:
        data = {
            "ajbh": filing.case_id,
            "ah": filing.case_number,
            "cllx": _FILING_KINDS[filing.kind],
            "clmc": filing.title,
            "tjrxm": filing.filer_name,
            "tjrzjhm": filing.filer_id_number,
            "ywlsh": filing.idempotency_key,
            "fjList": [
                {"wjm": a.filename, "wjlx": a.content_type, "wjnr": base64.b64encode(a.content).decode("ascii")}
                for a in filing.attachments
            ],
        }
        return await self._call("court.material.submit", data, lambda d: FilingReceipt(d["hzh"], _time(d["jssj"])))

    async def sign_document(self, signature: Signature) -> SignatureReceipt:
        data = {
            "wsbh": signature.document_id,
            "qsrxm": signature.signer_name,
            "qsrzjhm": signature.signer_id_number,
            "rzdj": _IDENTITY_LEVELS.get(signature.identity_level, signature.identity_level),
            "qsfs": _SIGN_METHODS.get(signature.method, signature.method),
            "qssj": _ms(signature.signed_at),
            "lsh": signature.idempotency_key,
        }
        return await self._call("court.doc.sign", data, lambda d: SignatureReceipt(d["wsbh"], _time(d["qssj"])))

    async def add_agent(self, case_id: str, agent: Agent, *, idempotency_key: str) -> AgentReceipt:
        """``aj.dlr.add``; the 业务流水号 ``ywlsh`` carries the key, so a repeat returns the first 登记时间."""
        data = {
            "ajbh": case_id,
            "xm": agent.name,
            "zyzh": agent.licence_number,
            "lsswsmc": agent.firm,
            "wtrzjhm": agent.client_id_number,
            "lxdh": agent.phone,
            "ywlsh": idempotency_key,
        }
        return await self._call("aj.dlr.add", data, _agent_receipt)
