"""The soap-gbk family (荔湾, 海珠, 白云, 番禺): an Axis-era SOAP 1.1 service speaking GBK.

One endpoint, ``POST /services/AjService``, rpc/literal. The ``SOAPAction`` header must name the
operation in the body; bodies must be GBK both ways; ``GET ?wsdl`` serves ``soap_gbk.wsdl``. A
``Login`` gives a session id that every other operation carries as its first part and that dies after
20 idle minutes. Everything the court says is in its own idiom: pinyin-initial names, local times
without a zone, bare dates, numeric status codes, Chinese role words, 是/否 and 1/0 flags, base64
wrapped at 76 columns. Every failure, including "busy", is a SOAP Fault with HTTP 500, told apart only
by its faultstring.

``QueryRyList`` pages the court's roster (人员名册); ``TjDlr`` enters a lawyer on a case (添加代理人), as the
clerk's own screen does, once per 业务流水号 ``ywlsh``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

from aiohttp import web
from lxml import etree

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
from simulators.state import BackendState, Conflict, CourtState, Missing, Refused, Sessions

log = logging.getLogger("simulators.soap_gbk")

ENDPOINT = "/services/AjService"
WSDL_FILE = Path(__file__).with_name("soap_gbk.wsdl")
WSDL_LOCATION = "http://localhost:8080/services/AjService"  # rewritten to the address asked
NS = "http://ws.court.gd.cn/aj"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML_DECLARATION = b'<?xml version="1.0" encoding="GBK"?>\n'
CONTENT_TYPE = "text/xml; charset=GBK"
MAX_PAGE_SIZE = 20
SESSION_IDLE_S = 1200.0

# faultstrings, the only thing that tells one failure from another
BUSY = "系统繁忙，请稍后再试"
INTERNAL = "系统异常"
SESSION_EXPIRED = "会话已过期，请重新登录"
BAD_LOGIN = "用户名或密码错误"

STATUS_CODES = {CaseStatus.FILED: "1", CaseStatus.IN_TRIAL: "2", CaseStatus.CLOSED: "3", CaseStatus.ARCHIVED: "4"}
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
PARTY_KINDS = {PartyKind.PERSON: "1", PartyKind.ORGANISATION: "2"}  # 自然人, 法人或其他组织
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
VOLUME_KINDS = {VolumeKind.MAIN: "1", VolumeKind.INTERNAL: "2"}
CHANGE_KINDS = {
    ChangeKind.FILING_HANDLED: "材料已处理",
    ChangeKind.DOCUMENT_SERVED: "文书送达",
    ChangeKind.HEARING_SCHEDULED: "排期开庭",
    ChangeKind.CASE_CLOSED: "结案",
    ChangeKind.CASE_ARCHIVED: "归档",
    ChangeKind.AGENT_ADDED: "新增代理人",
}
FILING_KINDS = {
    "答辩状": FilingKind.DEFENCE_STATEMENT,
    "代理词": FilingKind.AGENT_OPINION,
    "补充证据材料": FilingKind.EVIDENCE,
    "申请书": FilingKind.APPLICATION,
}
IDENTITY_LEVELS = {"1": "PHONE", "2": "REAL_NAME", "3": "FACE"}
SIGN_METHODS = {"1": "ONLINE_CONFIRMATION", "2": "E_SEAL"}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class SoapFault(Exception):
    """Answered as a SOAP Fault: ``soapenv:Client`` for the caller's mistakes, ``Server`` for ours."""

    def __init__(self, faultstring: str, faultcode: str = "soapenv:Client") -> None:
        super().__init__(faultstring)
        self.faultstring = faultstring
        self.faultcode = faultcode


def soap_action(operation: str) -> str:
    """The SOAPAction the WSDL binds to an operation."""
    return f"urn:{operation}"


# -- rendering --------------------------------------------------------------------------------------


def _date(value: date | None) -> str:
    return f"{value:%Y%m%d}" if value else ""


