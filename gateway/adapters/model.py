"""The canonical domain model: what every court looks like once its adapter has tamed it.

Plain frozen dataclasses, so they compare by value (the contract suite checks adapters against the
generator's ground truth with ``==``), hash, and pickle into a cache. No GraphQL, no wire format:
a family's field names, encodings and date styles end inside its adapter.

Times are timezone-aware (Asia/Shanghai, +08:00); dates are plain ``date``. Lists are tuples so the
values stay immutable and comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class Tier(StrEnum):
    INTERMEDIATE = "INTERMEDIATE"
    BASIC = "BASIC"
    NATIONAL = "NATIONAL"


class CaseStatus(StrEnum):
    """The four states every court system has, whatever it calls them (立案, 审理, 结案, 归档)."""

    FILED = "FILED"
    IN_TRIAL = "IN_TRIAL"
    CLOSED = "CLOSED"
    ARCHIVED = "ARCHIVED"


class Procedure(StrEnum):
    """The procedure a case's type code stands for (民初 is first instance, 民终 second, …)."""

    FIRST_INSTANCE = "FIRST_INSTANCE"
    SECOND_INSTANCE = "SECOND_INSTANCE"
    RETRIAL_REVIEW = "RETRIAL_REVIEW"
    RETRIAL = "RETRIAL"
    SPECIAL = "SPECIAL"
    PAYMENT_ORDER = "PAYMENT_ORDER"
    REVOCATION = "REVOCATION"
    NON_LITIGATION_REVIEW = "NON_LITIGATION_REVIEW"
    ENFORCEMENT = "ENFORCEMENT"
    ENFORCEMENT_RESUMED = "ENFORCEMENT_RESUMED"
    ENFORCEMENT_OBJECTION = "ENFORCEMENT_OBJECTION"
    ENFORCEMENT_REVIEW = "ENFORCEMENT_REVIEW"
    PRESERVATION = "PRESERVATION"
    BANKRUPTCY_APPLICATION = "BANKRUPTCY_APPLICATION"
    BANKRUPTCY = "BANKRUPTCY"
    # the rest of 人民法院案件类型及其代字标准 (gateway/casenumber_codes.toml)
    JURISDICTION = "JURISDICTION"  # 管辖: 民辖, 刑辖 …
    SUPERVISION = "SUPERVISION"  # 依职权再审审查 and other 监督: 民监, 执监, 民辖监 …
    PROTEST_REVIEW = "PROTEST_REVIEW"  # 抗诉再审审查: 民抗, 刑抗 …
    SENTENCE_REVIEW = "SENTENCE_REVIEW"  # 复核: 刑核
    SENTENCE_CHANGE = "SENTENCE_CHANGE"  # 减刑, 假释, 暂予监外执行: 刑更
    STAY_OF_EXECUTION = "STAY_OF_EXECUTION"  # 停止执行死刑: 刑止
    RECONSIDERATION = "RECONSIDERATION"  # 复议: 刑医复, 行审复, 司惩复 …
    PUBLIC_NOTICE = "PUBLIC_NOTICE"  # 催告: 民催
    PROTECTION_ORDER = "PROTECTION_ORDER"  # 人身安全保护令: 民保令, 民保更
    STATE_COMPENSATION = "STATE_COMPENSATION"  # 国家赔偿: 法赔, 委赔
    JUDICIAL_AID = "JUDICIAL_AID"  # 司法救助: 司救民 …
    RECOGNITION = "RECOGNITION"  # 认可与执行 / 承认与执行: 认港, 协外认 …
    SERVICE_OF_DOCUMENTS = "SERVICE_OF_DOCUMENTS"  # 送达文书: 请港送, 协外送 …
    TAKING_OF_EVIDENCE = "TAKING_OF_EVIDENCE"  # 调查取证: 请港调, 协外调 …
    TRANSFER_OF_SENTENCED_PERSONS = "TRANSFER_OF_SENTENCED_PERSONS"  # 被判刑人移管: 请移管, 协外移 …
    TRANSFER_OF_PROCEEDS = "TRANSFER_OF_PROCEEDS"  # 罪赃移交: 请移赃, 助移赃
    EXTRADITION = "EXTRADITION"  # 引渡: 请外引, 协外引
    SANCTION = "SANCTION"  # 司法制裁: 司惩
    ENFORCEMENT_COORDINATION = "ENFORCEMENT_COORDINATION"  # 执协
    LIQUIDATION_APPLICATION = "LIQUIDATION_APPLICATION"  # 清申
    LIQUIDATION = "LIQUIDATION"  # 强清
    OTHER = "OTHER"  # 民他, 刑他, 执他 …
    UNKNOWN = "UNKNOWN"  # a type code the table does not know (the number still routes to its court)


