"""Notifying people: SMS in the courts' wording, and in-app notices, written in the caller's transaction.

``notify`` is called inside the same transaction as the change it reports (the outbox pattern): a
filing marked delivered and the clerk's SMS commit together or not at all. Every row carries a dedupe
key unique per recipient, so a retried worker or a replayed change feed notifies nobody twice. The SMS
worker delivers the outbox; the in-app list and live subscription read the notices.

Texts follow court practice: the 【court short name】 prefix, the case number, what happened, and where
to look. An SMS links to an authenticated page, never to a document.

The in-app notices are also the one event stream firm software follows (``gateway.notifications.events``):
``changes`` pages through them, and ``notify`` queues the webhooks of the recipients' endpoints with them,
in the same transaction.

The in-app side (the viewer's list, marking read) only ever touches rows whose recipient key is one of
the viewer's own (:func:`viewer_keys`): that filter is the whole authorisation, so it lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.model import PersonRef
from gateway.config import CourtConfig
from gateway.core.errors import NotFoundError
from gateway.identity import Viewer
from gateway.store.notifications import InAppNotification, SmsMessage
from gateway.webhooks.fanout import queue_webhooks

WHERE_TO_LOOK = "广州法院AOL电子诉讼服务中心或广州微法院小程序"


class NotificationKind(StrEnum):
    FILING_RECEIVED = "FILING_RECEIVED"  # to the case's clerk and judge
    FILING_HANDLED = "FILING_HANDLED"  # the receipt SMS to the filer
    DOCUMENT_SERVED = "DOCUMENT_SERVED"
    HEARING_SCHEDULED = "HEARING_SCHEDULED"
    SIGNATURE_RECORDED = "SIGNATURE_RECORDED"
    DEADLINE_ESCALATED = "DEADLINE_ESCALATED"  # an overdue item, to the division head, then the court leaders
    TICKET_ASSIGNED = "TICKET_ASSIGNED"  # a new 12368 ticket, to its handlers
    TICKET_ANSWERED = "TICKET_ANSWERED"  # the answer, to the requester
    BINDING_REQUESTED = "BINDING_REQUESTED"  # a case binding to review, to the case's clerk and judges
    BINDING_DECIDED = "BINDING_DECIDED"  # the panel's decision, to the applicant
    ARCHIVE_ACCESS_REQUESTED = "ARCHIVE_ACCESS_REQUESTED"  # a reading application, to the archivists
    ARCHIVE_ACCESS_DECIDED = "ARCHIVE_ACCESS_DECIDED"  # the archive office's decision, to the applicant
    FILING_DELIVERED = "FILING_DELIVERED"  # the court took a filing: in-app only (the receipt SMS is FILING_HANDLED)


#: kind → (in-app title, text after the 【court】 prefix); fields come from ``params`` and the case number
TEMPLATES: dict[NotificationKind, tuple[str, str]] = {
    NotificationKind.FILING_RECEIVED: (
        "新提交材料",
        "{case_number}收到新提交的材料《{title}》（提交人：{filer}），请及时登录审判管理系统查看处理。",
    ),
    NotificationKind.FILING_HANDLED: (
        "材料已处理",
        "您好！您提交的{case_number}的材料法官已处理，请登录" + WHERE_TO_LOOK + "查看处理结果。",
    ),
    NotificationKind.DOCUMENT_SERVED: (
        "新送达文书",
        "您好！{case_number}有新的文书《{title}》向您送达，请登录" + WHERE_TO_LOOK + "查看并签收。",
    ),
    NotificationKind.HEARING_SCHEDULED: (
        "开庭排期",
        "您好！{case_number}定于{starts_at}在{room}{kind}，请准时参加。详情请登录" + WHERE_TO_LOOK + "查看。",
    ),
    NotificationKind.SIGNATURE_RECORDED: (
        "签收成功",
        "您好！您已签收{case_number}的文书《{title}》，送达凭证可登录" + WHERE_TO_LOOK + "下载。",
    ),
    NotificationKind.DEADLINE_ESCALATED: (
        "超期督办",
        "{subject}已于{due}到期仍未办结（承办人：{handlers}）{ladder}，请督促办理。详情请登录审判管理系统查看。",
    ),
    NotificationKind.TICKET_ASSIGNED: (
        "新12368诉求",
        "您有一件新的12368{category}诉求{of_case}（来件人：{requester}），请于{due}前登录审判管理系统答复。",
    ),
    NotificationKind.TICKET_ANSWERED: (
        "12368诉求已答复",
        "您好！您提交的12368{category}诉求{of_case}已答复，请登录" + WHERE_TO_LOOK + "查看答复并评价。",
    ),
    NotificationKind.BINDING_REQUESTED: (
        "新案件绑定申请",
        "{case_number}收到{applicant}的案件绑定申请（已附授权委托书），请于{due}前登录审判管理系统审核。",
    ),
    NotificationKind.BINDING_DECIDED: (
        "案件绑定审核结果",
        "您好！您申请绑定{case_number}的申请{outcome}，请登录" + WHERE_TO_LOOK + "查看。",
    ),
    NotificationKind.ARCHIVE_ACCESS_REQUESTED: (
        "新阅卷申请",
        "{applicant}申请查阅{case_number}的案卷材料，请于{due}前登录审判管理系统审批。",
    ),
    NotificationKind.ARCHIVE_ACCESS_DECIDED: (
        "阅卷申请结果",
        "您好！您查阅{case_number}案卷材料的申请{outcome}，详情请登录" + WHERE_TO_LOOK + "查看。",
    ),
    NotificationKind.FILING_DELIVERED: (
        "材料已送达法院",
        "您好！您提交的{case_number}的材料《{title}》已送达法院（收件编号：{receipt_number}），请等待法官处理。",
    ),
}


def person_key(ref: PersonRef) -> str:
    """Who an in-app notice is for: people by their ID or licence number, as the courts know them."""
    return f"{ref.kind.value}:{ref.number}"


def staff_key(court_code: str, staff_id: str) -> str:
    return f"STAFF:{court_code}:{staff_id}"


def viewer_keys(viewer: Viewer) -> list[str]:
    """Every recipient key the viewer reads notices under: their person refs, and their staff seat."""
    keys = [person_key(ref) for ref in viewer.person_refs()]
    if viewer.is_staff and viewer.court_code and viewer.staff_id:
        keys.append(staff_key(viewer.court_code, viewer.staff_id))
    return keys


@dataclass(frozen=True)
class Recipient:
    name: str
    phone: str | None  # no SMS without one
    key: str | None  # no in-app notice without one


def render(kind: NotificationKind, court: CourtConfig, case_number: str | None, params: dict[str, Any]) -> str:
    _, text = TEMPLATES[kind]
    return f"【{court.short_name}】" + text.format(case_number=case_number or "", **params)


async def notify(
    session: AsyncSession,
    *,
    kind: NotificationKind,
    court: CourtConfig,
    case_number: str | None,
    recipients: Sequence[Recipient],
    params: dict[str, Any],
    dedupe_key: str,
    now: datetime,
) -> None:
    """Queue the SMS and in-app notice for each recipient, at most once per recipient and dedupe key.

    ``now`` comes from the caller's clock (never read here): it stamps the rows and makes the SMS due, so
    a worker on an injected clock and the code that queued the text agree on what "due" means."""
    text = render(kind, court, case_number, params)
    title = TEMPLATES[kind][0]
    sms = [
        {
            "phone": r.phone,
            "recipient_key": r.key,
            "kind": kind.value,
            "court_code": court.code,
            "text": text,
            "dedupe_key": dedupe_key,
            "created_at": now,
            "status": "PENDING",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for r in recipients
        if r.phone
    ]
    notices = [
        {
            "recipient_key": r.key,
            "kind": kind.value,
            "court_code": court.code,
            "case_number": case_number,
            "title": title,
            "body": text,
            "dedupe_key": dedupe_key,
            "created_at": now,
        }
        for r in recipients
        if r.key
    ]
    await insert_ignoring_duplicates(session, SmsMessage.__table__, sms)  # type: ignore[arg-type]
    await insert_ignoring_duplicates(session, InAppNotification.__table__, notices)  # type: ignore[arg-type]
    await queue_webhooks(session, notices, now=now)


async def insert_ignoring_duplicates(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite alike."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(table).values(rows).on_conflict_do_nothing())


# -- the in-app list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """An in-app notice as readers see it (a detached copy of the row)."""

    id: int
    kind: str
    court_code: str | None
    case_number: str | None
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def from_row(cls, row: InAppNotification) -> Notice:
        return cls(
            id=row.id,
            kind=row.kind,
            court_code=row.court_code,
            case_number=row.case_number,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
        )


@dataclass(frozen=True)
class NoticePage:
    notices: list[Notice]
    has_next_page: bool
    total: int  # in the list asked for (all, or unread only)
    unread: int  # of all the viewer's notices


class NotYours(NotFoundError):
    """Some notice ids are not the viewer's (or do not exist): nothing was changed."""