def _time(value: datetime | None) -> str:
    """Local time, no zone; a fraction only when there is one (as ``java.sql.Timestamp`` prints)."""
    if value is None:
        return ""
    local = value.astimezone(CHINA_TZ)
    text = f"{local:%Y-%m-%d %H:%M:%S}"
    return f"{text}.{local.microsecond:06d}".rstrip("0") if local.microsecond else text


def _flag(value: bool) -> str:
    return "是" if value else "否"


def _record(tag: str, fields: Iterable[tuple[str, str | None]]) -> etree._Element:
    """An element with one child per field; a None field is left out (how this court says "no value")."""
    element = etree.Element(tag)
    for name, value in fields:
        if value is not None:
            etree.SubElement(element, name).text = value
    return element


def _list(tag: str, items: Iterable[etree._Element]) -> etree._Element:
    element = etree.Element(tag)
    element.extend(items)
    return element


def _leaf(tag: str, value: str) -> etree._Element:
    element = etree.Element(tag)
    element.text = value
    return element


def case_xml(case: Case, tag: str = "ajxx") -> etree._Element:
    """The full case record: ``<ajxx>`` of GetAjxx and QueryAjByAh, each ``<aj>`` row of QueryAjList."""
    aj = _record(
        tag,
        [
            ("ajbh", case.case_id),
            ("fydz", case.court_code),
            ("ah", case.case_number),
            ("lxdz", case.type_code),
            ("ay", case.cause),
            ("ajzt", STATUS_CODES[case.status]),
            ("larq", _date(case.filed_on)),
            ("jarq", _date(case.closed_on)),
            ("gdrq", _date(case.archived_on)),
            ("sfgksl", _flag(case.public_hearing)),
            ("cbbm", case.division),
            ("zhhdsj", _time(case.last_activity_at)),
        ],
    )
    aj.append(
        _list(
            "dsrList",
            (
                _record(
                    "dsr",
                    [
                        ("xm", p.name),
                        ("zjhm", p.id_number),
                        ("ssdw", PARTY_ROLES[p.role]),
                        ("dsrlx", PARTY_KINDS[p.kind]),
                        ("lxdh", p.phone),
                    ],
                )
                for p in case.parties
            ),
        )
    )
    aj.append(
        _list(
            "dlrList",
            (
                _record(
                    "dlr",
                    [
                        ("xm", a.name),
                        ("zyzh", a.licence_number),
                        ("lsswsmc", a.firm),
                        ("wtrzjhm", a.client_id_number),
                        ("lxdh", a.phone),
                    ],
                )
                for a in case.agents
            ),
        )
    )
    aj.append(
        _list(
            "spzz",
            (
                _record(
                    "cy",
                    [
                        ("rybh", s.staff_id),
                        ("xm", s.name),
                        ("js", STAFF_ROLES[s.role]),
                        ("bm", s.division),
                        ("lxdh", s.phone),
                    ],
                )
                for s in case.panel
            ),
        )
    )
    aj.append(
        _list(
            "ktList",
            (
                _record(
                    "kt", [("ktbh", h.hearing_id), ("ktsj", _time(h.starts_at)), ("ftmc", h.room), ("ktlx", h.kind)]
                )
                for h in case.hearings
            ),
        )
    )
    aj.append(_list("glajList", (_leaf("glah", n) for n in case.related_case_numbers)))
    return aj


def _case_list(cases: list[Case], page_no: int, page_size: int) -> list[etree._Element]:
    """One page of a case query (QueryAjList, QueryFyAjList): the total ``zs`` and full ``<aj>`` rows."""
    rows = cases[(page_no - 1) * page_size : page_no * page_size]
    return [_leaf("zs", str(len(cases))), _list("ajList", (case_xml(c, "aj") for c in rows))]


def _document_xml(doc: ServedDocument) -> etree._Element:
    return _record(
        "ws",
        [
            ("wsbh", doc.document_id),
            ("fydz", doc.court_code),
            ("ah", doc.case_number),
            ("wsmc", doc.title),
            ("wslx", doc.doc_type),
            ("sjrxm", doc.addressee_name),
            ("sjrlx", ADDRESSEE_KINDS[doc.addressee.kind]),
            ("sjrzjhm", doc.addressee.number),
            ("sdfs", CHANNELS[doc.channel]),
            ("sdsj", _time(doc.served_at)),
            ("dzqr", "1" if doc.address_confirmed else "0"),
            ("qssj", _time(doc.signed_at)),
            ("wszy", doc.fingerprint),
        ],
    )


