"""A law firm's software using the court gateway through OAuth (docs/api-guide.md, "A worked example").

Against ``make demo`` (the gateway on http://127.0.0.1:18000)::

    .venv/bin/court-gateway clients add "穗正律所案件管理" --redirect-uri http://127.0.0.1:8765/callback \\
        --scope cases:read --scope documents:read --scope webhooks:manage --scope calendar:read
    .venv/bin/python examples/firm_client.py --client-id cg_… --client-secret … \\
        --sign-in-token "$(.venv/bin/court-gateway token lawyer-chen)" --listen 60

It discovers the server (RFC 8414), makes a PKCE pair (S256), walks the consent pages as the lawyer would
in a browser (here scripted: a real client opens the authorisation URL in the person's browser and
receives the code at its redirect URI), exchanges the code, reads the lawyer's cases and its own quota,
runs the nightly sync (``changes``, page by page, keeping the point in a file), registers a webhook
receiver (a small aiohttp server that verifies each delivery and records each ``webhook-id`` once) and
listens for ``--listen`` seconds, fetches the lawyer's calendar feed, refreshes the token (rotation: the
old refresh token is dead afterwards) and finally revokes the grant. Only aiohttp, Authlib's PKCE helper,
``standardwebhooks`` and ``icalendar`` are used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import icalendar
from aiohttp import web
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

QUERY = """{
  viewer { name client { id name scopes quota { limit remaining resetsAt } } }
  myCases(first: 5) { totalCount edges { node { caseNumber courtCode cause } } }
}"""
SYNC = """query Sync($since: String) {
  changes(since: $since, first: 100) { point hasMore edges { node { type courtCode caseNumber title } } }
}"""
REGISTER = """mutation($url: String!, $types: [String!]!) {
  registerWebhookEndpoint(url: $url, eventTypes: $types) { secret endpoint { id } }
}"""


def load_point(path: Path) -> str | None:
    """The sync point kept last time (none yet: the last 30 days)."""
    return path.read_text().strip() if path.exists() else None


def keep_point(path: Path, point: str) -> None:
    path.write_text(point)


class FirmClient:
    def __init__(self, gateway: str, client_id: str, client_secret: str | None, redirect_uri: str) -> None:
        self.gateway = gateway.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.metadata: dict[str, Any] = {}
        self.tokens: dict[str, Any] = {}
        # the consent page sets a cookie on an IP host (the demo): allow it
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.http.close()

    def _auth(self) -> dict[str, Any]:
        """Client authentication: HTTP Basic for a confidential client, the client_id alone for a public one."""
        if self.client_secret:
            return {"headers": {"Authorization": aiohttp.encode_basic_auth(self.client_id, self.client_secret)}}
        return {}

    def _form(self, **fields: str) -> dict[str, str]:
        return fields if self.client_secret else {**fields, "client_id": self.client_id}

    async def discover(self) -> dict[str, Any]:
        async with self.http.get(f"{self.gateway}/.well-known/oauth-authorization-server") as r:
            r.raise_for_status()
            self.metadata = await r.json()
        return self.metadata

    def authorization_url(self, scope: str, state: str, verifier: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{self.metadata['authorization_endpoint']}?{urlencode(query)}"

    async def consent_as_person(self, url: str, sign_in_token: str, *, allow: bool = True) -> dict[str, list[str]]:
        """What the person does in their browser: sign in with the court's token, then Allow (or Deny).
        Returns the query the gateway redirected to the client with (code and state, or error)."""
        async with self.http.get(url) as r:
            assert r.status == 200, await r.text()
        async with self.http.post(url, data={"step": "sign-in", "id_token": sign_in_token}) as r:
            page = await r.text()
            if r.status != 200:
                raise RuntimeError(f"sign-in refused ({r.status})")
        fields = dict(re.findall(r'name="(ticket|csrf)" value="([^"]+)"', page))
        decision = {"step": "consent", **fields, "decision": "allow" if allow else "deny"}
        async with self.http.post(url, data=decision, allow_redirects=False) as r:
            if r.status != 302:
                raise RuntimeError(f"consent refused ({r.status})")
            location = r.headers["Location"]
        assert location.startswith(self.redirect_uri), "the gateway redirects to the registered URI only"
        return parse_qs(urlsplit(location).query)

    async def _token(self, **fields: str) -> dict[str, Any]:
        async with self.http.post(self.metadata["token_endpoint"], data=self._form(**fields), **self._auth()) as r:
            body = await r.json()
            if r.status != 200:
                raise PermissionError(f"token endpoint: {body.get('error')}: {body.get('error_description', '')}")
        self.tokens = body
        return body

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        return await self._token(
            grant_type="authorization_code", code=code, redirect_uri=self.redirect_uri, code_verifier=verifier
        )

    async def refresh(self) -> dict[str, Any]:
        return await self._token(grant_type="refresh_token", refresh_token=self.tokens["refresh_token"])

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}
        payload = {"query": query, "variables": variables or {}}
        async with self.http.post(f"{self.gateway}/graphql", json=payload, headers=headers) as r:
            return r.status, r.headers.copy(), await r.json(content_type=None)  # case-insensitive

    async def sync(self, point_file: Path) -> tuple[list[dict[str, Any]], int]:
        """The nightly sync: every page of ``changes`` after the point kept in ``point_file``, which is
        updated after each page (a crash repeats at most one page). The events, and the pages read."""
        point = load_point(point_file)
        events: list[dict[str, Any]] = []
        pages = 0
        while True:
            _, _, body = await self.graphql(SYNC, {"since": point})
            if body.get("errors", [{}])[0].get("extensions", {}).get("code") == "CHANGES_POINT_EXPIRED":
                point = None  # more than 30 days: re-read the cases in full, then follow changes from now
                continue
            page = body["data"]["changes"]
            events += [edge["node"] for edge in page["edges"]]  # a real client applies them here
            point = page["point"]
            keep_point(point_file, point)
            pages += 1
            if not page["hasMore"]:
                return events, pages

    async def register_webhook(self, url: str, event_types: list[str]) -> tuple[str, str]:
        """A receiver for the person's events: its endpoint id and signing secret (shown this once)."""
        _, _, body = await self.graphql(REGISTER, {"url": url, "types": event_types})
        registered = body["data"]["registerWebhookEndpoint"]
        return registered["endpoint"]["id"], registered["secret"]

    async def calendar(self) -> tuple[str, icalendar.Calendar]:
        """A new secret URL of the person's calendar feed (the old one stops working), and the feed."""
        _, _, body = await self.graphql("mutation { rotateCalendarFeed { url } }")
        url = self.gateway + body["data"]["rotateCalendarFeed"]["url"]
        async with self.http.get(url) as r:
            r.raise_for_status()
            return url, icalendar.Calendar.from_ical(await r.read())

    async def revoke(self) -> int:
        data = self._form(token=self.tokens["refresh_token"], token_type_hint="refresh_token")
        async with self.http.post(self.metadata["revocation_endpoint"], data=data, **self._auth()) as r:
            return r.status