async def list_notices(
    session: AsyncSession, keys: Sequence[str], *, first: int, before_id: int | None = None, unread_only: bool = False
) -> NoticePage:
    """The viewer's notices, newest first, ``first`` of them after the one with ``before_id``."""
    mine = InAppNotification.recipient_key.in_(keys)
    listed = (mine, InAppNotification.read_at.is_(None)) if unread_only else (mine,)
    query = select(InAppNotification).where(*listed)
    if before_id is not None:
        query = query.where(InAppNotification.id < before_id)
    rows = (await session.scalars(query.order_by(InAppNotification.id.desc()).limit(first + 1))).all()
    counts = select(func.count(), func.count().filter(InAppNotification.read_at.is_(None))).where(*listed)
    total, unread = (await session.execute(counts)).one()  # unread counts every unread notice either way
    return NoticePage([Notice.from_row(r) for r in rows[:first]], len(rows) > first, total, unread)


async def notice_of(session: AsyncSession, keys: Sequence[str], id: int) -> Notice | None:
    """The viewer's notice ``id``; None when there is none of theirs (someone else's is not told apart)."""
    query = select(InAppNotification).where(InAppNotification.recipient_key.in_(keys), InAppNotification.id == id)
    row = (await session.scalars(query)).first()
    return None if row is None else Notice.from_row(row)


