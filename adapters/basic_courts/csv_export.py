"""The csv-export family (南沙, 从化): CSV file exports and HTML upload forms behind HTTP Basic auth.

Everything peculiar to this family ends in this module: GB18030 CSV with Chinese header rows, 年月日
dates and 时分 times, lists packed into cells (``;`` between records, ``|`` between fields, CSV-quoted),
ETags, journals (台账) instead of a change feed, multipart upload forms, and HTML answer pages whose
``回执号：…`` has to be read out of the text.

The court never pages: a person's case list, like a staff view of the court (a panel member's, a
division's, the whole court's), is one file with every row. This adapter pages it itself (the position
is an offset) and keeps the last list per export with its ETag, so that reading page 2, 3, … costs the
court a ``304 Not Modified``. Changes come from re-reading the journals conditionally;
the cursor remembers each journal's ETag and the last 序号 seen. The roster is one export
(``/export/fy/rylb.csv``) kept with its ETag, so asking again while it is unchanged costs a 304.

The family has no way to enter a lawyer online (only a clerk at the court's own screen can), so
``supports_agent_writes`` is False and ``add_agent`` raises ``CourtUnsupported`` without a request.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
from lxml import etree

from adapters.basic_courts.terms import PARTY_ROLES, STAFF_ROLES
from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtRateLimited,
    CourtRejected,
    CourtUnavailable,
    CourtUnsupported,
    NotFoundAtCourt,
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
Row = dict[str, str]

_ENCODING = "gb18030"  # the court says GBK in its pages; GB18030 is the superset that also reads rare names
_HTML = etree.HTMLParser(no_network=True)
_LISTS_KEPT = 256  # case-list exports (a person's, a staff view's) we remember with their ETags

# the court's words → the canonical model
_STATUS = {
    "立案": CaseStatus.FILED,
    "审理": CaseStatus.IN_TRIAL,
    "结案": CaseStatus.CLOSED,
    "归档": CaseStatus.ARCHIVED,
}
_PARTY_KINDS = {"自然人": PartyKind.PERSON, "单位": PartyKind.ORGANISATION}
_CHANNELS = {
    "法院电子送达平台": ServiceChannel.COURT_PLATFORM,
    "全国统一送达平台": ServiceChannel.NATIONAL_PLATFORM,
    "短信": ServiceChannel.SMS,
    "电子邮件": ServiceChannel.EMAIL,
}
_ADDRESSEES = {"当事人": IdentityKind.ID_NUMBER, "诉讼代理人": IdentityKind.LICENCE_NUMBER}
_VOLUME_KINDS = {"正卷": VolumeKind.MAIN, "副卷": VolumeKind.INTERNAL}
_FLAGS = {"是": True, "否": False}
#: journal file → the events it records
_JOURNALS = {
    "clcltz": ChangeKind.FILING_HANDLED,  # 材料处理台账
    "sdtz": ChangeKind.DOCUMENT_SERVED,  # 送达台账
    "pqtz": ChangeKind.HEARING_SCHEDULED,  # 排期台账
    "jatz": ChangeKind.CASE_CLOSED,  # 结案台账
    "gdtz": ChangeKind.CASE_ARCHIVED,  # 归档台账
    "dlrdjtz": ChangeKind.AGENT_ADDED,  # 代理人登记台账
}
# … and the canonical model → the court's words, for what we send
_FILING_KINDS = {
    FilingKind.DEFENCE_STATEMENT: "答辩状",
    FilingKind.AGENT_OPINION: "代理词",
    FilingKind.EVIDENCE: "补充证据材料",
    FilingKind.APPLICATION: "申请书",
}
_IDENTITY_LEVELS = {"PHONE": "手机验证", "REAL_NAME": "实名认证", "FACE": "人脸识别"}
_SIGN_METHODS = {"ONLINE_CONFIRMATION": "在线确认", "E_SEAL": "电子签章"}

_DATE = r"(\d{4})年(\d{1,2})月(\d{1,2})日"
_TIME = _DATE + r"\s*(\d{1,2})时(\d{1,2})分(?:(\d{1,2})秒)?"


class _Malformed(ValueError):
    """The export or page is not what this court publishes."""


class _Refusal(Exception):
    """An answer page that says no (``<div class="error">``), though HTTP said 200."""


class _Mark(NamedTuple):
    """How far one journal has been read: its ETag then, and the last 序号 taken."""

    etag: str | None
    last: int


# -- reading the court's files and pages --------------------------------------------------------------


def _read_csv(body: bytes) -> list[Row]:
    """An export's rows by header name; a row with more or fewer cells than the header is malformed."""
    reader = csv.DictReader(io.StringIO(body.decode(_ENCODING), newline=""))
    rows: list[Row] = []
    for row in reader:
        if None in row or None in row.values():
            raise _Malformed(f"line {reader.line_num} does not match the header")
        rows.append(row)
    return rows


