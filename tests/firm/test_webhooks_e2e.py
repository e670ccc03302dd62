"""Firm software, end to end: a simulator's staff desk serves a document, the gateway's change follower
records the notice, and a signed webhook reaches a loopback receiver (which verifies it with the
``standardwebhooks`` package and deduplicates on ``webhook-id``); a 500 is retried, a receiver that keeps
failing gets its endpoint disabled until the client re-enables it and replays; another person's events
never arrive. Each test runs its own gateway on its own SQLite database, with fast retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.adapters.model import PersonRef
from gateway.app import create_app
from gateway.config import Settings
from gateway.store import Store
from gateway.store.models import AuditRecord
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, following_every_feed, mint, serve_app
from tests.firm.conftest import consent, serving, withdraw

FIRM_SCOPES = "cases:read documents:read webhooks:manage calendar:read"
REGISTER = """mutation($url: String!, $types: [String!]!) {
  registerWebhookEndpoint(url: $url, eventTypes: $types) { secret endpoint { id url enabled eventTypes } }
}"""
LOG = """{ webhookEndpoints { id enabled disabledReason
  deliveries(first: 20) { edges { node { messageId eventType status attempts lastStatus lastError } } } } }"""


@dataclass
class Receiver:
    """A firm's webhook receiver: verifies each delivery, records each webhook-id once."""

    secret: str = ""
    #: how to answer the n-th request (1-based) at a path: the HTTP status
    answer: Callable[[str, int], int] = lambda path, n: 200
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)  # webhook-id → payload, once
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((request.path, headers, body))
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return web.Response(status=400, text="bad signature")
        status = self.answer(request.path, sum(p == request.path for p, _, _ in self.requests))
        if status == 200:
            self.recorded.setdefault(headers["webhook-id"], payload)  # the idempotency check
        return web.Response(status=status, text="ok" if status == 200 else "try later")


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    async with serving(receiver.handle) as url:
        receiver.url = url
        yield receiver


def fast(settings: Settings, database_url: str, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "database_url": database_url,
            "change_poll_s": 0.1,
            "worker_interval_s": 0.05,
            "webhook_retry_base_s": 0.1,
            "webhook_retry_max_s": 0.2,
            "webhook_max_attempts": 3,
            **more,
        }
    )


@asynccontextmanager
async def firm_gateway(settings: Settings, port: int | None = None) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, graphiql=False)
    server, task, url = await serve_app(app, port)
    try:
        await following_every_feed(app, seconds=20)  # a loaded machine: thirteen feeds to reach
        client = GraphQLClient(f"{url}/graphql", {})
        client.app = app  # type: ignore[attr-defined]
        client.base = url  # type: ignore[attr-defined]
        yield client
    finally:
        server.should_exit = True
        await task


def client_token(world: World, settings: Settings, login: str, scope: str = FIRM_SCOPES, client: str = "firm-a") -> str:
    return mint(world, settings, login, client_id=client, scope=scope)


def store_of(gw: GraphQLClient) -> Store:
    return gw.app.state.services.store  # type: ignore[attr-defined, no-any-return]


