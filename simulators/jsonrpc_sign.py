"""The jsonrpc-sign family (越秀, 天河, 黄埔, 花都, 增城): one signed form POST, pinyin JSON back.

The classic Chinese open-platform style, and the reference an adapter author reads:

- One endpoint, ``POST /gateway.do``, ``application/x-www-form-urlencoded`` (UTF-8), with the fields
  ``method`` (e.g. ``court.case.list``), ``appKey``, ``timestamp`` (Beijing local time
  ``yyyy-MM-dd HH:mm:ss``), ``data`` (a JSON object, as a string) and ``sign``.
- ``sign`` = upper-case hex MD5 of ``secret + "appKey=…&data=…&method=…&timestamp=…" + secret``: every
  field except ``sign``, sorted by name, as ``k=v`` with the raw (not URL-encoded) values, joined by
  ``&``, UTF-8. A wrong sign is ``E1001``; a timestamp more than 5 minutes off the court's clock is
  ``E1002``; an unknown ``appKey`` is ``E1003``.
- HTTP is always 200. The body is ``{"code": "0000", "msg": "成功", "data": …}`` or an error code:
  ``E1001`` 签名错误, ``E1002`` 时间戳无效, ``E1003`` 应用不存在, ``E2001`` 参数错误 (including a refused
  signature), ``E4040`` 记录不存在, ``E4090`` 业务流水号重复, ``E4290`` 请求过于频繁, ``E9999`` 系统异常.
- Dates and times are epoch milliseconds (dates: Beijing midnight); absent values are ``null``; flags are
  1/0; status, channel, volume and event kinds are the court's codes below; roles are Chinese words.
- Pages: ``pageNo`` from 1, ``pageSize`` at most 50, with ``total``. Batch get: at most 100 ``ajbh``.
- Case lists: ``court.case.list`` is a person's (``zjhm`` or ``zyzh``); ``court.case.listByStaff`` is the
  court's own staff view: cases whose 合议庭 includes ``rybh`` (人员编号), or of 部门 ``bm``, or, with
  neither, the whole court.
- Two later modules keep their vendor's pinyin names: ``ry.list`` pages the court's roster (人员名册:
  ``rybh`` 人员编号, ``xm``, ``js`` 角色 in the court's words, ``bm`` 部门, ``sjhm`` 手机号码);
  ``aj.dlr.add`` enters a lawyer on a case (添加代理人, as the clerk would), once per ``ywlsh`` 业务流水号,
  answering the first ``djsj`` 登记时间 on a repeat.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

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
    ServedDocument,
    ServiceChannel,
    Signature,
    Staff,
    StaffRole,
    VolumeKind,
)
from gateway.config import CourtConfig
from simulators.base import FamilySimulator, FaultKind
from simulators.state import BackendState, Conflict, CourtState, Missing, Refused

log = logging.getLogger("simulators.jsonrpc_sign")

ENDPOINT = "/gateway.do"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_PAGE_SIZE = 50
MAX_BATCH = 100
MAX_FEED_PAGE = 100
REQUIRED_FIELDS = ("method", "appKey", "timestamp", "data", "sign")

OK = "0000"
MESSAGES = {
    OK: "成功",
    "E1001": "签名错误",
    "E1002": "时间戳无效",
    "E1003": "应用不存在",
    "E2001": "参数错误",
    "E4040": "记录不存在",
    "E4090": "业务流水号重复",
    "E4290": "请求过于频繁",
    "E9999": "系统异常",
}

# -- the court's codes ------------------------------------------------------------------------------

STATUS_CODES = {CaseStatus.FILED: "10", CaseStatus.IN_TRIAL: "20", CaseStatus.CLOSED: "30", CaseStatus.ARCHIVED: "40"}
STATUS_NAMES = {"10": "已立案", "20": "审理中", "30": "已结案", "40": "已归档"}
PARTY_ROLES = {
    PartyRole.PLAINTIFF: "原告",
    PartyRole.DEFENDANT: "被告",
    PartyRole.THIRD_PARTY: "第三人",
    PartyRole.APPELLANT: "上诉人",
    PartyRole.APPELLEE: "被上诉人",
    PartyRole.APPLICANT: "申请人",
    PartyRole.RESPONDENT: "被申请人",
    PartyRole.ACCUSED: "被告人",
    PartyRole.PROSECUTOR: "公诉机关",
}
PARTY_KINDS = {PartyKind.PERSON: "自然人", PartyKind.ORGANISATION: "法人"}
STAFF_ROLES = {
    StaffRole.PRESIDING_JUDGE: "审判长",
    StaffRole.JUDGE: "审判员",
    StaffRole.PEOPLES_ASSESSOR: "人民陪审员",
    StaffRole.CLERK: "书记员",
    StaffRole.DIVISION_HEAD: "庭长",
    StaffRole.COURT_LEADER: "院领导",
    StaffRole.ARCHIVE_ADMIN: "档案管理员",
}
CHANNELS = {
    ServiceChannel.COURT_PLATFORM: "1",
    ServiceChannel.NATIONAL_PLATFORM: "2",
    ServiceChannel.SMS: "3",
    ServiceChannel.EMAIL: "4",
}
ADDRESSEE_KINDS = {IdentityKind.ID_NUMBER: "1", IdentityKind.LICENCE_NUMBER: "2"}  # 当事人, 诉讼代理人
VOLUME_KINDS = {VolumeKind.MAIN: "Z", VolumeKind.INTERNAL: "F"}  # 正卷, 副卷
EVENT_KINDS = {  # pinyin initials
    ChangeKind.FILING_HANDLED: "CLCL",  # 材料处理
    ChangeKind.DOCUMENT_SERVED: "WSSD",  # 文书送达
    ChangeKind.HEARING_SCHEDULED: "PQKT",  # 排期开庭
    ChangeKind.CASE_CLOSED: "JA",  # 结案
    ChangeKind.CASE_ARCHIVED: "GD",  # 归档
    ChangeKind.AGENT_ADDED: "XZDLR",  # 新增代理人
}
FILING_KINDS = {
    "01": FilingKind.DEFENCE_STATEMENT,  # 答辩状
    "02": FilingKind.AGENT_OPINION,  # 代理词
    "03": FilingKind.EVIDENCE,  # 补充证据材料
    "04": FilingKind.APPLICATION,  # 申请书
}
IDENTITY_LEVELS = {"1": "PHONE", "2": "REAL_NAME", "3": "FACE"}
SIGN_METHODS = {"1": "ONLINE_CONFIRMATION", "2": "E_SEAL"}


def sign(fields: Mapping[str, str], secret: str) -> str:
    """The court's check value: MD5 over the sorted ``k=v`` pairs (``sign`` excluded) wrapped in the secret."""
    joined = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


