"""Sign-in through the court identity provider by the OpenID Connect handshake, on real HTTP over loopback:
the demo provider (``simulators.oidc``, Authlib's server classes, RS256 + JWKS) on one port, the gateway
configured as its relying party (``GATEWAY_IDP_*``) on another, a browser scripted with aiohttp (its own
cookie jar, following redirects), and a firm's client (``examples/firm_client.py``) exchanging the code."""

from __future__ import annotations

import re
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt as pyjwt
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from gateway.config import Settings
from gateway.oauth.idp import CALLBACK_PATH, IdpConfig, RelyingParty, SignInFailed
from gateway.security import production_problems
from gateway.store.migrate import upgrade_async
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.oidc import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DemoProvider, demo_oidc_app
from tests.conftest import _free_port, serve_app
from tests.oauth.test_oauth import REDIRECT, SCOPE, WHO, Gateway, _run, firm
from tests.simulators.test_demo_restart import demo, demo_env


@dataclass
class Setup:
    gateway: Gateway
    idp_url: str
    provider: DemoProvider


@pytest.fixture(scope="module")
async def idp_setup(
    settings: Settings, world: World, cluster: SimulatorCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Setup]:
    from gateway.app import create_app

    idp_port, gateway_port = _free_port(), _free_port()
    idp_url, gateway_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{gateway_port}"
    idp_app = demo_oidc_app(world, settings.seed_file, idp_url, [gateway_url + CALLBACK_PATH])
    idp_server, idp_task, _ = await serve_app(idp_app, idp_port)
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('idp')}/gateway.db"
    await upgrade_async(database_url)
    configured = settings.model_copy(
        update={
            "database_url": database_url,
            "oauth_issuer": gateway_url,
            "change_poll_s": 0,
            "idp_issuer": idp_url,
            "idp_client_id": DEMO_CLIENT_ID,
            "idp_client_secret": DEMO_CLIENT_SECRET,
        }
    )
    app = create_app(configured, graphiql=False)
    server, task, url = await serve_app(app, gateway_port)
    try:
        yield Setup(Gateway(url, app, configured), idp_url, idp_app.state.provider)
    finally:
        server.should_exit = idp_server.should_exit = True
        await task
        await idp_task


async def to_idp_page(browser: aiohttp.ClientSession, authorization_url: str) -> tuple[str, str]:
    """The browser opens the client's authorization URL and lands on the identity provider's page."""
    async with browser.get(authorization_url) as r:
        assert r.status == 200, await r.text()
        return str(r.url), await r.text()


async def another_request(browser: aiohttp.ClientSession, client: Any) -> str:
    """A fresh authorisation request opened in ``browser``: the provider's page it lands on."""
    url, _ = await to_idp_page(browser, client.authorization_url(SCOPE, "s", secrets.token_urlsafe(48)))
    return url


async def pick(browser: aiohttp.ClientSession, idp_page_url: str, login: str) -> tuple[aiohttp.ClientResponse, str]:
    """The person picks ``login`` on the provider's page; the browser follows it back to the gateway."""
    async with browser.post(idp_page_url, data={"login": login}) as r:
        return r, await r.text()