def _staff(rows: list[Row]) -> list[Staff]:
    """人员名册 rows: 人员编号, 姓名, 角色 (the court's word), 部门, 手机号 (empty when unknown)."""
    return [
        Staff(row["人员编号"], row["姓名"], _code(STAFF_ROLES, row["角色"]), row["部门"], _optional(row["手机号"]))
        for row in rows
    ]


def _unpack(cell: str) -> list[list[str]]:
    """A packed list cell: records split on ``;``, fields on ``|``, both by the csv module (they are quoted)."""
    if not cell:
        return []
    records = next(csv.reader([cell], delimiter=";"))
    return [next(csv.reader([record], delimiter="|")) for record in records]


def _optional(value: str) -> str | None:
    """An empty cell is how this court says "no value"."""
    return value or None


def _code(table: dict[str, T], value: str) -> T:
    if value not in table:
        raise _Malformed(f"unknown value {value!r}")
    return table[value]


def _date(value: str) -> date | None:
    if not value:
        return None
    match = re.fullmatch(_DATE, value.strip())
    if match is None:
        raise _Malformed(f"not a date: {value!r}")
    return date(*map(int, match.groups()))


def _time(value: str) -> datetime | None:
    if not value:
        return None
    match = re.fullmatch(_TIME, value.strip())
    if match is None:
        raise _Malformed(f"not a time: {value!r}")
    year, month, day, hour, minute, second = match.groups()
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=CHINA_TZ)


def _required_time(value: str) -> datetime:
    moment = _time(value)
    if moment is None:
        raise _Malformed("a required time is empty")
    return moment


def _wire_time(value: datetime) -> str:
    """What the court's forms expect; it keeps whole seconds."""
    local = value.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local.hour}时{local.minute:02d}分{local.second:02d}秒"


def _answer_text(body: bytes) -> str:
    """The text of an HTML answer page, or the refusal it carries."""
    page = etree.fromstring(body.decode(_ENCODING), _HTML)
    if page is None:
        raise _Malformed("an empty answer page")
    for error in page.iterfind(".//div[@class='error']"):
        raise _Refusal(etree.tostring(error, method="text", encoding="unicode", with_tail=False).strip())
    return etree.tostring(page, method="text", encoding="unicode")


def _labelled(text: str, label: str, pattern: str) -> str:
    """The value after ``label：`` in an answer page's text."""
    match = re.search(rf"{label}[：:]\s*({pattern})", text)
    if match is None:
        raise _Malformed(f"the answer page has no {label}")
    return match.group(1)


# -- the court's rows as the canonical model -------------------------------------------------------------


def _case(court_code: str, row: Row) -> Case:
    type_code = row["案件类型"]
    filed_on = _date(row["立案日期"])
    if filed_on is None or type_code not in TYPE_CODES:
        raise _Malformed(f"case {row['案件编号']}: bad 立案日期 or 案件类型")
    return Case(
        case_id=row["案件编号"],
        court_code=court_code,
        case_number=row["案号"],
        type_code=type_code,
        procedure=TYPE_CODES[type_code],
        cause=row["案由"],
        status=_code(_STATUS, row["案件状态"]),
        filed_on=filed_on,
        closed_on=_date(row["结案日期"]),
        archived_on=_date(row["归档日期"]),
        public_hearing=_code(_FLAGS, row["是否公开审理"]),
        division=row["承办部门"],
        parties=tuple(
            Party(name, number, _code(PARTY_ROLES, role), _code(_PARTY_KINDS, kind), _optional(phone))
            for name, number, role, kind, phone in _unpack(row["当事人"])
        ),
        agents=tuple(
            Agent(name, licence, firm, client, _optional(phone))
            for name, licence, firm, client, phone in _unpack(row["代理人"])
        ),
        panel=tuple(
            Staff(staff_id, name, _code(STAFF_ROLES, role), division, _optional(phone))
            for staff_id, name, role, division, phone in _unpack(row["合议庭"])
        ),
        hearings=tuple(
            Hearing(hearing_id, _required_time(starts), room, kind)
            for hearing_id, starts, room, kind in _unpack(row["开庭"])
        ),
        related_case_numbers=tuple(number for (number,) in _unpack(row["关联案号"])),
        last_activity_at=_time(row["最后更新时间"]),
    )