class ApiError(Exception):
    """Answered as ``{"code": code, "msg": …}`` with HTTP 200, like every other answer."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or MESSAGES[code])
        self.code = code
        self.msg = f"{MESSAGES[code]}：{detail}" if detail else MESSAGES[code]


def envelope(code: str, data: object = None, msg: str | None = None) -> web.Response:
    body = {"code": code, "msg": msg or MESSAGES[code], "data": data}
    return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))


# -- rendering --------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).astimezone(CHINA_TZ)  # the Unix epoch, in Beijing time


def epoch_ms(value: datetime | date | None) -> int | None:
    """Epoch milliseconds; a date is Beijing midnight. Sub-millisecond parts are cut off."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.combine(value, time(), CHINA_TZ)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value)


def _flag(value: bool) -> int:
    return 1 if value else 0


def case_json(case: Case) -> dict[str, Any]:
    """One case record, as every case method answers it."""
    judges = [s for s in case.panel if s.role in (StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE)]
    clerks = [s for s in case.panel if s.role == StaffRole.CLERK]
    status = STATUS_CODES[case.status]
    return {
        "ajbh": case.case_id,
        "fydm": case.court_code,
        "ah": case.case_number,
        "ajlx": case.type_code,
        "ay": case.cause,
        "ajzt": status,
        "ajztmc": STATUS_NAMES[status],
        "larq": epoch_ms(case.filed_on),
        "jarq": epoch_ms(case.closed_on),
        "gdrq": epoch_ms(case.archived_on),
        "sfgkss": _flag(case.public_hearing),
        "cbbm": case.division,
        "cbr": judges[0].name if judges else None,
        "sjy": clerks[0].name if clerks else None,
        "zhgxsj": epoch_ms(case.last_activity_at),
        "dsrList": [
            {
                "xm": p.name,
                "zjhm": p.id_number,
                "ssdw": PARTY_ROLES[p.role],
                "dsrlx": PARTY_KINDS[p.kind],
                "lxdh": p.phone,
            }
            for p in case.parties
        ],
        "dlrList": [
            {"xm": a.name, "zyzh": a.licence_number, "lsswsmc": a.firm, "wtrzjhm": a.client_id_number, "lxdh": a.phone}
            for a in case.agents
        ],
        "hytcy": [
            {"rybh": s.staff_id, "xm": s.name, "js": STAFF_ROLES[s.role], "bm": s.division, "lxdh": s.phone}
            for s in case.panel
        ],
        "ktList": [
            {"ktbh": h.hearing_id, "ktsj": epoch_ms(h.starts_at), "ftmc": h.room, "ktlx": h.kind} for h in case.hearings
        ],
        "glajList": [{"ah": number} for number in case.related_case_numbers],
    }