class Receiver:
    """A minimal webhook receiver: verify each delivery (Standard Webhooks), record each ``webhook-id`` once."""

    def __init__(self) -> None:
        self.hooks: Webhook | None = None  # set once the endpoint is registered (its secret)
        self.events: dict[str, dict[str, Any]] = {}
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hooks is None:
            return web.Response(status=503)  # the secret is not known yet: the gateway will retry
        try:
            event = self.hooks.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return web.Response(status=400)
        self.events.setdefault(request.headers["webhook-id"], event)  # a retry repeats its webhook-id
        self.arrived.set()
        return web.Response(status=204)  # answer quickly; work afterwards

    @asynccontextmanager
    async def serving(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Listen (on a free port by default); yields the URL to register."""
        app = web.Application()
        app.router.add_post("/court", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        try:
            address = runner.addresses[0]
            yield f"http://{address[0]}:{address[1]}/court"
        finally:
            await runner.cleanup()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    client = FirmClient(args.gateway, args.client_id, args.client_secret, args.redirect_uri)
    try:
        await client.discover()
        verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        answer = await client.consent_as_person(
            client.authorization_url(args.scope, state, verifier), args.sign_in_token
        )
        assert answer["state"] == [state], "state must come back unchanged"
        await client.exchange(answer["code"][0], verifier)
        status, headers, body = await client.graphql(QUERY)
        events, pages = await client.sync(args.point_file)
        receiver = Receiver()
        async with receiver.serving() as url:  # in production: an https URL on a public host
            endpoint, secret = await client.register_webhook(url, ["document.served", "hearing.scheduled"])
            receiver.hooks = Webhook(secret)
            if args.listen:
                with suppress(TimeoutError):
                    await asyncio.wait_for(receiver.arrived.wait(), args.listen)
        feed_url, feed = await client.calendar()
        kinds = Counter(str(e["SUMMARY"]).split("：")[0] for e in feed.walk("VEVENT"))  # 开庭, 上诉期…届满, …
        old_refresh = client.tokens["refresh_token"]
        await client.refresh()
        assert client.tokens["refresh_token"] != old_refresh, "refresh tokens rotate"
        revoked = await client.revoke()
        return {
            "status": status,
            "rateLimit": headers.get("RateLimit"),
            "rateLimitPolicy": headers.get("RateLimit-Policy"),
            "viewer": body["data"]["viewer"],
            "cases": body["data"]["myCases"]["totalCount"],
            "errors": [e["extensions"]["code"] for e in body.get("errors", [])],
            "sync": {"events": len(events), "pages": pages, "types": sorted({e["type"] for e in events})},
            "webhook": {
                "endpoint": endpoint,
                "received": [
                    (e["type"], e["data"]["caseNumber"], e["data"]["title"]) for e in receiver.events.values()
                ],
            },
            "calendar": {
                "url": feed_url.split("/calendar/")[0] + "/calendar/…",
                "events": dict(kinds.most_common(3)),
            },
            "revoked": revoked,
        }
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="http://127.0.0.1:18000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", help="omit for a public client")
    parser.add_argument("--redirect-uri", default="http://127.0.0.1:8765/callback")
    parser.add_argument("--scope", default="cases:read documents:read webhooks:manage calendar:read")
    parser.add_argument(
        "--point-file", type=Path, default=Path(".firm-sync-point"), help="where the sync point is kept"
    )
    parser.add_argument("--listen", type=float, default=0, help="seconds to wait for a first webhook")
    parser.add_argument("--sign-in-token", required=True, help="the person's court sign-in token")
    print(json.dumps(asyncio.run(run(parser.parse_args())), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
