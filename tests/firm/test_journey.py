"""Issue 14's "Done when", as one journey of a law firm's software through the gateway's front door.

The court's operator registers the firm's software with the CLI (a small quota); lawyer-chen authorises it
through the consent pages (code flow, PKCE S256, scripted with the guide's example client); with the
access token the software syncs with ``changes`` page by page, registers a webhook receiver (a loopback
aiohttp server that verifies with the ``standardwebhooks`` package and deduplicates on ``webhook-id``);
a court's staff desk serves a document on chen: the signed webhook arrives, the first attempt is answered
500, the retry is recorded once; a calendar feed is rotated, a hearing scheduled at the desk, and the
feed imported with ``icalendar`` holds it; the next sync, from the kept point, pages through the document
and the hearing, once each. Denials on the way:
``signDocument`` (whatever the scopes), another lawyer's case, a scope not granted, the quota (429 with
``Retry-After`` and the RateLimit fields); and when chen revokes the app (``revokeAuthorizedApp``) the
access token and the refresh token are dead, and the next event is not delivered: its delivery ends as
``GRANT_REVOKED`` and the endpoint is disabled. SQLite always; PostgreSQL too with
GATEWAY_TEST_POSTGRES_URL. Fast retries; no timing thresholds.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import icalendar
import pytest
from sqlalchemy import select

from gateway.adapters.model import CHINA_TZ, PersonRef
from gateway.config import Settings
from gateway.notifications.changes import SETTLE
from gateway.store.webhooks import WebhookDelivery, WebhookEndpoint
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.cases.test_case_detail import cases_of
from tests.conftest import _free_port
from tests.firm.test_webhooks_e2e import Receiver, eventually, fast, firm_gateway, receiving, store_of
from tests.oauth.test_oauth import firm

SCOPES = "cases:read documents:read webhooks:manage calendar:read"
REDIRECT = "http://127.0.0.1:8765/callback"
BURST = 40  # the client's quota: enough for the journey, then spent on purpose
CHANGES = """query($since: String, $first: Int!) {
  changes(since: $since, first: $first) { point hasMore edges { node { type courtCode caseNumber title text } } }
}"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def json_type(body: str) -> Any:
    try:
        return json.loads(body).get("type")
    except ValueError:
        return None


