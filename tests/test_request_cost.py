"""Nothing per request that can be known in advance: a repeated read asks neither the database (the
viewer's approved bindings are cached exactly) nor the signature check (verified tokens are remembered,
never past their ``exp`` nor past a refetched key set)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import event

from gateway import identity
from gateway.identity import AuthError, TokenVerifier
from gateway.store import Store
from simulators.generator import World
from tests.conftest import GraphQLClient, background_paused, mint

CASE = "query ($n: String!) { case(caseNumber: $n) { caseNumber parties { name } } }"
MY_CASES = "{ myCases(first: 5) { edges { node { caseNumber } } } }"


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store runs meanwhile."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def test_a_case_read_asks_the_database_once_per_person_not_per_request(
    gateway: GraphQLClient, world: World
) -> None:
    app: Any = gateway.app  # type: ignore[attr-defined]
    settings = app.state.services.settings
    token = mint(world, settings, "lawyer-chen", sub=f"lawyer-chen-{uuid.uuid4().hex[:8]}")  # nothing cached yet
    listed = await gateway.query(MY_CASES, as_="lawyer-chen")
    number = listed["data"]["myCases"]["edges"][0]["node"]["caseNumber"]
    async with background_paused(app):  # the outboxes and the feed follower use the database too
        with statements(app.state.services.store) as first:
            body = await gateway.query(CASE, {"n": number}, token=token)
        assert body["data"]["case"]["caseNumber"] == number
        assert any("case_binding" in s for s in first), first
        with statements(app.state.services.store) as later:
            for _ in range(3):
                again = await gateway.query(CASE, {"n": number}, token=token)
                assert again == body
        assert later == []


def rsa_key(kid: str) -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def signed(private: Any, kid: str, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": "u1", "name": "李婉清", "iss": "https://idp.example", "iat": now, "exp": now + 600, **claims},
        private,
        algorithm="RS256",
        headers={"kid": kid},
    )


async def test_a_rotated_key_set_is_honoured_at_once_though_tokens_are_remembered() -> None:
    old, old_jwk = rsa_key("k1")
    new, new_jwk = rsa_key("k2")
    published = {"keys": [old_jwk]}

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(published)

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        verifier = TokenVerifier(jwks_url=f"http://127.0.0.1:{port}/jwks.json", issuer="https://idp.example")
        before = signed(old, "k1")
        first = await verifier.verify(before)
        assert await verifier.verify(before) is first  # remembered: no second signature check
        # the identity provider drops k1 (compromised) and signs with k2; the first k2 token refetches the keys
        published["keys"] = [new_jwk]
        assert (await verifier.verify(signed(new, "k2", sub="u2"))).subject == "u2"
        with pytest.raises(AuthError, match="unknown key"):
            await verifier.verify(before)
    finally:
        await runner.cleanup()


async def test_a_remembered_token_expires_with_its_exp() -> None:
    verifier = TokenVerifier(hs256_secret="s" * 32)
    now = int(time.time())
    token = jwt.encode({"sub": "u1", "iat": now, "exp": now + 2}, "s" * 32, algorithm="HS256")
    assert (await verifier.verify(token)).subject == "u1"
    await asyncio.sleep(now + 2.2 - time.time())
    with pytest.raises(AuthError, match="expired"):
        await verifier.verify(token)


async def test_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "VERIFIED_ENTRIES", 2)
    verifier = TokenVerifier(hs256_secret="s" * 32)
    now = int(time.time())
    tokens = [jwt.encode({"sub": f"u{i}", "exp": now + 60}, "s" * 32, algorithm="HS256") for i in range(3)]
    viewers = [await verifier.verify(t) for t in tokens]
    assert await verifier.verify(tokens[2]) is viewers[2]
    assert await verifier.verify(tokens[0]) is not viewers[0]  # the oldest was forgotten: checked again
    assert (await verifier.verify(tokens[0])).subject == "u0"