def staff_json(member: Staff) -> dict[str, Any]:
    """One roster row (人员名册)."""
    return {
        "rybh": member.staff_id,
        "xm": member.name,
        "js": STAFF_ROLES[member.role],
        "bm": member.division,
        "sjhm": member.phone,
    }


def document_json(doc: ServedDocument) -> dict[str, Any]:
    return {
        "wsbh": doc.document_id,
        "fydm": doc.court_code,
        "ah": doc.case_number,
        "wsmc": doc.title,
        "wslx": doc.doc_type,
        "sjrxm": doc.addressee_name,
        "sjrlx": ADDRESSEE_KINDS[doc.addressee.kind],
        "sjrzjhm": doc.addressee.number,
        "sdfs": CHANNELS[doc.channel],
        "sdsj": epoch_ms(doc.served_at),
        "dzqr": _flag(doc.address_confirmed),
        "qssj": epoch_ms(doc.signed_at),
        "wszy": doc.fingerprint,
    }


def volume_json(volume: CaseFileVolume) -> dict[str, Any]:
    return {
        "jzbh": volume.volume_id,
        "jzlx": VOLUME_KINDS[volume.kind],
        "jzmc": volume.title,
        "clList": [
            {"clbh": m.material_id, "clmc": m.title, "ys": m.pages, "sfgk": _flag(m.published), "wjlx": m.content_type}
            for m in volume.materials
        ],
    }


def event_json(event: ChangeEvent) -> dict[str, Any]:
    return {
        "sjbh": event.event_id,
        "sjlx": EVENT_KINDS[event.kind],
        "fydm": event.court_code,
        "ajbh": event.case_id,
        "ah": event.case_number,
        "fssj": epoch_ms(event.occurred_at),
        "hzh": event.filing_receipt_number,
        "cljg": event.result,
        "wsbh": event.document_id,
        "ktbh": event.hearing_id,
        "zyzh": event.licence_number,
    }


# -- reading ``data`` -------------------------------------------------------------------------------