async def cli(database_url: str, *args: str) -> str:
    """``court-gateway …`` as the court's operator runs it, against the gateway's database."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("court-gateway")),
        *args,
        env={**os.environ, "GATEWAY_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def sync(client: Any, since: str | None) -> tuple[list[dict[str, Any]], str, int]:
    """A nightly sync: every page after ``since``; the events, the point to keep and the pages walked."""
    seen: list[dict[str, Any]] = []
    pages = 0
    while True:
        status, _, body = await client.graphql(CHANGES, {"since": since, "first": 1})
        assert status == 200 and "errors" not in body, body
        pages += 1
        seen += [e["node"] for e in body["data"]["changes"]["edges"]]
        since = body["data"]["changes"]["point"]
        if not body["data"]["changes"]["hasMore"]:
            return seen, since, pages


async def test_a_firms_software_from_registration_to_revocation(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World, tokens: dict[str, str]
) -> None:
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    court = "粤0104"
    case = cluster.court_state(court).cases_of(chen)[0]
    desk = cluster.desk(court)
    mine = {c.case_number for c in cases_of(cluster, world, "lawyer-chen")}
    lis = next(c for c in cases_of(cluster, world, "lawyer-li") if c.case_number not in mine)
    receiver = Receiver(answer=lambda path, n: 500 if n == 1 else 200)
    port = _free_port()
    configured = fast(settings, database, oauth_issuer=f"http://127.0.0.1:{port}", oauth_grant_check_s=1.0)
    async with receiving(receiver), firm_gateway(configured, port) as gw:
        base: str = gw.base  # type: ignore[attr-defined]
        # 1. the court registers the firm's software (the guide's command, with a small quota)
        scope_args = [arg for s in SCOPES.split() for arg in ("--scope", s)]
        added = await cli(
            database, "clients", "add", "穗正律所案件管理", "--redirect-uri", REDIRECT, *scope_args,
            "--rate", "0.01", "--burst", str(BURST),
        )  # fmt: skip
        printed = dict(line.split(":", 1) for line in added.splitlines() if line.startswith("client_"))
        client = firm.FirmClient(base, printed["client_id"].strip(), printed["client_secret"].strip(), REDIRECT)
        try:
            # 2. lawyer-chen authorises it: discovery, PKCE (S256), the consent pages
            metadata = await client.discover()
            assert "S256" in metadata["code_challenge_methods_supported"]
            verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
            answer = await client.consent_as_person(
                client.authorization_url(SCOPES, state, verifier), tokens["lawyer-chen"]
            )
            assert answer["state"] == [state]
            with pytest.raises(PermissionError, match="invalid_grant"):  # PKCE: the code needs its verifier
                await client.exchange(answer["code"][0], secrets.token_urlsafe(48))
            answer = await client.consent_as_person(
                client.authorization_url(SCOPES, state, verifier), tokens["lawyer-chen"]
            )
            await client.exchange(answer["code"][0], verifier)
            assert set(client.tokens["scope"].split()) == set(SCOPES.split())

            # 3. the first sync: every page of what happened lately, and the point to keep
            before, point, _ = await sync(client, None)
            assert all(c["caseNumber"] in mine for c in before)

            # 4. a webhook receiver
            status, _, body = await client.graphql(
                "mutation($url: String!, $types: [String!]!) { registerWebhookEndpoint(url: $url, eventTypes: $types)"
                " { secret endpoint { id enabled eventTypes } } }",
                {"url": receiver.url + "/court", "types": ["document.served", "hearing.scheduled"]},
            )
            assert status == 200 and "errors" not in body, body
            receiver.secret = body["data"]["registerWebhookEndpoint"]["secret"]
            endpoint = body["data"]["registerWebhookEndpoint"]["endpoint"]["id"]

            # 5. the court serves a document on chen: signed, refused once with 500, recorded once on the retry
            title = f"举证通知书（第{secrets.token_hex(3)}号）"  # the simulators outlive the test: tell it apart
            desk.serve_document(case.case_id, chen, title)
            assert await eventually(lambda: receiver.recorded, seconds=30), "no webhook was recorded"
            await asyncio.sleep(0.5)  # room for a duplicate to show up
            assert [p for p, _, _ in receiver.requests] == ["/court", "/court"]
            assert len({h["webhook-id"] for _, h, _ in receiver.requests}) == 1, "a retry keeps its webhook-id"
            [event] = receiver.recorded.values()
            assert event["type"] == "document.served" and title in event["data"]["text"]
            assert event["data"]["caseNumber"] == case.case_number
            status, _, body = await client.graphql(
                "{ webhookEndpoints { deliveries(first: 5) { edges { node { status attempts lastStatus } } } } }"
            )
            log = [e["node"] for e in body["data"]["webhookEndpoints"][0]["deliveries"]["edges"]]
            assert log == [{"status": "DELIVERED", "attempts": 2, "lastStatus": 200}]

            # 6. the calendar feed: rotate, a hearing is scheduled at the desk, import the feed
            status, _, body = await client.graphql("mutation { rotateCalendarFeed { url } }")
            feed_url = body["data"]["rotateCalendarFeed"]["url"]
            starts = datetime(2027, 3, 9, 9, 30, tzinfo=CHINA_TZ)
            hearing = desk.schedule_hearing(case.case_id, starts, "第3法庭")
            async with aiohttp.ClientSession() as http, http.get(base + feed_url) as response:
                assert response.status == 200 and response.content_type == "text/calendar"
                calendar = icalendar.Calendar.from_ical(await response.read())
            found = [e for e in calendar.walk("VEVENT") if hearing.hearing_id in str(e["UID"])]
            assert len(found) == 1 and found[0].decoded("DTSTART") == starts
            assert "第3法庭" in str(found[0]["LOCATION"]) and case.case_number in str(found[0]["SUMMARY"])
            assert await eventually(
                lambda: any(json_type(b) == "hearing.scheduled" for _, _, b in receiver.requests), seconds=30
            ), "the hearing's webhook did not arrive"

            # 7. the next sync, from the kept point, one event a page: the document and the hearing, once each
            await asyncio.sleep(SETTLE.total_seconds())  # events younger than that wait for the next call
            after, point, pages = await sync(client, point)
            served = [c for c in after if c["type"] == "document.served" and title in c["text"]]
            assert [(c["courtCode"], c["caseNumber"]) for c in served] == [(court, case.case_number)]
            scheduled = [c for c in after if c["type"] == "hearing.scheduled" and c["caseNumber"] == case.case_number]
            assert len(scheduled) == 1 and pages >= 2
            assert all(c["caseNumber"] in mine for c in after)
            assert (await sync(client, point))[0] == []  # and nothing twice

            # 8. denials: signing, another lawyer's case, a scope not granted
            sign = (
                'mutation { signDocument(documentId: "U2VydmVkRG9jdW1lbnQ6eA==", method: ONLINE_CONFIRMATION) { id } }'
            )
            assert codes((await client.graphql(sign))[2]) == ["INSUFFICIENT_SCOPE"]
            _, _, body = await client.graphql(
                "query($n: String!) { case(caseNumber: $n) { caseNumber } }", {"n": lis.case_number}
            )
            assert codes(body) == ["NOT_FOUND"] and body["data"]["case"] is None
            _, _, body = await client.graphql("{ myFilings(first: 5) { edges { node { id } } } }")
            assert codes(body) == ["INSUFFICIENT_SCOPE"]

            # 9. the quota: spent, then 429 with the fields a client backs off by
            for _ in range(BURST + 5):
                status, headers, body = await client.graphql("{ viewer { name } }")
                if status == 429:
                    break
                assert headers["RateLimit-Policy"].startswith(f'"client";q={BURST};w=')
            assert status == 429 and codes(body) == ["RATE_LIMITED"], "the quota was never reached"
            assert int(headers["Retry-After"]) >= 1
            assert headers["RateLimit"].startswith('"client";r=0;')
            assert headers["RateLimit-Policy"].startswith(f'"client";q={BURST};w=')

            # 10. chen revokes the app in the court's own app: the tokens die, and so do the deliveries
            async with aiohttp.ClientSession() as http:
                first_party = {"Authorization": f"Bearer {tokens['lawyer-chen']}"}
                async with http.post(
                    base + "/graphql", json={"query": "{ authorizedApps { id clientId } }"}, headers=first_party
                ) as r:
                    apps = (await r.json())["data"]["authorizedApps"]
                grant = next(a["id"] for a in apps if a["clientId"] == client.client_id)
                revoke = {"query": "mutation($id: ID!) { revokeAuthorizedApp(id: $id) }", "variables": {"id": grant}}
                async with http.post(base + "/graphql", json=revoke, headers=first_party) as r:
                    assert (await r.json())["data"]["revokeAuthorizedApp"] is True
            status, _, body = await client.graphql("{ viewer { name } }")
            assert codes(body) == ["UNAUTHENTICATED"], body
            with pytest.raises(PermissionError, match="invalid_grant"):
                await client.refresh()
            async with aiohttp.ClientSession() as http, http.get(base + feed_url) as response:
                assert response.status == 404
            delivered = len(receiver.requests)
            late = f"缴费通知书（第{secrets.token_hex(3)}号）"
            desk.serve_document(case.case_id, chen, late)
            store = store_of(gw)

            async def ended() -> tuple[WebhookEndpoint, list[WebhookDelivery]] | None:
                async with store.session(read_only=True) as session:
                    row = await session.get(WebhookEndpoint, endpoint)
                    deliveries = list(
                        await session.scalars(
                            select(WebhookDelivery).where(
                                WebhookDelivery.endpoint_id == endpoint, WebhookDelivery.status == "FAILED"
                            )
                        )
                    )
                return (row, deliveries) if row is not None and not row.enabled else None

            outcome = None
            for _ in range(300):
                outcome = await ended()
                if outcome:
                    break
                await asyncio.sleep(0.1)
            assert outcome is not None, "the endpoint was not disabled after the revocation"
            row, failed = outcome
            assert row.disabled_reason is not None and "GRANT_REVOKED" in row.disabled_reason
            assert [(d.last_error or "").split(":")[0] for d in failed] == ["GRANT_REVOKED"]
            assert late in failed[0].payload["data"]["text"]
            await asyncio.sleep(0.5)
            assert len(receiver.requests) == delivered, "nothing reaches the receiver after the revocation"
        finally:
            await client.close()


async def test_the_guides_example_receives_a_signed_webhook_and_keeps_its_sync_point(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World, tokens: dict[str, str], tmp_path: Path
) -> None:
    """examples/firm_client.py as the guide runs it, while a court serves a document on the lawyer: its
    receiver verifies the real delivery, and its sync point is kept in the file."""
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    case = cluster.court_state("粤0104").cases_of(chen)[0]
    port = _free_port()
    configured = fast(settings, database, oauth_issuer=f"http://127.0.0.1:{port}")
    async with firm_gateway(configured, port) as gw:
        base: str = gw.base  # type: ignore[attr-defined]
        scope_args = [arg for s in SCOPES.split() for arg in ("--scope", s)]
        added = await cli(database, "clients", "add", "穗正律所案件管理", "--redirect-uri", REDIRECT, *scope_args)
        printed = dict(line.split(":", 1) for line in added.splitlines() if line.startswith("client_"))
        point = tmp_path / "point"
        example = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(firm.__file__)),
            *("--gateway", base, "--client-id", printed["client_id"].strip()),
            *("--client-secret", printed["client_secret"].strip(), "--sign-in-token", tokens["lawyer-chen"]),
            *("--point-file", str(point), "--listen", "60"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        store = store_of(gw)

        async def registered() -> bool:
            async with store.session(read_only=True) as session:
                return (await session.scalar(select(WebhookEndpoint.id).limit(1))) is not None

        for _ in range(600):
            if await registered() or example.returncode is not None:
                break
            await asyncio.sleep(0.05)
        title = f"举证通知书（第{secrets.token_hex(3)}号）"
        desk_doc = cluster.desk("粤0104").serve_document(case.case_id, chen, title)
        out, err = await asyncio.wait_for(example.communicate(), 90)
    assert example.returncode == 0, err.decode()[-2000:]
    result = json.loads(out)
    received = [(kind, number) for kind, number, _ in result["webhook"]["received"]]
    assert received == [("document.served", desk_doc.case_number)], result["webhook"]
    assert result["sync"]["pages"] >= 1 and point.read_text().strip()
    assert result["revoked"] == 200