def _volume_xml(volume: CaseFileVolume) -> etree._Element:
    jz = _record("jz", [("jzbh", volume.volume_id), ("jzlx", VOLUME_KINDS[volume.kind]), ("jzmc", volume.title)])
    jz.append(
        _list(
            "clList",
            (
                _record(
                    "cl",
                    [
                        ("clbh", m.material_id),
                        ("clmc", m.title),
                        ("ys", str(m.pages)),
                        ("sfgk", _flag(m.published)),
                        ("wjlx", m.content_type),
                    ],
                )
                for m in volume.materials
            ),
        )
    )
    return jz


def _event_xml(event: ChangeEvent) -> etree._Element:
    return _record(
        "bg",
        [
            ("bgbh", event.event_id),
            ("bglx", CHANGE_KINDS[event.kind]),
            ("fydz", event.court_code),
            ("ajbh", event.case_id),
            ("ah", event.case_number),
            ("bgsj", _time(event.occurred_at)),
            ("hzh", event.filing_receipt_number),
            ("cljg", event.result),
            ("wsbh", event.document_id),
            ("ktbh", event.hearing_id),
            ("zyzh", event.licence_number),
        ],
    )


def _staff_xml(member: Staff) -> etree._Element:
    """One roster row: 人员编号, 姓名, 角色 (the court's word), 部门, 手机号码 (left out when unknown)."""
    return _record(
        "ry",
        [
            ("rybh", member.staff_id),
            ("xm", member.name),
            ("js", STAFF_ROLES[member.role]),
            ("bm", member.division),
            ("sjhm", member.phone),
        ],
    )


def _envelope(content: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV, "ns1": NS})
    etree.SubElement(env, f"{{{SOAP_ENV}}}Body").append(content)
    # characters GBK lacks (生僻字 in names) go out as character references, which any XML parser reads back
    encoded = etree.tostring(env, encoding="GBK", xml_declaration=False)
    assert isinstance(encoded, bytes)
    return XML_DECLARATION + encoded


def _soap_response(content: etree._Element, status: int = 200) -> web.Response:
    return web.Response(body=_envelope(content), status=status, headers={"Content-Type": CONTENT_TYPE})


def fault_xml_response(fault: SoapFault) -> web.Response:
    """SOAP 1.1: a Fault is HTTP 500, whatever it is about."""
    element = _record(f"{{{SOAP_ENV}}}Fault", [("faultcode", fault.faultcode), ("faultstring", fault.faultstring)])
    return _soap_response(element, status=500)


# -- reading requests -------------------------------------------------------------------------------


class _Parts:
    """The parts of one rpc/literal request, by name."""

    def __init__(self, operation: etree._Element) -> None:
        self._parts = {etree.QName(c).localname: c for c in operation if isinstance(c.tag, str)}

    def element(self, name: str) -> etree._Element | None:
        return self._parts.get(name)

    def text(self, name: str, *, required: bool = True) -> str:
        element = self._parts.get(name)
        value = (element.text or "") if element is not None else ""
        if required and not value.strip():
            raise SoapFault(f"参数错误：缺少{name}")
        return value

    def number(self, name: str, default: int) -> int:
        value = self.text(name, required=False).strip()
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise SoapFault(f"参数错误：{name}必须为整数") from None

    def person(self) -> PersonRef:
        """Whose records: 证件号码 (a party) or 执业证号 (a lawyer), exactly one of them."""
        zjhm, zyzh = self.text("zjhm", required=False).strip(), self.text("zyzh", required=False).strip()
        if bool(zjhm) == bool(zyzh):
            raise SoapFault("参数错误：证件号码与执业证号须且只须填写一项")
        return PersonRef.party(zjhm) if zjhm else PersonRef.lawyer(zyzh)

    def scope(self) -> CaseScope:
        """Whose view of the court: 承办人/合议庭成员编号 or 部门, at most one; neither is the whole court (全院)."""
        cbrbh, bm = self.text("cbrbh", required=False).strip(), self.text("bm", required=False).strip()
        if cbrbh and bm:
            raise SoapFault("参数错误：承办人编号与部门至多填写一项")
        return CaseScope(staff_id=cbrbh or None, division=bm or None)

    def moment(self, name: str, *, fraction: bool = True) -> datetime:
        value = self.text(name).strip()
        formats = ["%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"] if fraction else ["%Y-%m-%d %H:%M:%S"]
        for fmt in formats:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=CHINA_TZ)
            except ValueError:
                continue
        raise SoapFault(f"参数错误：{name}格式应为yyyy-MM-dd HH:mm:ss")

    def page(self) -> tuple[int, int]:
        page_no, page_size = self.number("pageNo", 1), self.number("pageSize", MAX_PAGE_SIZE)
        if page_no < 1 or page_size < 1:
            raise SoapFault("参数错误：pageNo和pageSize必须大于0")
        if page_size > MAX_PAGE_SIZE:
            raise SoapFault(f"参数错误：pageSize不能大于{MAX_PAGE_SIZE}")
        return page_no, page_size