class PartyRole(StrEnum):
    """诉讼地位."""

    PLAINTIFF = "PLAINTIFF"  # 原告
    DEFENDANT = "DEFENDANT"  # 被告
    THIRD_PARTY = "THIRD_PARTY"  # 第三人
    APPELLANT = "APPELLANT"  # 上诉人
    APPELLEE = "APPELLEE"  # 被上诉人
    APPLICANT = "APPLICANT"  # 申请人 / 申请执行人
    RESPONDENT = "RESPONDENT"  # 被申请人 / 被执行人
    ACCUSED = "ACCUSED"  # 被告人
    PROSECUTOR = "PROSECUTOR"  # 公诉机关


class PartyKind(StrEnum):
    PERSON = "PERSON"
    ORGANISATION = "ORGANISATION"


class StaffRole(StrEnum):
    PRESIDING_JUDGE = "PRESIDING_JUDGE"  # 审判长
    JUDGE = "JUDGE"  # 审判员
    PEOPLES_ASSESSOR = "PEOPLES_ASSESSOR"  # 人民陪审员
    CLERK = "CLERK"  # 书记员
    DIVISION_HEAD = "DIVISION_HEAD"  # 庭长
    COURT_LEADER = "COURT_LEADER"  # 院领导
    ARCHIVE_ADMIN = "ARCHIVE_ADMIN"  # 档案管理员


class ServiceChannel(StrEnum):
    """Where a served document reached the person."""

    COURT_PLATFORM = "COURT_PLATFORM"  # the court's own e-service system
    NATIONAL_PLATFORM = "NATIONAL_PLATFORM"  # 全国统一送达平台
    SMS = "SMS"
    EMAIL = "EMAIL"


class FilingKind(StrEnum):
    DEFENCE_STATEMENT = "DEFENCE_STATEMENT"  # 答辩状
    AGENT_OPINION = "AGENT_OPINION"  # 代理词
    EVIDENCE = "EVIDENCE"  # 补充证据材料
    APPLICATION = "APPLICATION"  # 申请书


class VolumeKind(StrEnum):
    MAIN = "MAIN"  # 正卷: readable by parties and lawyers
    INTERNAL = "INTERNAL"  # 副卷: the court's internal file, never shown outside


class ChangeKind(StrEnum):
    FILING_HANDLED = "FILING_HANDLED"
    DOCUMENT_SERVED = "DOCUMENT_SERVED"
    HEARING_SCHEDULED = "HEARING_SCHEDULED"
    CASE_CLOSED = "CASE_CLOSED"
    CASE_ARCHIVED = "CASE_ARCHIVED"
    AGENT_ADDED = "AGENT_ADDED"


class IdentityKind(StrEnum):
    """How a person is looked up in a court: by ID number (parties) or licence number (lawyers)."""

    ID_NUMBER = "ID_NUMBER"
    LICENCE_NUMBER = "LICENCE_NUMBER"


@dataclass(frozen=True, slots=True)
class PersonRef:
    """Whose cases or documents to fetch: a party's ID number or a lawyer's licence number."""

    kind: IdentityKind
    number: str

    @classmethod
    def party(cls, id_number: str) -> PersonRef:
        return cls(IdentityKind.ID_NUMBER, id_number)

    @classmethod
    def lawyer(cls, licence_number: str) -> PersonRef:
        return cls(IdentityKind.LICENCE_NUMBER, licence_number)


@dataclass(frozen=True, slots=True)
class CaseScope:
    """Which of a court's cases a staff member works on: a panel member's, a division's, or all.

    ``staff_id`` set: cases whose panel includes them; else ``division`` set: that division's cases;
    neither: the whole court.
    """

    staff_id: str | None = None
    division: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    id_number: str  # 18-digit resident ID, or the 18-character unified social credit code
    role: PartyRole
    kind: PartyKind = PartyKind.PERSON
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    """A lawyer acting for a party (诉讼代理人 / 辩护人)."""

    name: str
    licence_number: str  # 17-digit 执业证号
    firm: str
    client_id_number: str  # whom they act for
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Staff:
    staff_id: str
    name: str
    role: StaffRole
    division: str  # 立案庭, 民一庭, …, 执行局
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class AgentReceipt:
    """The court's record that a lawyer now acts on a case (案件绑定): the same for every retry of one key."""

    case_id: str
    licence_number: str
    recorded_at: datetime  # when the court entered the lawyer (the first delivery's time)