async def consent(browser: aiohttp.ClientSession, page_url: str, page: str) -> dict[str, list[str]]:
    fields = dict(re.findall(r'name="(ticket|csrf)" value="([^"]+)"', page))
    async with browser.post(
        page_url, data={"step": "consent", **fields, "decision": "allow"}, allow_redirects=False
    ) as r:
        assert r.status == 302, await r.text()
        location = r.headers["Location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_full_handshake_as_lawyer_chen_then_graphql_through_the_client(idp_setup: Setup) -> None:
    gateway = idp_setup.gateway
    client = await gateway.client()
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(8)
    try:
        async with browser() as http:
            idp_page_url, page = await to_idp_page(http, client.authorization_url(SCOPE, state, verifier))
            assert idp_page_url.startswith(idp_setup.idp_url + "/authorize?")
            query = parse_qs(urlsplit(idp_page_url).query)
            assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
            assert query["redirect_uri"] == [gateway.url + CALLBACK_PATH]
            assert "lawyer-chen" in page and "<script" not in page
            # the handshake cookie is HttpOnly, SameSite=Lax, for the gateway's OAuth paths only
            cookie = next(c for c in http.cookie_jar if c.key == "cg_oauth_idp")
            assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/oauth/"
            back, consent_page = await pick(http, idp_page_url, "lawyer-chen")
            assert back.status == 200 and str(back.url).startswith(gateway.url + "/oauth/authorize?")
            assert [h.status for h in back.history] == [302, 303], "provider -> callback -> the same request"
            assert "陈志明" in consent_page and "cases:read" in consent_page
            answer = await consent(http, str(back.url), consent_page)
            assert answer["state"] == [state]
            # the sign-in served this one request: opening it again starts a new handshake
            async with http.get(str(back.url), allow_redirects=False) as r:
                assert r.status == 302 and r.headers["Location"].startswith(idp_setup.idp_url)
        await client.exchange(answer["code"][0], verifier)
        status, _, body = await client.graphql(WHO)
        assert status == 200, body
        assert body["data"]["viewer"]["name"] == "陈志明"
        assert body["data"]["viewer"]["client"]["id"] == client.client_id
    finally:
        await client.close()


async def test_a_forged_state_or_a_callback_in_another_browser_is_refused(idp_setup: Setup) -> None:
    client = await idp_setup.gateway.client()
    try:
        async with browser() as http:
            url = await another_request(http, client)
            async with http.post(url, data={"login": "lawyer-chen"}, allow_redirects=False) as r:
                callback = r.headers["Location"]
            parts = parse_qs(urlsplit(callback).query)
            assert callback.startswith(idp_setup.gateway.url + CALLBACK_PATH) and parts["code"]
            # login CSRF: an attacker's callback (their code, their state) opened in a victim's browser
            async with browser() as victim, victim.get(callback) as r:
                assert r.status == 403 and "did not start in this browser" in await r.text()
            forged = callback.replace("state=", "state=x")
            async with http.get(forged) as r:
                assert r.status == 403 and "does not belong to this browser" in await r.text()
            # the real answer works once; its code again, in a new handshake, is refused (used, and its PKCE
            # challenge is the first handshake's)
            async with http.get(callback) as r:
                assert r.status == 200 and "Allow" in await r.text()
            url = await another_request(http, client)
            fresh_state = parse_qs(urlsplit(url).query)["state"][0]
            replayed = callback.split("?")[0] + f"?code={parts['code'][0]}&state={fresh_state}"
            async with http.get(replayed) as r:
                assert r.status == 403 and "sign-in failed" in await r.text()
    finally:
        await client.close()


async def test_an_id_token_with_another_nonce_is_refused_end_to_end(idp_setup: Setup) -> None:
    """The provider answers with an ID token for another sign-in (its nonce is not this browser's)."""
    client = await idp_setup.gateway.client()
    try:
        async with browser() as http:
            url = await another_request(http, client)
            async with http.post(url, data={"login": "lawyer-chen"}, allow_redirects=False) as r:
                callback = r.headers["Location"]
            code = parse_qs(urlsplit(callback).query)["code"][0]
            idp_setup.provider.codes[code].nonce = secrets.token_urlsafe(24)  # as if issued for another request
            async with http.get(callback) as r:
                text = await r.text()
                assert r.status == 403 and "sign-in failed" in text and "nonce" in text
    finally:
        await client.close()


async def test_staff_cannot_consent_and_cancel_is_refused(idp_setup: Setup) -> None:
    client = await idp_setup.gateway.client()
    try:
        async with browser() as http:
            url = await another_request(http, client)
            r, text = await pick(http, url, "clerk-0104")
            assert r.status == 403 and "only lawyers and parties" in text
            url = await another_request(http, client)
            r, text = await pick(http, url, "")  # Cancel at the provider: access_denied comes back
            assert r.status == 403 and "access_denied" in text
    finally:
        await client.close()


async def test_an_id_token_of_another_issuer_is_refused_end_to_end(idp_setup: Setup) -> None:
    client = await idp_setup.gateway.client()
    provider = idp_setup.provider
    issuer = provider.issuer
    try:
        async with browser() as http:
            url = await another_request(http, client)
            provider.issuer = "https://other-idp.example"  # the provider now signs as someone else
            try:
                async with http.post(url, data={"login": "lawyer-chen"}) as r:
                    assert r.status == 403
                    assert "sign-in failed" in await r.text()
            finally:
                provider.issuer = issuer
    finally:
        await client.close()


async def test_id_token_validation_refuses_wrong_audience_nonce_key_and_algorithm(idp_setup: Setup) -> None:
    """The relying party's checks one by one, with tokens signed by the live provider's own key."""
    rp = RelyingParty(IdpConfig(idp_setup.idp_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), "http://x/cb")
    key = idp_setup.provider.key
    now = int(time.time())
    good = {"iss": idp_setup.idp_url, "aud": DEMO_CLIENT_ID, "sub": "lawyer-chen", "iat": now, "exp": now + 60}
    header = {"alg": "RS256", "kid": key.kid}

    def signed(claims: dict[str, Any], hdr: dict[str, Any] = header, k: Any = key) -> str:
        return jwt.encode(hdr, claims, k, algorithms=[hdr["alg"]])

    assert (await rp._validate(signed({**good, "nonce": "n"}), "n"))["sub"] == "lawyer-chen"
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"}, private=True)
    refused = {
        "another audience": signed({**good, "aud": "someone-else", "nonce": "n"}),
        "another issuer": signed({**good, "iss": "http://127.0.0.1:1", "nonce": "n"}),
        "another nonce": signed({**good, "nonce": "other"}),
        "no nonce": signed(good),
        "expired": signed({**good, "nonce": "n", "iat": now - 7200, "exp": now - 3600}),
        "unknown key": signed({**good, "nonce": "n"}, {"alg": "RS256", "kid": "stranger"}, stranger),
        "stranger's key, provider's kid": signed({**good, "nonce": "n"}, header, stranger),
        "HMAC with the client secret": signed(
            {**good, "nonce": "n"}, {"alg": "HS256"}, OctKey.import_key(DEMO_CLIENT_SECRET.encode())
        ),
        "several audiences without azp": signed({**good, "aud": [DEMO_CLIENT_ID, "other"], "nonce": "n"}),
    }
    for what, token in refused.items():
        with pytest.raises(SignInFailed):
            await rp._validate(token, "n")
            pytest.fail(f"accepted an ID token with {what}")


def test_production_requires_https_identity_provider_urls() -> None:
    assert not [p for p in production_problems(Settings(mode="production")) if "GATEWAY_IDP" in p]
    plain = Settings(mode="production", idp_issuer="http://idp.court.example", idp_client_id="gw")
    assert any("GATEWAY_IDP_ISSUER" in p and "https" in p for p in production_problems(plain))
    discovery = Settings(
        mode="production",
        idp_issuer="https://idp.court.example",
        idp_discovery_url="http://idp.court.example/.well-known/openid-configuration",
        idp_client_id="gw",
        idp_client_secret="s" * 40,
    )
    assert any("GATEWAY_IDP_DISCOVERY_URL" in p for p in production_problems(discovery))
    good = discovery.model_copy(update={"idp_discovery_url": ""})
    assert not [p for p in production_problems(good) if "GATEWAY_IDP" in p]


async def test_the_demo_keeps_the_pasted_token_path_for_scripts(idp_setup: Setup, tokens: dict[str, str]) -> None:
    """In demo mode the scripted consent of examples/firm_client.py still works beside the handshake (its
    GET lands on the provider's page; its pasted token signs in), and refuses what the handshake refuses."""
    client = await idp_setup.gateway.client()
    verifier = secrets.token_urlsafe(48)
    try:
        url = client.authorization_url(SCOPE, "s", verifier)
        answer = await client.consent_as_person(url, tokens["lawyer-chen"])
        await client.exchange(answer["code"][0], verifier)
        status, _, body = await client.graphql(WHO)
        assert status == 200 and body["data"]["viewer"]["name"] == "陈志明"
        with pytest.raises(RuntimeError, match="403"):
            await client.consent_as_person(client.authorization_url(SCOPE, "s", verifier), tokens["clerk-0104"])
    finally:
        await client.close()


async def test_production_has_no_pasted_token_page(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Without an identity provider a production gateway says sign-in is not configured, and refuses a pasted
    token even when it is valid there."""
    from gateway.app import create_app
    from tests.test_security import AUDIENCE, ISSUER, production

    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('prod-idp')}/gateway.db"
    await upgrade_async(database)
    port = _free_port()
    configured = production(settings, database_url=database, oauth_issuer=f"http://127.0.0.1:{port}")
    app = create_app(configured)
    server, task, url = await serve_app(app, port)
    try:
        client = await Gateway(url, app, configured).client()
        now = int(time.time())
        claims = {"sub": "lawyer-chen", "roles": ["LAWYER"], "licence_number": "x", "level": "FACE"}
        claims |= {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
        valid_here = pyjwt.encode(claims, configured.jwt_hs256_secret, algorithm="HS256")
        authorize = client.authorization_url(SCOPE, "s", secrets.token_urlsafe(48))
        async with browser() as http:
            async with http.get(authorize) as r:
                assert r.status == 503 and "not configured" in await r.text()
            async with http.post(authorize, data={"step": "sign-in", "id_token": valid_here}) as r:
                assert r.status == 403 and "identity provider" in await r.text()
        await client.close()
    finally:
        server.should_exit = True
        await task


async def test_court_gateway_demo_serves_its_identity_provider_for_the_handshake(
    tmp_path: Path, settings: Settings
) -> None:
    """``court-gateway demo`` as a real process: a client registered with the CLI, lawyer-chen signs in by
    picking her name on the demo provider's page, consents, and the client reads as her."""
    env = demo_env(settings) | {"GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/gateway.db"}
    cli = str(Path(sys.executable).with_name("court-gateway"))
    async with demo(env, tmp_path, "idp") as console:
        assert f"demo identity provider (OpenID Connect): http://127.0.0.1:{env['GATEWAY_DEMO_IDP_PORT']}" in (
            console.read_text()
        )
        added = await _run(
            [cli, "clients", "add", "穗正律所", "--redirect-uri", REDIRECT, "--scope", "cases:read"], env
        )
        printed = dict(line.split(":", 1) for line in added.splitlines() if line.startswith("client_"))
        gateway_url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        client = firm.FirmClient(gateway_url, printed["client_id"].strip(), printed["client_secret"].strip(), REDIRECT)
        verifier = secrets.token_urlsafe(48)
        try:
            await client.discover()
            async with browser() as http:
                url, _ = await to_idp_page(http, client.authorization_url("cases:read", "s", verifier))
                assert url.startswith(f"http://127.0.0.1:{env['GATEWAY_DEMO_IDP_PORT']}/authorize")
                back, consent_page = await pick(http, url, "lawyer-chen")
                answer = await consent(http, str(back.url), consent_page)
            await client.exchange(answer["code"][0], verifier)
            status, _, body = await client.graphql("{ viewer { name } }")
            assert status == 200 and body["data"]["viewer"]["name"] == "陈志明", body
        finally:
            await client.close()
