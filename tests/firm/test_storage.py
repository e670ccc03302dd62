"""The firm sync's storage on SQLite and PostgreSQL: webhooks queued with the notice (matching endpoints
only, once), delivered and fenced by the outbox engine, ``changes`` paged by id, calendar feeds rotated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from gateway.adapters.model import PersonRef
from gateway.config import CourtConfig, Settings
from gateway.notifications.changes import changes_since
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key
from gateway.store import Store
from gateway.store.webhooks import WebhookDelivery, WebhookEndpoint, WebhookRecipient
from gateway.webhooks.outbox import WebhookOutbox
from tests.firm.conftest import serving

WANG = Recipient("王小明", None, person_key(PersonRef.party("440104199001011234")))
CHEN = Recipient("陈律师", None, person_key(PersonRef.lawyer("14401200710012345")))
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def endpoint(store: Store, id: str, key: str, url: str, *, types: list[str], scopes: list[str]) -> None:
    async with store.session() as session:
        session.add(
            WebhookEndpoint(
                id=id,
                client_id="firm-a",
                subject=id,
                url=url,
                secret=SECRET,
                event_types=types,
                scopes=scopes,
                enabled=True,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        await session.flush()
        session.add(WebhookRecipient(recipient_key=key, endpoint_id=id))


async def served(store: Store, court: CourtConfig, recipients: list[Recipient], key: str, at: datetime = NOW) -> None:
    async with store.session() as session:
        await notify(
            session,
            kind=NotificationKind.DOCUMENT_SERVED,
            court=court,
            case_number="（2026）粤0104民初77号",
            recipients=recipients,
            params={"title": "举证通知书"},
            dedupe_key=key,
            now=at,
        )


async def deliveries(store: Store) -> list[WebhookDelivery]:
    async with store.session(read_only=True) as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def test_a_notice_queues_one_delivery_per_matching_endpoint_once(store: Store, yuexiu: CourtConfig) -> None:
    url = "http://127.0.0.1:9/x"
    await endpoint(store, "ep_wang", WANG.key or "", url, types=["document.served"], scopes=["documents:read"])
    await endpoint(store, "ep_hearings", WANG.key or "", url, types=["hearing.scheduled"], scopes=["cases:read"])
    await endpoint(store, "ep_noscope", WANG.key or "", url, types=["document.served"], scopes=["cases:read"])
    await endpoint(store, "ep_chen", CHEN.key or "", url, types=["document.served"], scopes=["documents:read"])
    for _ in range(2):  # a replayed court event
        await served(store, yuexiu, [WANG], "event:粤0104:41")
    rows = await deliveries(store)
    assert [(r.endpoint_id, r.event_type, r.status) for r in rows] == [("ep_wang", "document.served", "PENDING")]
    assert rows[0].message_id.startswith("msg_") and rows[0].payload["data"]["caseNumber"] == "（2026）粤0104民初77号"


async def test_the_outbox_delivers_signed_and_a_lost_claim_records_nothing(store: Store, yuexiu: CourtConfig) -> None:
    got: list[tuple[dict[str, str], str]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(({k.lower(): v for k, v in request.headers.items()}, await request.text()))
        return web.Response(text="ok")

    async with serving(handle) as base:
        await endpoint(
            store,
            "ep_wang",
            WANG.key or "",
            base + "/hook",
            types=["document.served"],
            scopes=["documents:read"],
        )
        await served(store, yuexiu, [WANG], "event:粤0104:42")
        settings = Settings().model_copy(update={"webhook_max_attempts": 3})
        worker = WebhookOutbox(store, settings, FixedGrants(frozenset({"documents:read"})), clock=lambda: NOW)
        claims = await worker.claim()
        assert len(claims) == 1 and await worker.claim() == []  # leased: a second round finds nothing
        late = claims[0]
        worker.clock = lambda: NOW + timedelta(hours=1)  # the lease ran out: claimed again
        again = await worker.claim()
        assert [c.fence for c in again] == [2]
        await worker.attempt(again[0])
        assert not await worker.record_delivery(late, 200)  # the first claim's outcome is fenced off
        rows = await deliveries(store)
        assert [(r.status, r.attempts, r.last_status) for r in rows] == [("DELIVERED", 2, 200)]
        headers, body = got[0]
        assert headers["webhook-id"] == rows[0].message_id and headers["webhook-signature"].startswith("v1,")
        # signed at the worker's clock (a receiver checks the timestamp against its own: see the e2e tests)
        expected = Webhook(SECRET).sign(
            rows[0].message_id, datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC), body
        )
        assert headers["webhook-signature"] == expected


async def test_changes_pages_by_id_for_the_callers_keys_only(store: Store, yuexiu: CourtConfig) -> None:
    for n in range(5):
        await served(store, yuexiu, [WANG, CHEN], f"event:粤0104:{n}", NOW + timedelta(seconds=n))
    now, valid = NOW + timedelta(minutes=1), timedelta(days=30)
    seen, point = [], None
    async with store.session(read_only=True) as session:
        while True:
            page = await changes_since(
                session, [WANG.key or ""], ["DOCUMENT_SERVED"], since=point, first=2, now=now, valid=valid
            )
            seen += page.changes
            point = page.point
            if not page.has_more:
                break
        later = await changes_since(
            session, [WANG.key or ""], ["DOCUMENT_SERVED"], since=point, first=2, now=now, valid=valid
        )
        hidden = await changes_since(
            session, [WANG.key or ""], ["HEARING_SCHEDULED"], since=None, first=9, now=now, valid=valid
        )
    assert [c.occurred_at for c in seen] == [NOW + timedelta(seconds=n) for n in range(5)]
    assert len({c.id for c in seen}) == 5 and later.changes == [] and hidden.changes == []


class FixedGrants:
    """A grant store that answers one thing (the OAuth grant store implements the same protocol)."""

    def __init__(self, scopes: frozenset[str] | None) -> None:
        self.scopes = scopes

    async def active_scopes(self, client_id: str, subject: str) -> frozenset[str] | None:
        return self.scopes


@pytest.mark.parametrize(
    ("scopes", "code"), [(None, "GRANT_REVOKED"), (frozenset({"cases:read", "webhooks:manage"}), "SCOPE_NOT_GRANTED")]
)
async def test_a_revoked_grant_or_a_withdrawn_scope_ends_the_delivery_and_disables_the_endpoint(
    store: Store, yuexiu: CourtConfig, scopes: frozenset[str] | None, code: str
) -> None:
    url = "http://127.0.0.1:9/never-called"
    await endpoint(store, "ep_wang", WANG.key or "", url, types=["document.served"], scopes=["documents:read"])
    await served(store, yuexiu, [WANG], "event:粤0104:43")
    worker = WebhookOutbox(store, Settings(), FixedGrants(scopes), clock=lambda: NOW)
    assert await worker.run_once() == 1
    async with store.session(read_only=True) as session:
        row = (await session.scalars(select(WebhookDelivery))).one()
        ep = await session.get(WebhookEndpoint, "ep_wang")
    assert (row.status, row.attempts) == ("FAILED", 1)
    assert (row.last_error or "").startswith(code) and row.last_status is None
    assert ep is not None and not ep.enabled and code in (ep.disabled_reason or "")
    await served(store, yuexiu, [WANG], "event:粤0104:44")  # nothing is queued for a disabled endpoint
    assert len(await deliveries(store)) == 1