class _Data:
    """The decoded ``data`` object, read field by field; every mistake is ``E2001`` naming the field."""

    def __init__(self, raw: str) -> None:
        try:
            value = json.loads(raw)
        except ValueError:
            raise ApiError("E2001", "data不是有效的JSON") from None
        if not isinstance(value, dict):
            raise ApiError("E2001", "data必须是JSON对象")
        self._value: dict[str, Any] = value

    def text(self, name: str, *, required: bool = True) -> str:
        value = self._value.get(name)
        if value is None or value == "":
            if required:
                raise ApiError("E2001", f"缺少{name}")
            return ""
        if not isinstance(value, str):
            raise ApiError("E2001", f"{name}必须是字符串")
        return value

    def number(self, name: str, default: int) -> int:
        value = self._value.get(name, default)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApiError("E2001", f"{name}必须是整数")
        return value

    def items(self, name: str) -> list[Any]:
        value = self._value.get(name)
        if not isinstance(value, list):
            raise ApiError("E2001", f"{name}必须是数组")
        return value

    def choice(self, name: str, codes: Mapping[str, Any]) -> Any:
        value = self.text(name)
        if value not in codes:
            raise ApiError("E2001", f"{name}取值不正确：{value}")
        return codes[value]

    def person(self) -> PersonRef:
        """证件号码 (a party) or 执业证号 (a lawyer): exactly one of them."""
        zjhm, zyzh = self.text("zjhm", required=False), self.text("zyzh", required=False)
        if bool(zjhm) == bool(zyzh):
            raise ApiError("E2001", "zjhm与zyzh须且只须填写一项")
        return PersonRef.party(zjhm) if zjhm else PersonRef.lawyer(zyzh)

    def scope(self) -> CaseScope:
        """Whose view of the court: 人员编号 (rybh) or 部门 (bm), at most one; neither is the whole court."""
        rybh, bm = self.text("rybh", required=False), self.text("bm", required=False)
        if rybh and bm:
            raise ApiError("E2001", "rybh与bm至多填写一项")
        return CaseScope(staff_id=rybh or None, division=bm or None)

    def page(self, limit: int) -> tuple[int, int]:
        page_no, page_size = self.number("pageNo", 1), self.number("pageSize", min(20, limit))
        if page_no < 1 or page_size < 1:
            raise ApiError("E2001", "pageNo和pageSize必须大于0")
        if page_size > limit:
            raise ApiError("E2001", f"pageSize不能大于{limit}")
        return page_no, page_size


def _case_page(cases: list[Case], page_no: int, page_size: int) -> object:
    """One page of a case list (court.case.list, court.case.listByStaff), with the list's ``total``."""
    rows = cases[(page_no - 1) * page_size : page_no * page_size]
    return {"total": len(cases), "pageNo": page_no, "pageSize": page_size, "list": [case_json(c) for c in rows]}


def _attachments(rows: list[Any]) -> tuple[Attachment, ...]:
    if not rows:
        raise ApiError("E2001", "缺少附件")
    attachments = []
    for row in rows:
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("wjm", "wjlx", "wjnr")):
            raise ApiError("E2001", "附件须有wjm、wjlx、wjnr")
        try:
            content = base64.b64decode(row["wjnr"], validate=True)
        except binascii.Error:
            raise ApiError("E2001", "附件内容不是有效的Base64") from None
        attachments.append(Attachment(row["wjm"], row["wjlx"], content))
    return tuple(attachments)


# -- the service ------------------------------------------------------------------------------------

Method = Callable[["JsonRpcSignSimulator", _Data], object]