async def eventually(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    for _ in range(int(seconds / 0.05)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    return check()


async def register(gw: GraphQLClient, token: str, url: str, types: list[str]) -> dict[str, Any]:
    body = await gw.query(REGISTER, {"url": url, "types": types}, token=token)
    assert "errors" not in body, body
    return body["data"]["registerWebhookEndpoint"]


async def test_a_served_document_arrives_signed_once_after_a_500_and_never_at_another_persons_endpoint(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World
) -> None:
    wang = PersonRef.party(world.demo["party-wang"].number)
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    case = cluster.court_state("粤0104").cases_of(wang)[0]
    chens = cluster.court_state("粤0104").cases_of(chen)[0]
    wangs_receiver = Receiver(answer=lambda path, n: 500 if n == 1 else 200)
    chens_receiver = Receiver()
    async with (
        receiving(wangs_receiver),
        receiving(chens_receiver),
        firm_gateway(fast(settings, database)) as gw,
    ):
        wang_token = client_token(world, settings, "party-wang")
        chen_token = client_token(world, settings, "lawyer-chen")
        await consent(store_of(gw), "party-wang", FIRM_SCOPES)
        await consent(store_of(gw), "lawyer-chen", FIRM_SCOPES)
        mine = await register(gw, wang_token, wangs_receiver.url + "/hooks", ["document.served"])
        wangs_receiver.secret = mine["secret"]
        assert mine["secret"].startswith("whsec_") and mine["endpoint"]["enabled"]
        theirs = await register(gw, chen_token, chens_receiver.url + "/hooks", ["document.served"])
        chens_receiver.secret = theirs["secret"]

        doc = cluster.desk("粤0104").serve_document(case.case_id, wang, "举证通知书")
        other = cluster.desk("粤0104").serve_document(chens.case_id, chen, "开庭传票", "传票")

        assert await eventually(lambda: wangs_receiver.recorded)
        assert await eventually(lambda: chens_receiver.recorded)
        await asyncio.sleep(0.5)  # room for any duplicate or stray delivery to show up
        # wang's: refused once with 500, delivered on the retry with the same webhook-id, recorded once
        assert [p for p, _, _ in wangs_receiver.requests] == ["/hooks", "/hooks"]
        ids = {h["webhook-id"] for _, h, _ in wangs_receiver.requests}
        assert len(ids) == 1 and list(wangs_receiver.recorded) == list(ids)
        payload = next(iter(wangs_receiver.recorded.values()))
        assert payload["type"] == "document.served"
        assert payload["data"]["caseNumber"] == doc.case_number and "举证通知书" in payload["data"]["text"]
        # the other person's document went to their endpoint only, and theirs never carried wang's
        assert [p["data"]["caseNumber"] for p in chens_receiver.recorded.values()] == [other.case_number]
        assert all(doc.case_number not in body for _, _, body in chens_receiver.requests)
        # a forged signature is what the receiver's check refuses
        _, headers, body = wangs_receiver.requests[0]
        with pytest.raises(WebhookVerificationError):
            Webhook(theirs["secret"]).verify(body, headers)

        log = (await gw.query(LOG, token=wang_token))["data"]["webhookEndpoints"]
        entries = [e["node"] for e in log[0]["deliveries"]["edges"]]
        assert [(e["eventType"], e["status"], e["attempts"], e["lastStatus"]) for e in entries] == [
            ("document.served", "DELIVERED", 2, 200)
        ]
        assert entries[0]["messageId"] in ids
        # chen's client cannot read wang's endpoint, nor replay wang's delivery
        chens_view = (await gw.query(LOG, token=chen_token))["data"]["webhookEndpoints"]
        assert [e["id"] for e in chens_view] == [theirs["endpoint"]["id"]]
        replay = await gw.query(
            "mutation($m: String!) { replayWebhookDelivery(messageId: $m) { status } }",
            {"m": entries[0]["messageId"]},
            token=chen_token,
        )
        assert replay["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_an_endpoint_that_keeps_failing_is_disabled_then_re_enabled_and_replayed(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World
) -> None:
    wang = PersonRef.party(world.demo["party-wang"].number)
    case = cluster.court_state("粤0104").cases_of(wang)[0]
    down = {"now": True}
    receiver = Receiver(answer=lambda path, n: 503 if down["now"] else 200)
    async with receiving(receiver), firm_gateway(fast(settings, database)) as gw:
        token = client_token(world, settings, "party-wang")
        grant = await consent(store_of(gw), "party-wang", FIRM_SCOPES)
        endpoint = await register(gw, token, receiver.url + "/down", ["document.served"])
        receiver.secret = endpoint["secret"]
        cluster.desk("粤0104").serve_document(case.case_id, wang, "缴费通知书")

        async def disabled() -> dict[str, Any] | None:
            found = (await gw.query(LOG, token=token))["data"]["webhookEndpoints"][0]
            return None if found["enabled"] else found

        state = None
        for _ in range(200):
            state = await disabled()
            if state:
                break
            await asyncio.sleep(0.05)
        assert state is not None, "the endpoint was not disabled"
        assert "failed for good" in state["disabledReason"]
        failed = state["deliveries"]["edges"][0]["node"]
        assert (failed["status"], failed["attempts"], failed["lastStatus"]) == ("FAILED", 3, 503)
        assert len(receiver.requests) == 3 and not receiver.recorded

        # disabled: a replay is refused, and new events are not queued for it
        replay = "mutation($m: String!) { replayWebhookDelivery(messageId: $m) { status attempts } }"
        refused = await gw.query(replay, {"m": failed["messageId"]}, token=token)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

        down["now"] = False
        enable = "mutation($id: ID!) { updateWebhookEndpoint(id: $id, enabled: true) { enabled disabledReason } }"
        # a token outlives the person's revocation: re-enabling then is refused (the grant store is asked)
        await withdraw(store_of(gw), grant)
        revoked = await gw.query(enable, {"id": endpoint["endpoint"]["id"]}, token=token)
        assert revoked["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        await consent(store_of(gw), "party-wang", FIRM_SCOPES)  # the person authorises the app again
        enabled = await gw.query(enable, {"id": endpoint["endpoint"]["id"]}, token=token)
        assert enabled["data"]["updateWebhookEndpoint"] == {"enabled": True, "disabledReason": None}
        replayed = await gw.query(replay, {"m": failed["messageId"]}, token=token)
        assert replayed["data"]["replayWebhookDelivery"]["status"] == "PENDING"
        assert await eventually(lambda: receiver.recorded)
        assert list(receiver.recorded) == [failed["messageId"]]
        log = (await gw.query(LOG, token=token))["data"]["webhookEndpoints"][0]
        assert log["deliveries"]["edges"][0]["node"]["status"] == "DELIVERED"
    async with Store(database) as store, store.session(read_only=True) as session:
        records = await session.scalars(
            select(AuditRecord).where(AuditRecord.subject_id == endpoint["endpoint"]["id"]).order_by(AuditRecord.seq)
        )
        trail = [(r.actor, r.action, r.details.get("client_id"), r.details.get("reason")) for r in records]
    assert trail == [
        ("party-wang", "webhook.registered", "firm-a", None),
        ("system", "webhook.disabled", None, "HTTP_503"),
        ("party-wang", "webhook.updated", "firm-a", None),
    ]


async def test_registration_is_refused_without_the_scopes_for_a_first_party_token_and_to_unsafe_urls(
    settings: Settings, database: str, world: World
) -> None:
    async with firm_gateway(fast(settings, database)) as gw:
        url = "http://127.0.0.1:9/hooks"

        async def code(token: str, target: str, types: list[str]) -> str:
            body = await gw.query(REGISTER, {"url": target, "types": types}, token=token)
            return body["errors"][0]["extensions"]["code"] + ":" + str(body["errors"][0]["extensions"].get("reason"))

        first_party = mint(world, settings, "party-wang")
        assert await code(first_party, url, ["document.served"]) == "FORBIDDEN:None"
        no_manage = client_token(world, settings, "party-wang", "cases:read documents:read")
        assert await code(no_manage, url, ["document.served"]) == "INSUFFICIENT_SCOPE:None"
        cases_only = client_token(world, settings, "party-wang", "cases:read webhooks:manage")
        assert await code(cases_only, url, ["document.served"]) == "INSUFFICIENT_SCOPE:None"  # needs documents:read
        token = client_token(world, settings, "party-wang")
        assert await code(token, url, ["case.deleted"]) == "BAD_USER_INPUT:EVENT_TYPES"
        for unsafe in (
            "http://10.0.0.8/hooks",  # private, and http
            "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
            "https://192.168.1.10/hooks",
            "http://user:pw@127.0.0.1:9/hooks",  # credentials
            "ftp://127.0.0.1/hooks",
        ):
            assert await code(token, unsafe, ["document.served"]) == "BAD_USER_INPUT:WEBHOOK_URL", unsafe
        listed = await gw.query("{ webhookEndpoints { id } }", token=token)
        assert listed["data"]["webhookEndpoints"] == []


def test_production_allows_only_https_to_public_addresses() -> None:
    from gateway.webhooks.urls import UnsafeUrl, address_allowed, check_form

    with pytest.raises(UnsafeUrl):
        check_form("http://127.0.0.1:8080/hooks", production=True)
    assert check_form("https://hooks.example-firm.cn/x", production=True) == "hooks.example-firm.cn"
    assert not address_allowed("127.0.0.1", production=True)
    assert address_allowed("127.0.0.1", production=False)
    for private in (
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
    ):
        assert not address_allowed(private, production=True), private
        assert not address_allowed(private, production=False), private
    assert address_allowed("8.8.8.8", production=True)


async def test_a_filing_delivered_and_then_handled_reaches_the_filers_endpoint(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World
) -> None:
    from tests.filings.test_filings import PDF, upload, wait_for

    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    case = cluster.court_state("粤0105").cases_of(chen)[0]
    receiver = Receiver()
    async with receiving(receiver), firm_gateway(fast(settings, database)) as gw:
        gw.tokens["lawyer-chen"] = mint(world, settings, "lawyer-chen")
        token = client_token(world, settings, "lawyer-chen")
        await consent(store_of(gw), "lawyer-chen", FIRM_SCOPES)
        endpoint = await register(gw, token, receiver.url + "/filings", ["filing.delivered", "filing.handled"])
        receiver.secret = endpoint["secret"]
        body = await upload(gw, case.case_number, [("代理词.pdf", PDF, "application/pdf")], title="代理词")
        filing_id = body["data"]["submitFiling"]["id"]
        delivered = await wait_for(gw, filing_id, lambda f: f["status"] == "DELIVERED")
        cluster.desk("粤0105").handle_filing(delivered["receiptNumber"], "已阅")
        assert await eventually(lambda: len(receiver.recorded) >= 2)
    events = [(p["type"], p["data"]["caseNumber"]) for p in receiver.recorded.values()]
    assert events == [("filing.delivered", case.case_number), ("filing.handled", case.case_number)]
    delivered_text = next(iter(receiver.recorded.values()))["data"]["text"]
    assert "代理词" in delivered_text and delivered["receiptNumber"] in delivered_text


async def test_production_refuses_loopback_by_name_and_by_address_even_over_https() -> None:
    from gateway.webhooks.urls import UnsafeUrl, check_url

    for url in ("https://localhost/hooks", "https://127.0.0.1:8443/hooks", "https://[::1]/hooks", "https://10.0.0.8/h"):
        with pytest.raises(UnsafeUrl):
            await check_url(url, production=True)
    await check_url("https://127.0.0.1:8443/hooks", production=False)  # the demo's own receivers