async def notices_after(session: AsyncSession, keys: Sequence[str], after_id: int, *, limit: int) -> list[Notice]:
    """The viewer's notices newer than ``after_id``, oldest first (a subscription catching up)."""
    query = (
        select(InAppNotification)
        .where(InAppNotification.recipient_key.in_(keys), InAppNotification.id > after_id)
        .order_by(InAppNotification.id)
        .limit(limit)
    )
    return [Notice.from_row(r) for r in (await session.scalars(query)).all()]


async def mark_read(session: AsyncSession, keys: Sequence[str], ids: Sequence[int] | None, *, now: datetime) -> int:
    """Mark the viewer's notices ``ids`` (None: all of them) read; how many were unread until now.

    Raises :class:`NotYours` when any id is not one of the viewer's notices, so nobody learns whether
    someone else's notice exists, and nobody marks it.
    """
    mine = InAppNotification.recipient_key.in_(keys)
    if ids is not None:
        wanted = set(ids)
        found = set(
            (await session.scalars(select(InAppNotification.id).where(mine, InAppNotification.id.in_(wanted)))).all()
        )
        if found != wanted:
            raise NotYours("no such notification of yours")
    statement = update(InAppNotification).where(mine, InAppNotification.read_at.is_(None)).values(read_at=now)
    if ids is not None:
        statement = statement.where(InAppNotification.id.in_(set(ids)))
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
