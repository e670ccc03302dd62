"""Queueing webhooks with the notices they report, in the transaction that records them.

``notify`` calls :func:`queue_webhooks` with the notice rows it just inserted: for each notice of a kind
firm software may follow (``gateway.notifications.events``), every enabled endpoint registered for the
recipient (``webhook_recipients``) that subscribed to the event type, and whose client was granted the
event's scope at registration, gets one delivery row. Rows are unique per (endpoint, recipient, dedupe
key), so a replayed court event queues nothing twice. A disabled endpoint gets nothing: what happened
meanwhile is in ``changes``.

Invariant: a notice reaches an endpoint only through the recipient key it is addressed to, and the
endpoint's recipient keys are its registering person's own (taken from their verified token), so no
event about someone else's case is ever queued for it. The scope is checked again at delivery time
against the live grant (``gateway.webhooks.grants``).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.notifications.events import EVENT_SCOPES, EVENT_TYPES
from gateway.store.webhooks import WebhookDelivery, WebhookEndpoint, WebhookRecipient, WebhookStatus


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def payload_of(event_type: str, notice: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks body: ``type``, ``timestamp`` and the event's ``data``."""
    created: datetime = notice["created_at"]
    return {
        "type": event_type,
        "timestamp": created.isoformat(),
        "data": {
            "courtCode": notice["court_code"],
            "caseNumber": notice["case_number"],
            "title": notice["title"],
            "text": notice["body"],
        },
    }


async def queue_webhooks(session: AsyncSession, notices: list[dict[str, Any]], *, now: datetime) -> None:
    """One delivery per matching endpoint and notice (see the module's docstring)."""
    followed = [n for n in notices if n["kind"] in EVENT_TYPES]
    if not followed:
        return
    keys = {n["recipient_key"] for n in followed}
    query = (
        select(WebhookRecipient.recipient_key, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookRecipient.endpoint_id)
        .where(WebhookRecipient.recipient_key.in_(keys), WebhookEndpoint.enabled.is_(True))
    )
    endpoints: dict[str, list[WebhookEndpoint]] = {}
    for key, endpoint in (await session.execute(query)).all():
        endpoints.setdefault(key, []).append(endpoint)
    rows = []
    for notice in followed:
        event_type = EVENT_TYPES[notice["kind"]]
        for endpoint in endpoints.get(notice["recipient_key"], []):
            if event_type not in endpoint.event_types or EVENT_SCOPES[event_type].value not in endpoint.scopes:
                continue
            rows.append(
                {
                    "message_id": message_id(),
                    "endpoint_id": endpoint.id,
                    "recipient_key": notice["recipient_key"],
                    "dedupe_key": notice["dedupe_key"],
                    "event_type": event_type,
                    "court_code": notice["court_code"],
                    "payload": payload_of(event_type, notice),
                    "status": WebhookStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        await session.execute(insert(WebhookDelivery).values(rows).on_conflict_do_nothing())