def _single_case(court_code: str, body: bytes) -> Case:
    rows = _read_csv(body)
    if len(rows) != 1:
        raise _Malformed(f"a single-case export with {len(rows)} rows")
    return _case(court_code, rows[0])


def _document(court_code: str, row: Row) -> ServedDocument:
    return ServedDocument(
        document_id=row["文书编号"],
        source_code=court_code,
        court_code=court_code,
        case_number=row["案号"],
        title=row["文书名称"],
        doc_type=row["文书类型"],
        addressee_name=row["受送达人"],
        addressee=PersonRef(_code(_ADDRESSEES, row["受送达人类别"]), row["受送达人证件号码"]),
        channel=_code(_CHANNELS, row["送达方式"]),
        served_at=_required_time(row["送达时间"]),
        address_confirmed=_code(_FLAGS, row["地址已确认"]),
        signed_at=_time(row["签收时间"]),
        fingerprint=row["文书摘要"],
    )


def _volumes(rows: list[Row]) -> list[CaseFileVolume]:
    """One row per material, grouped by 卷宗编号 in file order; an empty volume has empty material cells."""
    heads: dict[str, tuple[VolumeKind, str]] = {}
    materials: dict[str, list[Material]] = {}
    for row in rows:
        volume_id = row["卷宗编号"]
        if volume_id not in heads:
            heads[volume_id] = (_code(_VOLUME_KINDS, row["卷宗类型"]), row["卷宗名称"])
            materials[volume_id] = []
        if row["材料编号"]:
            materials[volume_id].append(
                Material(
                    row["材料编号"], row["材料名称"], int(row["页数"]), _code(_FLAGS, row["是否公开"]), row["文件类型"]
                )
            )
    return [CaseFileVolume(v, kind, title, tuple(materials[v])) for v, (kind, title) in heads.items()]


def _event(court_code: str, kind: ChangeKind, row: Row) -> ChangeEvent:
    """A journal row; the columns a journal does not have are None."""
    return ChangeEvent(
        event_id=row["登记号"],
        kind=kind,
        court_code=court_code,
        case_id=row["案件编号"],
        case_number=row["案号"],
        occurred_at=_required_time(row["登记时间"]),
        filing_receipt_number=_optional(row.get("回执号", "")),
        result=_optional(row.get("处理结果", "")),
        document_id=_optional(row.get("文书编号", "")),
        hearing_id=_optional(row.get("排期编号", "")),
        licence_number=_optional(row.get("执业证号", "")),
    )


def _filing_receipt(body: bytes) -> FilingReceipt:
    text = _answer_text(body)
    return FilingReceipt(
        _labelled(text, "回执号", r"[0-9A-Za-z_-]+"), _required_time(_labelled(text, "接收时间", _TIME))
    )


def _signature_receipt(body: bytes) -> SignatureReceipt:
    text = _answer_text(body)
    document_id = _labelled(text, "文书编号", r"[0-9A-Za-z_-]+")
    return SignatureReceipt(document_id, _required_time(_labelled(text, "签收时间", _TIME)))


# -- paths, positions, cursors ---------------------------------------------------------------------------


def _path(*segments: str) -> str:
    """A file's path, each segment percent-encoded (case numbers and ids go into paths)."""
    return "/" + "/".join(quote(s, safe="") for s in segments)


def _person_dir(who: PersonRef) -> str:
    return "dsr" if who.kind == IdentityKind.ID_NUMBER else "dlr"


def _scope_path(scope: CaseScope) -> str:
    """A staff view's export: a panel member's (ry) wins over a division's (bm); neither is the court's (fy)."""
    if scope.staff_id:
        return _path("export", "ry", scope.staff_id, "ajlb.csv")
    if scope.division:
        return _path("export", "bm", scope.division, "ajlb.csv")
    return _path("export", "fy", "ajlb.csv")


def _read_cursor(court_code: str, cursor: str | None) -> dict[str, _Mark]:
    if cursor is None:
        return {}
    try:
        marks = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return {name: _Mark(etag, int(last)) for name, (etag, last) in marks.items()}
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise CourtRejected(court_code, f"not a change cursor of this court: {cursor!r}") from None


