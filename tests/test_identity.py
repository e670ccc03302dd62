"""Identity: bearer JWTs (HS256 demo provider, RS256 with JWKS), and denial on every root field."""

from __future__ import annotations

import time

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.config import Settings
from gateway.identity import AuthError, IdentityLevel, Role, TokenVerifier, mint_hs256
from gateway.schema.common import global_id
from simulators.generator import World
from tests.conftest import GraphQLClient, mint

ROOT_FIELDS = {
    "viewer": "{ viewer { name } }",
    "courts": "{ courts { code } }",
    "myCases": "{ myCases { edges { node { caseNumber } } } }",
    "case": '{ case(caseNumber: "（2024）粤0104民初100号") { caseNumber } }',
    "documentsToSign": "{ documentsToSign { totalCount } }",
    "courtCases": "{ courtCases { totalCount } }",
    "node": '{ node(id: "' + global_id("Court", "粤0104") + '") { id } }',
}


def codes(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.mark.parametrize("field", ROOT_FIELDS)
async def test_every_root_field_needs_a_token(gateway: GraphQLClient, field: str) -> None:
    body = await gateway.query(ROOT_FIELDS[field])
    assert codes(body) == ["UNAUTHENTICATED"]
    assert not any((body.get("data") or {}).values()), "nothing is answered without a token"


@pytest.mark.parametrize("field", ROOT_FIELDS)
async def test_malformed_and_expired_tokens_are_unauthenticated(
    gateway: GraphQLClient, world: World, settings: Settings, field: str
) -> None:
    expired = mint(world, settings, "lawyer-chen", exp=int(time.time()) - 60)
    forged = mint_hs256({"sub": "lawyer-chen", "roles": ["LAWYER"]}, "not-the-secret")
    for token in ("garbage", expired, forged):
        assert codes(await gateway.query(ROOT_FIELDS[field], token=token)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("field", ["myCases", "documentsToSign"])
async def test_staff_have_no_personal_case_list(gateway: GraphQLClient, field: str) -> None:
    assert codes(await gateway.query(ROOT_FIELDS[field], as_="clerk-0104")) == ["FORBIDDEN"]


async def test_viewer_reflects_the_identity_provider(gateway: GraphQLClient) -> None:
    body = await gateway.query(
        "{ viewer { name roles identityLevel maskedIdNumber licenceNumber courtCode } }", as_="party-wang"
    )
    assert body["data"]["viewer"] == {
        "name": "王芳",
        "roles": ["PARTY"],
        "identityLevel": "REAL_NAME",
        "maskedIdNumber": "440104********3121",
        "licenceNumber": None,
        "courtCode": None,
    }
    staff = await gateway.query("{ viewer { roles courtCode } }", as_="head-0104")
    assert staff["data"]["viewer"] == {"roles": ["DIVISION_HEAD"], "courtCode": "粤0104"}


async def test_rs256_tokens_verify_against_a_jwks_endpoint() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    app = web.Application()
    app.router.add_get("/jwks.json", lambda r: web.json_response(jwks))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        verifier = TokenVerifier(jwks_url=f"http://127.0.0.1:{port}/jwks.json", issuer="https://idp.example")
        claims = {
            "sub": "u1",
            "name": "陈志明",
            "roles": ["LAWYER"],
            "level": "FACE",
            "iss": "https://idp.example",
            "licence_number": "14401200910100001",
            "exp": int(time.time()) + 60,
        }
        good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        viewer = await verifier.verify(good)
        assert viewer.roles == {Role.LAWYER} and viewer.level == IdentityLevel.FACE
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(AuthError):
            await verifier.verify(jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "k1"}))
        with pytest.raises(AuthError):
            await verifier.verify(
                jwt.encode({**claims, "iss": "https://evil"}, key, algorithm="RS256", headers={"kid": "k1"})
            )
        with pytest.raises(AuthError):  # HS256 is refused when only RS256 keys are configured
            await verifier.verify(mint_hs256(claims, "secret"))
    finally:
        await runner.cleanup()


async def test_production_never_accepts_the_demo_key(settings: Settings, world: World) -> None:
    from gateway.app import build_verifier

    production = settings.model_copy(update={"jwt_jwks_url": "http://127.0.0.1:9/jwks.json"})
    with pytest.raises(AuthError):
        await build_verifier(production).verify(mint(world, settings, "lawyer-chen"))
    custom = production.model_copy(update={"jwt_hs256_secret": "a-real-secret-shared-with-the-idp-0001"})
    token = mint_hs256({"sub": "x", "roles": ["LAWYER"], "licence_number": "1"}, custom.jwt_hs256_secret)
    assert (await build_verifier(custom).verify(token)).subject == "x"