class JsonRpcSignSimulator(FamilySimulator):
    """``/gateway.do`` of one jsonrpc-sign court."""

    family = "jsonrpc-sign"

    #: method name → handler
    METHODS: ClassVar[dict[str, str]] = {
        "court.case.list": "case_list",
        "court.case.listByStaff": "case_list_by_staff",
        "court.case.batchGet": "case_batch_get",
        "court.case.getByAh": "case_get_by_ah",
        "court.doc.list": "doc_list",
        "court.doc.sign": "doc_sign",
        "court.material.submit": "material_submit",
        "court.archive.list": "archive_list",
        "court.archive.download": "archive_download",
        "court.change.list": "change_list",
        "ry.list": "staff_list",
        "aj.dlr.add": "agent_add",
    }

    def __init__(self, config: CourtConfig, state: BackendState) -> None:
        super().__init__(config, state)
        if not isinstance(state, CourtState):
            raise TypeError("the jsonrpc-sign family serves courts only")
        self.court: CourtState = state
        self.apps = {config.credentials["app_key"]: config.credentials["app_secret"]}

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ENDPOINT, self._post)]

    def fault_response(self, kind: FaultKind, request: web.Request) -> web.StreamResponse:
        return envelope("E4290" if kind == FaultKind.RATE_LIMITED else "E9999")

    async def _post(self, request: web.Request) -> web.StreamResponse:
        try:
            method, data = self._verify(request.content_type, await request.post())
            handler: Method = getattr(type(self), self.METHODS[method])
            return envelope(OK, handler(self, data))
        except ApiError as e:
            return envelope(e.code, msg=e.msg)
        except Missing as e:
            return envelope("E4040", msg=f"{MESSAGES['E4040']}：{e.args[0] if e.args else ''}")
        except Conflict:
            return envelope("E4090", msg="业务流水号重复且提交内容不一致")
        except Refused as e:
            return envelope("E2001", msg=f"{MESSAGES['E2001']}：{e}")
        except Exception:  # the platform answers everything with a code, never a stack trace
            log.exception("gateway.do failed")
            return envelope("E9999")

    def _verify(self, content_type: str, form: Mapping[str, Any]) -> tuple[str, _Data]:
        """Check the request the way the open platform does: fields, app, signature, clock, method."""
        if content_type != "application/x-www-form-urlencoded":
            raise ApiError("E2001", "Content-Type必须为application/x-www-form-urlencoded")
        values = {name: value for name, value in form.items() if isinstance(value, str)}  # every field is signed
        missing = [name for name in REQUIRED_FIELDS if not values.get(name)]
        if missing:
            raise ApiError("E2001", f"缺少{','.join(missing)}")
        secret = self.apps.get(values["appKey"])
        if secret is None:
            raise ApiError("E1003", values["appKey"])
        if not hmac.compare_digest(values["sign"].upper(), sign(values, secret)):
            raise ApiError("E1001")
        try:
            sent = datetime.strptime(values["timestamp"], TIMESTAMP_FORMAT).replace(tzinfo=CHINA_TZ)
        except ValueError:
            raise ApiError("E1002", "格式应为yyyy-MM-dd HH:mm:ss") from None
        if abs(self.state.now() - sent) > MAX_CLOCK_SKEW:
            raise ApiError("E1002", "与服务器时间相差超过5分钟")
        if values["method"] not in self.METHODS:
            raise ApiError("E2001", f"不支持的方法{values['method']}")
        return values["method"], _Data(values["data"])

    # -- methods --------------------------------------------------------------------------------------

    def case_list(self, data: _Data) -> object:
        self.state.count("list_cases")
        who = data.person()
        return _case_page(self.court.cases_of(who), *data.page(MAX_PAGE_SIZE))

    def case_list_by_staff(self, data: _Data) -> object:
        """审判人员视图: the court's cases as its staff see them, paged like court.case.list."""
        self.state.count("list_court_cases")
        scope = data.scope()
        return _case_page(self.court.cases_in_scope(scope), *data.page(MAX_PAGE_SIZE))

    def case_batch_get(self, data: _Data) -> object:
        """Cases in the order asked; unknown ``ajbh`` are left out, not an error."""
        self.state.count("get_cases")
        ids = data.items("ajbhList")
        if not all(isinstance(i, str) for i in ids):
            raise ApiError("E2001", "ajbhList必须是字符串数组")
        if len(ids) > MAX_BATCH:
            raise ApiError("E2001", f"ajbhList不能超过{MAX_BATCH}个")
        found = []
        for case_id in ids:
            try:
                found.append(case_json(self.court.case(case_id)))
            except Missing:
                continue
        return {"list": found}

    def case_get_by_ah(self, data: _Data) -> object:
        self.state.count("find_case")
        return case_json(self.court.case_by_number(data.text("ah")))

    def doc_list(self, data: _Data) -> object:
        self.state.count("list_documents")
        documents = self.court.documents_of(data.person())
        return {"total": len(documents), "list": [document_json(d) for d in documents]}

    def doc_sign(self, data: _Data) -> object:
        """签收; the court keeps the first signature and answers a repeat with it."""
        self.state.count("sign_document")
        signed_at = data.number("qssj", -1)
        if signed_at < 0:
            raise ApiError("E2001", "缺少qssj")
        signature = Signature(
            idempotency_key=data.text("lsh"),
            document_id=data.text("wsbh"),
            signer_name=data.text("qsrxm"),
            signer_id_number=data.text("qsrzjhm"),
            identity_level=data.choice("rzdj", IDENTITY_LEVELS),
            signed_at=from_epoch_ms(signed_at),
            method=data.choice("qsfs", SIGN_METHODS),
        )
        receipt = self.court.sign(signature)
        return {"wsbh": receipt.document_id, "qssj": epoch_ms(receipt.signed_at)}

    def material_submit(self, data: _Data) -> object:
        """网上提交材料; ``ywlsh`` (业务流水号) makes a repeat return the first receipt."""
        self.state.count("submit_filing")
        case = self.court.case(data.text("ajbh"))
        if data.text("ah") != case.case_number:
            raise ApiError("E2001", "案号与案件编号不符")
        filing = Filing(
            idempotency_key=data.text("ywlsh"),
            case_id=case.case_id,
            case_number=case.case_number,
            kind=data.choice("cllx", FILING_KINDS),
            title=data.text("clmc"),
            filer_name=data.text("tjrxm"),
            filer_id_number=data.text("tjrzjhm"),
            attachments=_attachments(data.items("fjList")),
        )
        receipt = self.court.submit_filing(filing)
        return {"hzh": receipt.receipt_number, "jssj": epoch_ms(receipt.received_at)}

    def archive_list(self, data: _Data) -> object:
        self.state.count("list_volumes")
        return {"jzList": [volume_json(v) for v in self.court.volumes(data.text("ajbh"))]}

    def archive_download(self, data: _Data) -> object:
        self.state.count("read_material")
        case_id, material_id = data.text("ajbh"), data.text("clbh")
        volumes = self.court.volumes(case_id)
        material = next((m for v in volumes for m in v.materials if m.material_id == material_id), None)
        if material is None:
            raise Missing(material_id)
        content = self.court.material(case_id, material_id)
        return {"clbh": material_id, "wjlx": material.content_type, "wjnr": base64.b64encode(content).decode("ascii")}

    def change_list(self, data: _Data) -> object:
        """Events after ``lastId`` (0: from the start), oldest first, at most ``pageSize`` of them."""
        self.state.count("changes")
        last_id = data.text("lastId", required=False) or "0"
        if not last_id.isdigit():
            raise ApiError("E2001", "lastId必须是事件编号")
        page_size = data.number("pageSize", MAX_FEED_PAGE)
        if not 1 <= page_size <= MAX_FEED_PAGE:
            raise ApiError("E2001", f"pageSize须在1到{MAX_FEED_PAGE}之间")
        events = self.court.events_after(last_id)
        return {"list": [event_json(e) for e in events[:page_size]], "hasMore": len(events) > page_size}

    def staff_list(self, data: _Data) -> object:
        """人员名册: the whole court's staff in the court's own order, paged like the case lists."""
        self.state.count("list_staff")
        page_no, page_size = data.page(MAX_PAGE_SIZE)
        staff = self.court.staff()
        rows = staff[(page_no - 1) * page_size : page_no * page_size]
        return {"total": len(staff), "pageNo": page_no, "pageSize": page_size, "list": [staff_json(m) for m in rows]}

    def agent_add(self, data: _Data) -> object:
        """添加代理人; ``ywlsh`` (业务流水号) makes a repeat return the first registration."""
        self.state.count("add_agent")
        case = self.court.case(data.text("ajbh"))
        agent = Agent(
            name=data.text("xm"),
            licence_number=data.text("zyzh"),
            firm=data.text("lsswsmc"),
            client_id_number=data.text("wtrzjhm"),
            phone=data.text("lxdh", required=False) or None,
        )
        receipt = self.court.add_agent(case.case_id, agent, data.text("ywlsh"))
        return {"ajbh": receipt.case_id, "zyzh": receipt.licence_number, "djsj": epoch_ms(receipt.recorded_at)}