def _write_cursor(marks: dict[str, _Mark]) -> str:
    text = json.dumps({name: list(mark) for name, mark in marks.items()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii")


# -- the adapter -----------------------------------------------------------------------------------------


class CsvExportAdapter(HttpCourtAdapter):
    """The export server and upload forms of one csv-export court, as the canonical contract."""

    max_page_size = 20
    supports_agent_writes = False  # no online form for it: only the clerk's own screen

    def __init__(self, court: CourtConfig) -> None:
        super().__init__(court)
        self._lists: OrderedDict[str, tuple[str, list[Case]]] = OrderedDict()  # export path → (ETag, cases)
        self._roster: tuple[str, list[Staff]] | None = None  # (ETag, staff) of the last roster export

    # -- plumbing: Basic credentials, one way to ask, one way to parse (the HTTP session is the base's) -----

    def _default_headers(self) -> Mapping[str, str]:
        user, password = self.court.credentials.get("username", ""), self.court.credentials.get("password", "")
        return {"Authorization": aiohttp.encode_basic_auth(user, password)}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        etag: str | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> HttpReply:
        """One request; a conditional GET when ``etag`` is given. Returns 200 and 304 answers, raises the rest."""
        sent = {**(headers or {}), **({"If-None-Match": etag} if etag else {})}
        reply = await self._exchange(method, path, label=path, headers=sent, data=data)
        code = self.court.code
        if reply.status == 401:
            raise CourtAuthFailed(code, f"{path}: HTTP 401, user name or password refused")
        if reply.status == 404:
            raise NotFoundAtCourt(code, f"{path}: HTTP 404")
        if reply.status == 503 and "Retry-After" in reply.headers:
            raise CourtRateLimited(code, f"{path}: HTTP 503, court busy", retry_after=reply.retry_after)
        if reply.status >= 500:
            raise CourtUnavailable(code, f"{path}: HTTP {reply.status}")
        if reply.status not in (200, 304):
            raise CourtRejected(code, f"{path}: HTTP {reply.status}")
        return reply

    def _parse(self, path: str, parse: Callable[[bytes], T], body: bytes) -> T:
        """Parse an answer; a refusal page is CourtRejected, anything unreadable CourtUnavailable."""
        try:
            return parse(body)
        except _Refusal as e:
            raise CourtRejected(self.court.code, str(e)) from None
        except (ValueError, KeyError) as e:  # _Malformed, bad dates and numbers, undecodable bytes
            raise CourtUnavailable(self.court.code, f"{path}: malformed answer: {e}") from None

    async def _export(self, path: str, parse: Callable[[bytes], T]) -> T:
        return self._parse(path, parse, (await self._request("GET", path)).body)

    # -- reads ---------------------------------------------------------------------------------------------

    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._case_page(_path("export", _person_dir(who), who.number, "ajlb.csv"), position, limit)

    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._case_page(_scope_path(scope), position, limit)

    async def _case_page(self, path: str, position: str | None, limit: int) -> CasePage:
        """A page cut from a case-list export; ``position`` is an offset into it (the caller keeps ``limit``)."""
        size = max(1, min(limit, self.max_page_size))
        if position is not None and not position.isdigit():
            raise CourtRejected(self.court.code, f"not a position of this court: {position!r}")
        start = int(position or 0)
        cases = await self._case_list(path)
        end = start + size
        return CasePage(tuple(cases[start:end]), str(end) if end < len(cases) else None, len(cases))

    async def _case_list(self, path: str) -> list[Case]:
        """A whole case-list export; unchanged since last time (304) it is the list we kept."""
        kept = self._lists.get(path)
        reply = await self._request("GET", path, etag=kept[0] if kept else None)
        if reply.status == 304 and kept is not None:
            self._lists.move_to_end(path)
            return kept[1]
        cases = self._parse(path, lambda body: [_case(self.court.code, row) for row in _read_csv(body)], reply.body)
        if etag := reply.headers.get("ETag"):
            self._lists[path] = (etag, cases)
            self._lists.move_to_end(path)
            while len(self._lists) > _LISTS_KEPT:
                self._lists.popitem(last=False)
        return cases

    async def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        """One single-case export per id (no batch export), at most ``concurrency`` at a time."""

        def one(case_id: str) -> Awaitable[Case]:
            return self._export(
                _path("export", "aj", f"{case_id}.csv"), lambda body: _single_case(self.court.code, body)
            )

        return await self._each_found(case_ids, one)

    async def find_case(self, case_number: str) -> Case | None:
        try:
            return await self._export(
                _path("export", "ah", f"{case_number}.csv"), lambda body: _single_case(self.court.code, body)
            )
        except NotFoundAtCourt:
            return None

    async def list_documents(self, who: PersonRef) -> list[ServedDocument]:
        path = _path("export", _person_dir(who), who.number, "sdws.csv")
        return await self._export(path, lambda body: [_document(self.court.code, row) for row in _read_csv(body)])

    async def list_volumes(self, case_id: str) -> list[CaseFileVolume]:
        return await self._export(_path("export", "aj", case_id, "jz.csv"), lambda body: _volumes(_read_csv(body)))

    async def read_material(self, case_id: str, material_id: str) -> MaterialContent:
        reply = await self._request("GET", _path("files", "jz", case_id, f"{material_id}.pdf"))
        return MaterialContent(material_id, reply.content_type, reply.body)

    async def list_staff(self) -> list[Staff]:
        """The roster export, conditionally: unchanged since last time (304), it is the roster we kept."""
        path = _path("export", "fy", "rylb.csv")
        kept = self._roster
        reply = await self._request("GET", path, etag=kept[0] if kept else None)
        if reply.status == 304 and kept is not None:
            return list(kept[1])
        staff = self._parse(path, lambda body: _staff(_read_csv(body)), reply.body)
        etag = reply.headers.get("ETag")
        self._roster = (etag, staff) if etag else None
        return list(staff)

    async def changes(self, cursor: str | None) -> ChangePage:
        """Every journal re-read conditionally; rows beyond the last 序号 seen, merged oldest first."""
        marks = _read_cursor(self.court.code, cursor)
        read = await gather_or_cancel(self._journal(name, kind, marks.get(name)) for name, kind in _JOURNALS.items())
        events = sorted(
            (e for _, fresh in read for e in fresh), key=lambda e: (e.occurred_at, len(e.event_id), e.event_id)
        )
        return ChangePage(
            tuple(events), _write_cursor({name: mark for name, (mark, _) in zip(_JOURNALS, read, strict=True)})
        )

    async def _journal(self, name: str, kind: ChangeKind, mark: _Mark | None) -> tuple[_Mark, list[ChangeEvent]]:
        path = _path("export", "tz", f"{name}.csv")
        mark = mark or _Mark(None, 0)
        reply = await self._request("GET", path, etag=mark.etag)
        if reply.status == 304:
            return mark, []

        def fresh(body: bytes) -> list[tuple[int, ChangeEvent]]:
            rows = ((int(row["序号"]), row) for row in _read_csv(body))
            return [(n, _event(self.court.code, kind, row)) for n, row in rows if n > mark.last]

        rows = self._parse(path, fresh, reply.body)
        return _Mark(reply.headers.get("ETag"), max([mark.last, *(n for n, _ in rows)])), [e for _, e in rows]

    # -- writes --------------------------------------------------------------------------------------------

    async def submit_filing(self, filing: Filing) -> FilingReceipt:
        """The 提交材料 upload form; the hidden 流水号 carries the idempotency key."""
        form = aiohttp.FormData(charset=_ENCODING, quote_fields=False)
        for name, value in (
            ("lsh", filing.idempotency_key),
            ("ajbh", filing.case_id),
            ("ah", filing.case_number),
            ("cllx", _FILING_KINDS[filing.kind]),
            ("clmc", filing.title),
            ("tjrxm", filing.filer_name),
            ("tjrzjhm", filing.filer_id_number),
        ):
            form.add_field(name, value)
        for attachment in filing.attachments:
            form.add_field("fj", attachment.content, filename=attachment.filename, content_type=attachment.content_type)
        path = "/upload/tjcl.do"
        return self._parse(path, _filing_receipt, (await self._request("POST", path, data=form)).body)

    async def sign_document(self, signature: Signature) -> SignatureReceipt:
        """The 签收 form, urlencoded in GB18030 as the court's GBK page would post it."""
        fields = {
            "lsh": signature.idempotency_key,
            "wsbh": signature.document_id,
            "qsrxm": signature.signer_name,
            "qsrzjhm": signature.signer_id_number,
            "rzdj": _IDENTITY_LEVELS.get(signature.identity_level, signature.identity_level),
            "qsfs": _SIGN_METHODS.get(signature.method, signature.method),
            "qssj": _wire_time(signature.signed_at),
        }
        body = urlencode(fields, encoding=_ENCODING).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        path = "/upload/qsws.do"
        reply = await self._request("POST", path, headers=headers, data=body)
        return self._parse(path, _signature_receipt, reply.body)

    async def add_agent(self, case_id: str, agent: Agent, *, idempotency_key: str) -> AgentReceipt:
        """The oldest system has no form to enter a lawyer: services ask ``supports_agent_writes`` first."""
        raise CourtUnsupported(self.court.code, "this court's system has no online form to enter a lawyer on a case")