# -- the service ------------------------------------------------------------------------------------

Operation = Callable[["SoapGbkSimulator", _Parts], list[etree._Element]]


class SoapGbkSimulator(FamilySimulator):
    """AjService of one soap-gbk court."""

    family = "soap-gbk"

    #: operation → handler; the WSDL must list exactly these (tests/test_soap_gbk.py keeps it true)
    OPERATIONS: ClassVar[dict[str, str]] = {
        "Login": "login",
        "QueryAjList": "query_aj_list",
        "QueryFyAjList": "query_fy_aj_list",
        "GetAjxx": "get_ajxx",
        "QueryAjByAh": "query_aj_by_ah",
        "QueryWsList": "query_ws_list",
        "QdWs": "qd_ws",
        "TjCl": "tj_cl",
        "QueryJz": "query_jz",
        "GetJzcl": "get_jzcl",
        "QueryBgList": "query_bg_list",
        "QueryRyList": "query_ry_list",
        "TjDlr": "tj_dlr",
    }

    def __init__(self, config: CourtConfig, state: BackendState) -> None:
        super().__init__(config, state)
        if not isinstance(state, CourtState):
            raise TypeError("the soap-gbk family serves courts only")
        self.court: CourtState = state
        self.sessions = Sessions(ttl_s=SESSION_IDLE_S, idle=True)
        self._wsdl = WSDL_FILE.read_text("utf-8")

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ENDPOINT, self._post), web.get(ENDPOINT, self._get)]

    def fault_response(self, kind: FaultKind, request: web.Request) -> web.StreamResponse:
        busy = kind == FaultKind.RATE_LIMITED
        return fault_xml_response(SoapFault(BUSY if busy else INTERNAL, "soapenv:Server"))

    def expire_sessions(self) -> None:
        self.sessions.expire_all()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if request.query_string.lower() != "wsdl":
            # what an Axis servlet says to a browser
            return web.Response(
                text="<h1>AjService</h1><p>Hi there, this is an AXIS service!</p>", content_type="text/html"
            )
        location = f"{request.scheme}://{request.host}{ENDPOINT}"
        return web.Response(text=self._wsdl.replace(WSDL_LOCATION, location), content_type="text/xml", charset="utf-8")

    async def _post(self, request: web.Request) -> web.StreamResponse:
        try:
            operation, parts = self._read(await request.read(), request.headers)
            handler: Operation = getattr(type(self), self.OPERATIONS[operation])
            if operation != "Login" and not self.sessions.check(parts.text("sessionId", required=False)):
                raise SoapFault(SESSION_EXPIRED)
            answer = _list(f"{{{NS}}}{operation}Response", handler(self, parts))
        except SoapFault as fault:
            return fault_xml_response(fault)
        except Exception:  # an Axis service answers anything with a Fault, never a stack trace page
            log.exception("AjService failed")
            return fault_xml_response(SoapFault(INTERNAL, "soapenv:Server"))
        return _soap_response(answer)

    def _read(self, body: bytes, headers: Mapping[str, str]) -> tuple[str, _Parts]:
        """Check the envelope the way the real service does, and find its operation."""
        if not headers.get("Content-Type", "").lower().startswith("text/xml"):
            raise SoapFault("Content-Type必须为text/xml")
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError:
            raise SoapFault("报文解析失败") from None
        encoding = (root.getroottree().docinfo.encoding or "").upper()
        if encoding != "GBK":
            raise SoapFault(f"报文编码必须为GBK，实际为{encoding or '未声明'}")
        body_element = root.find(f"{{{SOAP_ENV}}}Body")
        if root.tag != f"{{{SOAP_ENV}}}Envelope" or body_element is None or len(body_element) == 0:
            raise SoapFault("报文解析失败：不是SOAP 1.1信封")
        element = body_element[0]
        name = etree.QName(element)
        if name.namespace != NS or name.localname not in self.OPERATIONS:
            raise SoapFault(f"不支持的操作：{name.localname}")
        action = headers.get("SOAPAction")
        if action is None:
            raise SoapFault("缺少SOAPAction")
        if action.strip().strip('"') != soap_action(name.localname):
            raise SoapFault(f"SOAPAction与请求操作不一致：{action}")
        return name.localname, _Parts(element)

    # -- lookups that fault the way this court words them -------------------------------------------

    def _case(self, case_id: str) -> Case:
        try:
            return self.court.case(case_id.strip())
        except Missing:
            raise SoapFault(f"未找到案件：{case_id}") from None

    # -- operations ---------------------------------------------------------------------------------

    def login(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("auth")
        credentials = self.config.credentials
        if (parts.text("yhm"), parts.text("mm")) != (credentials.get("username"), credentials.get("password")):
            raise SoapFault(BAD_LOGIN)
        return [_leaf("sessionId", self.sessions.issue()), _leaf("fhxx", "登录成功")]

    def query_aj_list(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("list_cases")
        who = parts.person()
        return _case_list(self.court.cases_of(who), *parts.page())

    def query_fy_aj_list(self, parts: _Parts) -> list[etree._Element]:
        """法院案件列表: the court's cases as its staff see them, paged like QueryAjList."""
        self.state.count("list_court_cases")
        scope = parts.scope()
        return _case_list(self.court.cases_in_scope(scope), *parts.page())

    def get_ajxx(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("get_cases")
        return [case_xml(self._case(parts.text("ajbh")))]

    def query_aj_by_ah(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("find_case")
        number = parts.text("ah").strip()
        try:
            return [case_xml(self.court.case_by_number(number))]
        except Missing:
            raise SoapFault(f"未找到案件：{number}") from None

    def query_ws_list(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("list_documents")
        documents = self.court.documents_of(parts.person())
        return [_leaf("zs", str(len(documents))), _list("wsList", map(_document_xml, documents))]

    def qd_ws(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("sign_document")
        level, method = parts.text("rzdj").strip(), parts.text("qsfs").strip()
        if level not in IDENTITY_LEVELS or method not in SIGN_METHODS:
            raise SoapFault("参数错误：认证等级或签收方式不正确")
        signature = Signature(
            idempotency_key=parts.text("lsh"),
            document_id=parts.text("wsbh").strip(),
            signer_name=parts.text("qsrxm"),
            signer_id_number=parts.text("qsrzjhm").strip(),
            identity_level=IDENTITY_LEVELS[level],
            signed_at=parts.moment("qssj"),
            method=SIGN_METHODS[method],
        )
        try:
            receipt = self.court.sign(signature)
        except Missing:
            raise SoapFault(f"未找到文书：{signature.document_id}") from None
        except Refused as e:
            raise SoapFault(f"拒绝签收：{e}") from None
        return [_leaf("wsbh", receipt.document_id), _leaf("qssj", _time(receipt.signed_at))]

    def tj_cl(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("submit_filing")
        case = self._case(parts.text("ajbh"))
        if parts.text("ah").strip() != case.case_number:
            raise SoapFault("参数错误：案号与案件编号不符")
        kind = FILING_KINDS.get(parts.text("cllx").strip())
        if kind is None:
            raise SoapFault("参数错误：材料类型不正确")
        filing = Filing(
            idempotency_key=parts.text("ywlsh"),
            case_id=case.case_id,
            case_number=case.case_number,
            kind=kind,
            title=parts.text("clmc"),
            filer_name=parts.text("tjrxm"),
            filer_id_number=parts.text("tjrzjhm").strip(),
            attachments=self._attachments(parts.element("fjList")),
        )
        try:
            receipt = self.court.submit_filing(filing)
        except Conflict:
            raise SoapFault("业务流水号重复且材料内容不一致") from None
        return [_leaf("hzh", receipt.receipt_number), _leaf("jssj", _time(receipt.received_at))]

    @staticmethod
    def _attachments(fj_list: etree._Element | None) -> tuple[Attachment, ...]:
        if fj_list is None or len(fj_list) == 0:
            raise SoapFault("参数错误：缺少附件")
        attachments = []
        for fj in fj_list:
            try:
                content = base64.b64decode(fj.findtext("wjnr") or "", validate=False)
            except binascii.Error:
                raise SoapFault("参数错误：附件内容不是有效的Base64") from None
            attachments.append(Attachment(fj.findtext("wjm") or "", fj.findtext("wjlx") or "", content))
        return tuple(attachments)

    def query_jz(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("list_volumes")
        case = self._case(parts.text("ajbh"))
        return [_list("jzList", map(_volume_xml, self.court.volumes(case.case_id)))]

    def get_jzcl(self, parts: _Parts) -> list[etree._Element]:
        self.state.count("read_material")
        case = self._case(parts.text("ajbh"))
        material_id = parts.text("clbh").strip()
        volumes = self.court.volumes(case.case_id)
        material = next((m for v in volumes for m in v.materials if m.material_id == material_id), None)
        if material is None:
            raise SoapFault(f"未找到材料：{material_id}")
        content = self.court.material(case.case_id, material_id)
        # sun.misc.BASE64Encoder style: wrapped at 76 columns
        return [
            _leaf("clbh", material_id),
            _leaf("wjlx", material.content_type),
            _leaf("wjnr", base64.encodebytes(content).decode("ascii")),
        ]

    def query_bg_list(self, parts: _Parts) -> list[etree._Element]:
        """Changes at or after ``kssj``, to the second: the caller sorts out what it has already seen."""
        self.state.count("changes")
        since = parts.moment("kssj", fraction=False)
        page_no, page_size = parts.page()
        events = self.court.events_since(since)
        rows = events[(page_no - 1) * page_size : page_no * page_size]
        return [_leaf("zs", str(len(events))), _list("bgList", map(_event_xml, rows))]

    def query_ry_list(self, parts: _Parts) -> list[etree._Element]:
        """人员名册: the whole court's staff in the court's own order, paged like every list here."""
        self.state.count("list_staff")
        page_no, page_size = parts.page()
        staff = self.court.staff()
        rows = staff[(page_no - 1) * page_size : page_no * page_size]
        return [_leaf("zs", str(len(staff))), _list("ryList", map(_staff_xml, rows))]

    def tj_dlr(self, parts: _Parts) -> list[etree._Element]:
        """添加代理人: the clerk's entry of a lawyer, once per 业务流水号."""
        self.state.count("add_agent")
        case = self._case(parts.text("ajbh"))
        agent = Agent(
            name=parts.text("xm"),
            licence_number=parts.text("zyzh").strip(),
            firm=parts.text("lsswsmc"),
            client_id_number=parts.text("wtrzjhm").strip(),
            phone=parts.text("lxdh", required=False).strip() or None,
        )
        try:
            receipt = self.court.add_agent(case.case_id, agent, parts.text("ywlsh"))
        except Conflict:
            raise SoapFault("业务流水号重复且代理人信息不一致") from None
        except Refused as e:
            raise SoapFault(f"拒绝登记：{e}") from None
        return [
            _leaf("ajbh", receipt.case_id),
            _leaf("zyzh", receipt.licence_number),
            _leaf("djsj", _time(receipt.recorded_at)),
        ]