@dataclass(frozen=True, slots=True)
class Hearing:
    hearing_id: str
    starts_at: datetime
    room: str
    kind: str  # 开庭, 询问, 调解, 宣判


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str  # the court's own id (案件编号); unique within a court only
    court_code: str
    case_number: str  # canonical form, full-width brackets: （2023）粤0104民初123号
    type_code: str  # 民初, 民终, 执, …
    procedure: Procedure
    cause: str  # 案由
    status: CaseStatus
    filed_on: date
    closed_on: date | None
    archived_on: date | None
    public_hearing: bool
    division: str
    parties: tuple[Party, ...]
    agents: tuple[Agent, ...]
    panel: tuple[Staff, ...]
    hearings: tuple[Hearing, ...] = ()
    related_case_numbers: tuple[str, ...] = ()
    last_activity_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of a person's cases in a court, newest filing first.

    ``next_position`` is the adapter's own opaque resume token (a cursor, a page number); None when
    the list is exhausted. ``total`` is the court's count when the family reports one.
    """

    cases: tuple[Case, ...]
    next_position: str | None
    total: int | None


@dataclass(frozen=True, slots=True)
class ServedDocument:
    document_id: str  # unique within its source (court or national platform)
    source_code: str  # the court code, or the national platform's code
    court_code: str  # the court that issued it
    case_number: str
    title: str
    doc_type: str  # 判决书, 裁定书, 传票, 受理通知书, …
    addressee_name: str
    addressee: PersonRef  # a party by ID number, or a lawyer by licence number
    channel: ServiceChannel
    served_at: datetime  # when it reached the addressee's system on this channel
    address_confirmed: bool  # the addressee gave or confirmed this address (在线诉讼规则 art. 29)
    signed_at: datetime | None = None
    fingerprint: str = ""  # stable digest of the document itself: the same on every channel it went out on


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Filing:
    """Materials submitted to a court (网上提交材料). ``idempotency_key`` travels to the court."""

    idempotency_key: str
    case_id: str
    case_number: str
    kind: FilingKind
    title: str
    filer_name: str
    filer_id_number: str  # the filer's ID number (parties) or licence number (lawyers)
    attachments: tuple[Attachment, ...]


@dataclass(frozen=True, slots=True)
class FilingReceipt:
    receipt_number: str  # the court's 回执号 / receipt id
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Signature:
    """A person's acknowledgement of a served document (签收)."""

    idempotency_key: str
    document_id: str
    signer_name: str
    signer_id_number: str
    identity_level: str  # PHONE, REAL_NAME, FACE
    signed_at: datetime
    method: str = "ONLINE_CONFIRMATION"  # or E_SEAL


@dataclass(frozen=True, slots=True)
class SignatureReceipt:
    document_id: str
    signed_at: datetime  # as the court recorded it: the first signature wins


@dataclass(frozen=True, slots=True)
class Material:
    material_id: str
    title: str
    pages: int
    published: bool  # False for materials of cases heard in private, or withheld by the court
    content_type: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class CaseFileVolume:
    volume_id: str
    kind: VolumeKind
    title: str
    materials: tuple[Material, ...]


@dataclass(frozen=True, slots=True)
class MaterialContent:
    material_id: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """Something that happened inside a court's own system that the gateway must react to."""

    event_id: str  # unique within a court
    kind: ChangeKind
    court_code: str
    case_id: str
    case_number: str
    occurred_at: datetime
    filing_receipt_number: str | None = None
    result: str | None = None  # FILING_HANDLED: what the panel did with it
    document_id: str | None = None
    hearing_id: str | None = None
    licence_number: str | None = None  # AGENT_ADDED


@dataclass(frozen=True, slots=True)
class ChangePage:
    events: tuple[ChangeEvent, ...]
    cursor: str  # resume from here next time; opaque to the caller


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    """A person named in the seed configuration so demos and tests can log in as them."""

    login: str
    name: str
    kind: IdentityKind
    number: str
    phone: str
    firm: str | None = None
    courts: tuple[str, ...] = field(default=())
