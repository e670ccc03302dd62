"""The reference web client's routes: ``/app/`` in demo mode, and the demo sign-in ``/demo/login`` only while the
gateway trusts the demo identity provider's public key (never with a real identity provider or in production).
Real HTTP on loopback; the browser test (``tests/browser/test_web_client.py``) drives the page itself."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.webclient import routes, uses_demo_identity_provider
from simulators.cluster import SimulatorCluster
from tests.conftest import GraphQLClient, serve_app


@contextlib.asynccontextmanager
async def _serve(settings: Settings) -> AsyncIterator[str]:
    server, task, url = await serve_app(create_app(settings.model_copy(update={"change_poll_s": 0}), graphiql=False))
    yield url
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def demo(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[str]:
    async with _serve(settings) as url:
        yield url


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


async def _login(url: str, body: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session, session.post(f"{url}/demo/login", json=body) as response:
        if response.status == 404:
            return 404, {}
        return response.status, await response.json()


async def test_the_page_and_its_bundle_are_served_from_this_origin_only(demo: str) -> None:
    status, headers, page = await _get(f"{demo}/app/")
    assert status == 200 and b'<script type="module" src="app.js">' in page
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "connect-src 'self'" in headers["content-security-policy"]
    status, headers, script = await _get(f"{demo}/app/app.js")
    assert status == 200 and "javascript" in headers["content-type"]
    assert b"graphql-transport-ws" in script, "graphql-ws is bundled, not fetched from a CDN"
    assert b"https://" not in page
    status, _, licence = await _get(f"{demo}/app/licenses/graphql-ws-LICENSE.md")
    assert status == 200 and b"MIT" in licence


async def test_a_demo_login_gets_a_token_the_gateway_accepts(demo: str, tokens: dict[str, str]) -> None:
    status, _, listed = await _get(f"{demo}/demo/login")
    assert status == 200 and b"lawyer-chen" in listed
    status, body = await _login(demo, {"login": "lawyer-chen"})
    assert status == 200
    answer = await GraphQLClient(f"{demo}/graphql", tokens).query("{ viewer { name } }", token=body["token"])
    assert answer["data"]["viewer"]["name"] == body["name"]


@pytest.mark.parametrize("body", [{"login": "nobody"}, {"login": "x" * 10_000}, {"login": 7}, ["lawyer-chen"], "x"])
async def test_anything_else_is_refused_typed_and_not_echoed(demo: str, body: object) -> None:
    status, answer = await _login(demo, body)
    assert status == 400
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "nobody" not in error["message"] and "xxxx" not in error["message"]
    assert "token" not in answer


async def test_no_demo_sign_in_with_a_real_identity_provider(settings: Settings, cluster: SimulatorCluster) -> None:
    for configured in (
        settings.model_copy(update={"jwt_jwks_url": "http://127.0.0.1:9/jwks.json"}),
        settings.model_copy(update={"jwt_hs256_secret": "a-secret-of-this-deployment-only-0123456789"}),
    ):
        async with _serve(configured) as url:
            status, _ = await _login(url, {"login": "lawyer-chen"})
            assert status == 404, "nobody can mint a token here"


def test_production_serves_neither(settings: Settings) -> None:
    production = settings.model_copy(update={"mode": "production"})
    assert not uses_demo_identity_provider(production)
    assert routes(production) == []
