"""The csv-export family (南沙, 从化): the oldest, a JSP-era file-export server behind HTTP Basic auth.

The reference an adapter author reads:

- Every request carries HTTP Basic credentials; wrong or missing ones get ``401`` and a
  ``WWW-Authenticate: Basic`` challenge.
- Reads are files by path: CSV, encoded GB18030, ``\\r\\n`` line ends, a Chinese header row, dates like
  ``2023年5月12日`` and times like ``2023年5月12日 9时30分`` (``…30分25秒`` when the seconds are not
  zero). Every file has an ``ETag``; ``If-None-Match`` with it answers ``304 Not Modified``.

  ========================================  =============================================================
  ``/export/dsr/{证件号码}/ajlb.csv``        a party's cases: every row, newest filing first, no paging
  ``/export/dlr/{执业证号}/ajlb.csv``        a lawyer's cases, likewise
  ``/export/ry/{人员编号}/ajlb.csv``         the staff side: cases whose 合议庭 includes this member, likewise
  ``/export/bm/{部门}/ajlb.csv``             the staff side: a division's cases, likewise
  ``/export/fy/ajlb.csv``                   the staff side: every case of the court, likewise
  ``/export/fy/rylb.csv``                   the court's roster (人员名册), in the court's own order
  ``/export/aj/{案件编号}.csv``              one case (same columns)
  ``/export/ah/{案号}.csv``                  one case found by its case number
  ``/export/dsr|dlr/{号码}/sdws.csv``        documents served to the person (送达文书)
  ``/export/aj/{案件编号}/jz.csv``           the case file: one row per material, with its volume (卷宗)
  ``/files/jz/{案件编号}/{材料编号}.pdf``     a material
  ``/export/tz/{台账}.csv``                  an append-only journal with a 序号 column (see JOURNALS)
  ========================================  =============================================================

  A case's lists are packed into one cell each: records separated by ``;``, fields by ``|``
  (``张三|440…|原告|自然人|138…;李四|…``), each level CSV-quoted when a value needs it, so nothing is lost.
  An empty field is "no value" (an organisation's phone).
- There is no change feed. The court keeps journals (台账) that only ever grow; a client re-reads them
  conditionally and takes the rows beyond the last 序号 it saw. 登记号 is the court's event number.
- Writes are the upload forms a clerk's browser would post (field names as in FILING_FIELDS and
  SIGN_FIELDS): ``POST /upload/tjcl.do`` (提交材料, ``multipart/form-data``, files as ``fj`` parts, text
  fields in GB18030 unless a part names its charset, the hidden ``lsh`` 流水号 making a resubmission
  harmless) and ``POST /upload/qsws.do`` (签收, urlencoded with GB18030 percent-escapes). The answer is an
  HTML page declaring GBK (the bytes are GB18030, GBK's superset) with ``回执号：…`` / ``接收时间：…`` or
  ``文书编号：…`` / ``签收时间：…`` in its text. A refusal (a 流水号 reused for other materials, a document
  not served to the signer) is a ``200`` page with a ``<div class="error">``; an unknown case or document
  is a ``404`` page. There is no form for entering a lawyer on a case online: only a clerk at the
  court's own screen can (the staff desk), which the journal 代理人登记台账 then shows.
- Busy is ``503`` with ``Retry-After`` and a "服务器繁忙" page; a crash is a ``500`` page.

The court's clock keeps whole seconds: a filing's receipt time is recorded to the second, and journal
times show whole seconds. Besides the shared operation counters, every 304 counts ``not_modified``.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import NamedTuple
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import hdrs, web

from gateway.adapters.model import (
    CHINA_TZ,
    Attachment,
    Case,
    CaseFileVolume,
    CaseScope,
    CaseStatus,
    ChangeEvent,
    ChangeKind,
    Filing,
    FilingKind,
    FilingReceipt,
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

log = logging.getLogger("simulators.csv_export")

CSV_TYPE = "text/csv; charset=GB18030"
HTML_TYPE = "text/html; charset=GBK"  # what the JSPs declare; GB18030 bytes decode as GBK for common text
ENCODING = "gb18030"
RETRY_AFTER_S = 1

# fmt: off
CASE_HEADER = ("案号", "案件编号", "案由", "案件类型", "立案日期", "案件状态", "结案日期", "归档日期",
               "是否公开审理", "承办部门", "当事人", "代理人", "合议庭", "开庭", "关联案号", "最后更新时间")
DOCUMENT_HEADER = ("文书编号", "案号", "文书名称", "文书类型", "受送达人", "受送达人类别", "受送达人证件号码",
                   "送达方式", "送达时间", "地址已确认", "签收时间", "文书摘要")
# fmt: on
STAFF_HEADER = ("人员编号", "姓名", "角色", "部门", "手机号")
VOLUME_HEADER = ("卷宗编号", "卷宗类型", "卷宗名称", "材料编号", "材料名称", "页数", "是否公开", "文件类型")

STATUS_WORDS = {
    CaseStatus.FILED: "立案",
    CaseStatus.IN_TRIAL: "审理",
    CaseStatus.CLOSED: "结案",
    CaseStatus.ARCHIVED: "归档",
}
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
PARTY_KINDS = {PartyKind.PERSON: "自然人", PartyKind.ORGANISATION: "单位"}
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
    ServiceChannel.COURT_PLATFORM: "法院电子送达平台",
    ServiceChannel.NATIONAL_PLATFORM: "全国统一送达平台",
    ServiceChannel.SMS: "短信",
    ServiceChannel.EMAIL: "电子邮件",
}
ADDRESSEE_KINDS = {IdentityKind.ID_NUMBER: "当事人", IdentityKind.LICENCE_NUMBER: "诉讼代理人"}
VOLUME_KINDS = {VolumeKind.MAIN: "正卷", VolumeKind.INTERNAL: "副卷"}
FILING_KINDS = {
    "答辩状": FilingKind.DEFENCE_STATEMENT,
    "代理词": FilingKind.AGENT_OPINION,
    "补充证据材料": FilingKind.EVIDENCE,
    "申请书": FilingKind.APPLICATION,
}
IDENTITY_LEVELS = {"手机验证": "PHONE", "实名认证": "REAL_NAME", "人脸识别": "FACE"}
SIGN_METHODS = {"在线确认": "ONLINE_CONFIRMATION", "电子签章": "E_SEAL"}

#: the upload form's fields (pinyin, as the JSP names them) and what its page calls them
FILING_FIELDS = {
    "lsh": "流水号",
    "ajbh": "案件编号",
    "ah": "案号",
    "cllx": "材料类型",
    "clmc": "材料名称",
    "tjrxm": "提交人姓名",
    "tjrzjhm": "提交人证件号码",
}
SIGN_FIELDS = {
    "lsh": "流水号",
    "wsbh": "文书编号",
    "qsrxm": "签收人姓名",
    "qsrzjhm": "签收人证件号码",
    "rzdj": "认证等级",
    "qsfs": "签收方式",
    "qssj": "签收时间",
}
ATTACHMENT_FIELD = "fj"


class Journal(NamedTuple):
    """One 台账: which events it records and the columns it has beyond 序号, 登记号, 案件编号, 案号, 登记时间."""

    kind: ChangeKind
    title: str
    details: tuple[tuple[str, Callable[[ChangeEvent], str | None]], ...] = ()


#: file name (without .csv) → journal
JOURNALS = {
    "clcltz": Journal(
        ChangeKind.FILING_HANDLED,
        "材料处理台账",
        (("回执号", lambda e: e.filing_receipt_number), ("处理结果", lambda e: e.result)),
    ),
    "sdtz": Journal(ChangeKind.DOCUMENT_SERVED, "送达台账", (("文书编号", lambda e: e.document_id),)),
    "pqtz": Journal(ChangeKind.HEARING_SCHEDULED, "排期台账", (("排期编号", lambda e: e.hearing_id),)),
    "jatz": Journal(ChangeKind.CASE_CLOSED, "结案台账"),
    "gdtz": Journal(ChangeKind.CASE_ARCHIVED, "归档台账"),
    "dlrdjtz": Journal(ChangeKind.AGENT_ADDED, "代理人登记台账", (("执业证号", lambda e: e.licence_number),)),
}

_MOMENT = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2})时(\d{1,2})分(?:(\d{1,2})秒)?")


class FormError(Exception):
    """The form was filled in wrongly; answered as a 200 page with the message in ``<div class="error">``."""


# -- rendering --------------------------------------------------------------------------------------


def render_date(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else ""


def render_time(value: datetime | None) -> str:
    """``2023年5月12日 14时30分``; seconds only when there are some, fractions never."""
    if value is None:
        return ""
    local = value.astimezone(CHINA_TZ)
    text = f"{render_date(local.date())} {local.hour}时{local.minute:02d}分"
    return f"{text}{local.second:02d}秒" if local.second else text


def parse_time(value: str) -> datetime | None:
    match = _MOMENT.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=CHINA_TZ)


def _flag(value: bool) -> str:
    return "是" if value else "否"


def _line(fields: Iterable[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerow(fields)
    return buf.getvalue().removesuffix("\r\n")


def pack(records: Iterable[Sequence[str | None]]) -> str:
    """A list in one cell: records joined by ``;``, fields by ``|``, each level CSV-quoted as needed."""
    return _line((_line((f or "" for f in r), "|") for r in records), ";")


def case_row(case: Case) -> list[str]:
    return [
        case.case_number,
        case.case_id,
        case.cause,
        case.type_code,
        render_date(case.filed_on),
        STATUS_WORDS[case.status],
        render_date(case.closed_on),
        render_date(case.archived_on),
        _flag(case.public_hearing),
        case.division,
        pack((p.name, p.id_number, PARTY_ROLES[p.role], PARTY_KINDS[p.kind], p.phone) for p in case.parties),
        pack((a.name, a.licence_number, a.firm, a.client_id_number, a.phone) for a in case.agents),
        pack((s.staff_id, s.name, STAFF_ROLES[s.role], s.division, s.phone) for s in case.panel),
        pack((h.hearing_id, render_time(h.starts_at), h.room, h.kind) for h in case.hearings),
        pack((n,) for n in case.related_case_numbers),
        render_time(case.last_activity_at),
    ]


def staff_row(member: Staff) -> list[str]:
    return [member.staff_id, member.name, STAFF_ROLES[member.role], member.division, member.phone or ""]


def document_row(doc: ServedDocument) -> list[str]:
    return [
        doc.document_id,
        doc.case_number,
        doc.title,
        doc.doc_type,
        doc.addressee_name,
        ADDRESSEE_KINDS[doc.addressee.kind],
        doc.addressee.number,
        CHANNELS[doc.channel],
        render_time(doc.served_at),
        _flag(doc.address_confirmed),
        render_time(doc.signed_at),
        doc.fingerprint,
    ]


def volume_rows(volume: CaseFileVolume) -> list[list[str]]:
    """One row per material; a volume without materials still has one row, with the material columns empty."""
    head = [volume.volume_id, VOLUME_KINDS[volume.kind], volume.title]
    rows = [[*head, m.material_id, m.title, str(m.pages), _flag(m.published), m.content_type] for m in volume.materials]
    return rows or [head + [""] * 5]


def journal_csv(journal: Journal, events: Iterable[ChangeEvent]) -> bytes:
    header = ["序号", "登记号", "案件编号", "案号", *(name for name, _ in journal.details), "登记时间"]
    rows = [
        [
            str(n),
            e.event_id,
            e.case_id,
            e.case_number,
            *(get(e) or "" for _, get in journal.details),
            render_time(e.occurred_at),
        ]
        for n, e in enumerate(events, start=1)
    ]
    return csv_bytes(header, rows)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(ENCODING)


def html_page(
    title: str,
    lines: Iterable[str],
    *,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A page as the court's JSPs render it: a GBK meta tag, one ``<p>`` per line, errors in a div."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if error is not None:
        body = f'<div class="error">{html.escape(error)}</div>{body}'
    text = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\r\n<html><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=GBK">'
        f"<title>{html.escape(title)}</title></head>\r\n<body><h2>{html.escape(title)}</h2>{body}"
        '<hr><a href="javascript:history.back()">返回</a></body></html>\r\n'
    )
    return web.Response(
        body=text.encode(ENCODING), status=status, headers={hdrs.CONTENT_TYPE: HTML_TYPE, **(headers or {})}
    )


def not_found(request: web.Request) -> web.Response:
    return html_page("404 Not Found", [f"您访问的文件不存在：{request.path}"], status=404)


# -- reading forms ----------------------------------------------------------------------------------


async def read_upload(request: web.Request) -> tuple[dict[str, str], list[Attachment]]:
    """The multipart upload: text fields (GB18030 unless the part says otherwise) and ``fj`` files."""
    if not request.content_type.startswith("multipart/form-data"):
        raise FormError("请使用上传表单提交（multipart/form-data）")
    fields: dict[str, str] = {}
    files: list[Attachment] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader):
            raise FormError("表单格式不正确")
        content = bytes(await part.read(decode=True))
        if part.name == ATTACHMENT_FIELD:
            content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            files.append(Attachment(part.filename or "", content_type, content))
        elif part.name:
            try:
                fields[part.name] = content.decode(part.get_charset(ENCODING))
            except (LookupError, UnicodeDecodeError):
                raise FormError(f"表单字段{part.name}编码不正确") from None
    return fields, files


async def read_urlencoded(request: web.Request) -> dict[str, str]:
    """An urlencoded form whose percent-escapes are GB18030 bytes, as a GBK page's browser sends them."""
    try:
        text = (await request.read()).decode("ascii")
        return dict(parse_qsl(text, keep_blank_values=True, encoding=ENCODING, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise FormError("表单编码不正确") from None


def _required(form: dict[str, str], labels: dict[str, str]) -> None:
    missing = [label for name, label in labels.items() if not form.get(name, "").strip()]
    if missing:
        raise FormError(f"请填写：{'、'.join(missing)}")


# -- the server -------------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CsvExportSimulator(FamilySimulator):
    """The export server and upload forms of one csv-export court."""

    family = "csv-export"

    def __init__(self, config: CourtConfig, state: BackendState) -> None:
        super().__init__(config, state)
        if not isinstance(state, CourtState):
            raise TypeError("the csv-export family serves courts only")
        self.court: CourtState = state

    def routes(self) -> list[web.RouteDef]:
        who = "{who:dsr|dlr}"
        return [
            self._route("GET", f"/export/{who}/{{number}}/ajlb.csv", "list_cases", self.case_list),
            self._route("GET", "/export/{view:ry|bm}/{key}/ajlb.csv", "list_court_cases", self.court_case_list),
            self._route("GET", "/export/fy/ajlb.csv", "list_court_cases", self.court_case_list),
            self._route("GET", "/export/fy/rylb.csv", "list_staff", self.staff_list),
            self._route("GET", f"/export/{who}/{{number}}/sdws.csv", "list_documents", self.documents),
            self._route("GET", "/export/aj/{ajbh}.csv", "get_cases", self.one_case),
            self._route("GET", "/export/ah/{ah}.csv", "find_case", self.case_by_number),
            self._route("GET", "/export/aj/{ajbh}/jz.csv", "list_volumes", self.volumes),
            self._route("GET", "/files/jz/{ajbh}/{clbh}.pdf", "read_material", self.material),
            self._route("GET", "/export/tz/{name}.csv", "changes", self.journal),
            self._route("POST", "/upload/tjcl.do", "submit_filing", self.submit_filing),
            self._route("POST", "/upload/qsws.do", "sign_document", self.sign_document),
        ]

    def fault_response(self, kind: FaultKind, request: web.Request) -> web.StreamResponse:
        if kind == FaultKind.RATE_LIMITED:
            return html_page(
                "服务器繁忙", ["服务器繁忙，请稍后再试。"], status=503, headers={hdrs.RETRY_AFTER: str(RETRY_AFTER_S)}
            )
        return html_page("500 Internal Server Error", ["系统错误，请联系管理员。"], status=500)

    def _route(self, method: str, path: str, operation: str, handler: Handler) -> web.RouteDef:
        """Basic auth first, then count the operation; a missing record is the server's 404 page."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self._authorised(request):
                return html_page(
                    "401 Unauthorized",
                    ["用户名或密码错误，无权访问。"],
                    status=401,
                    headers={hdrs.WWW_AUTHENTICATE: f'Basic realm="{self.config.short_name}数据导出"'},
                )
            self.state.count(operation)
            try:
                return await handler(request)
            except Missing:
                return not_found(request)
            except FormError as e:
                return html_page("操作失败", [], error=str(e))
            except Exception:
                log.exception("csv-export %s failed", request.path)
                return html_page("500 Internal Server Error", ["系统错误，请联系管理员。"], status=500)

        return web.route(method, path, guarded)

    def _authorised(self, request: web.Request) -> bool:
        try:
            auth = aiohttp.BasicAuth.decode(request.headers.get(hdrs.AUTHORIZATION, ""))
        except ValueError:
            return False
        credentials = self.config.credentials
        return (auth.login, auth.password) == (credentials.get("username"), credentials.get("password"))

    def _file(self, request: web.Request, body: bytes, content_type: str, filename: str) -> web.Response:
        """A download with an ETag of its bytes; a matching ``If-None-Match`` gets 304 and no body."""
        etag = hashlib.sha256(body).hexdigest()[:32]
        if any(tag.value in (etag, "*") for tag in request.if_none_match or ()):
            self.state.count("not_modified")
            response = web.Response(status=304)
        else:
            response = web.Response(
                body=body,
                headers={
                    hdrs.CONTENT_TYPE: content_type,
                    hdrs.CONTENT_DISPOSITION: f'attachment; filename="{filename}"',
                },
            )
        response.etag = etag
        return response

    def _csv(
        self, request: web.Request, filename: str, header: Sequence[str], rows: Iterable[Sequence[str]]
    ) -> web.Response:
        return self._file(request, csv_bytes(header, rows), CSV_TYPE, filename)

    @staticmethod
    def _person(request: web.Request) -> PersonRef:
        number = request.match_info["number"]
        return PersonRef.party(number) if request.match_info["who"] == "dsr" else PersonRef.lawyer(number)

    # -- exports ------------------------------------------------------------------------------------

    async def case_list(self, request: web.Request) -> web.StreamResponse:
        return self._csv(request, "ajlb.csv", CASE_HEADER, map(case_row, self.court.cases_of(self._person(request))))

    async def court_case_list(self, request: web.Request) -> web.StreamResponse:
        """The staff side's lists: a panel member's (ry), a division's (bm) or the whole court's (fy)."""
        view, key = request.match_info.get("view"), request.match_info.get("key", "")
        scope = CaseScope(staff_id=key) if view == "ry" else CaseScope(division=key) if view == "bm" else CaseScope()
        return self._csv(request, "ajlb.csv", CASE_HEADER, map(case_row, self.court.cases_in_scope(scope)))

    async def staff_list(self, request: web.Request) -> web.StreamResponse:
        """人员名册: every member of the court's staff, one row each."""
        return self._csv(request, "rylb.csv", STAFF_HEADER, map(staff_row, self.court.staff()))

    async def one_case(self, request: web.Request) -> web.StreamResponse:
        case = self.court.case(request.match_info["ajbh"])
        return self._csv(request, f"{case.case_id}.csv", CASE_HEADER, [case_row(case)])

    async def case_by_number(self, request: web.Request) -> web.StreamResponse:
        case = self.court.case_by_number(request.match_info["ah"])
        return self._csv(request, f"{case.case_id}.csv", CASE_HEADER, [case_row(case)])

    async def documents(self, request: web.Request) -> web.StreamResponse:
        return self._csv(
            request, "sdws.csv", DOCUMENT_HEADER, map(document_row, self.court.documents_of(self._person(request)))
        )

    async def volumes(self, request: web.Request) -> web.StreamResponse:
        volumes = self.court.volumes(request.match_info["ajbh"])
        return self._csv(request, "jz.csv", VOLUME_HEADER, [row for v in volumes for row in volume_rows(v)])

    async def material(self, request: web.Request) -> web.StreamResponse:
        case_id, material_id = request.match_info["ajbh"], request.match_info["clbh"]
        materials = {m.material_id: m for v in self.court.volumes(case_id) for m in v.materials}
        if material_id not in materials:
            raise Missing(material_id)
        content = self.court.material(case_id, material_id)
        return self._file(request, content, materials[material_id].content_type, f"{material_id}.pdf")

    async def journal(self, request: web.Request) -> web.StreamResponse:
        journal = JOURNALS.get(request.match_info["name"])
        if journal is None:
            raise Missing(request.match_info["name"])
        events = [e for e in self.court.events if e.kind == journal.kind]
        return self._file(request, journal_csv(journal, events), CSV_TYPE, f"{request.match_info['name']}.csv")

    # -- upload forms -------------------------------------------------------------------------------

    async def submit_filing(self, request: web.Request) -> web.StreamResponse:
        form, files = await read_upload(request)
        _required(form, FILING_FIELDS)
        if not files:
            raise FormError("请选择要上传的材料")
        case = self.court.case(form["ajbh"])
        if form["ah"] != case.case_number:
            raise FormError("案号与案件编号不符")
        kind = FILING_KINDS.get(form["cllx"])
        if kind is None:
            raise FormError(f"材料类型不正确：{form['cllx']}")
        filing = Filing(
            idempotency_key=form["lsh"],
            case_id=case.case_id,
            case_number=case.case_number,
            kind=kind,
            title=form["clmc"],
            filer_name=form["tjrxm"],
            filer_id_number=form["tjrzjhm"],
            attachments=tuple(files),
        )
        again = filing.idempotency_key in self.court.filings
        try:
            self.court.submit_filing(filing)
        except Conflict:
            raise FormError(
                f"流水号{filing.idempotency_key}已使用，且所提交材料与原提交不一致，请勿重复使用流水号。"
            ) from None
        receipt = self._keep_whole_seconds(filing.idempotency_key)
        number, received = f"回执号：{receipt.receipt_number}", f"接收时间：{render_time(receipt.received_at)}"
        if again:
            return html_page("材料已提交", [f"该材料已提交，{number}", received])
        return html_page("提交成功", ["材料提交成功！", number, received])

    def _keep_whole_seconds(self, key: str) -> FilingReceipt:
        """The court's clock has no fractions: record the receipt time as the page shows it."""
        record = self.court.filings[key]
        record.receipt = replace(record.receipt, received_at=record.receipt.received_at.replace(microsecond=0))
        return record.receipt

    async def sign_document(self, request: web.Request) -> web.StreamResponse:
        form = await read_urlencoded(request)
        _required(form, SIGN_FIELDS)
        signed_at = parse_time(form["qssj"])
        if signed_at is None:
            raise FormError("签收时间格式不正确，应为yyyy年M月d日 H时mm分ss秒")
        if form["rzdj"] not in IDENTITY_LEVELS or form["qsfs"] not in SIGN_METHODS:
            raise FormError("认证等级或签收方式不正确")
        signature = Signature(
            idempotency_key=form["lsh"],
            document_id=form["wsbh"],
            signer_name=form["qsrxm"],
            signer_id_number=form["qsrzjhm"],
            identity_level=IDENTITY_LEVELS[form["rzdj"]],
            signed_at=signed_at,
            method=SIGN_METHODS[form["qsfs"]],
        )
        again = signature.document_id in self.court.signatures
        try:
            receipt = self.court.sign(signature)
        except Refused as e:
            raise FormError(f"拒绝签收：{e}") from None
        headline = "该文书已签收，无需重复签收。" if again else "签收成功！"
        lines = [headline, f"文书编号：{receipt.document_id}", f"签收时间：{render_time(receipt.signed_at)}"]
        return html_page("文书签收", lines)
