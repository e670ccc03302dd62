"""Production mode: the gateway refuses to start on a public, short or missing secret, and its tokens must
name the issuer and audience and live at most a day. Demo mode starts on the demo secrets, and says so.

The refusals are checked where an operator meets them: ``create_app`` and ``court-gateway serve``. Tokens
are checked over real HTTP against a production gateway on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.app import create_app
from gateway.config import DEMO_DOWNLOAD_SECRET, DEMO_JWT_HS256_SECRET, DEMO_OAUTH_SECRET, SealSigner, Settings
from gateway.core.demo_chain import DemoChain
from gateway.core.pdfsign import SealCredentialError
from gateway.core.seal import DEMO_SEED
from gateway.identity import mint_hs256
from gateway.security import InsecureConfiguration, check_production
from gateway.store.migrate import upgrade_async
from simulators.generator import World
from tests.conftest import GraphQLClient, mint, serve_app
from tests.seals import court_chain

ISSUER = "https://idp.example.gov.cn"
#: a court CA's chain that is not the demo's: (root, signing certificate and chain, key)
COURT_CHAIN = court_chain("广州市中级人民法院")
AUDIENCE = "court-gateway"
PARTY_AND_LEADER = {"sub": "attacker", "roles": ["PARTY", "COURT_LEADER"], "court": "粤0104", "level": "FACE"}


def production(settings: Settings, **changes: Any) -> Settings:
    """``settings`` made fit for production (real secrets, issuer, audience), then ``changes``."""
    fit = {
        "mode": "production",
        "jwt_hs256_secret": secrets.token_urlsafe(32),
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "download_secret": secrets.token_urlsafe(32),
        "oauth_token_secret": secrets.token_urlsafe(32),
        "oauth_issuer": "https://aol.gzcourt.gov.cn",
        "seal_private_key": Ed25519PrivateKey.generate().private_bytes_raw().hex(),
        "seal_signers": {"default": SealSigner(certificate=COURT_CHAIN[1], key=COURT_CHAIN[2])},
        "seal_trust_roots": [COURT_CHAIN[0]],
        "change_poll_s": 0,
        # these tests send documents of their own as a first-party caller; production's default refuses
        # them (only trusted documents: tests/test_persisted.py)
        "first_party_documents": "any",
    }
    return settings.model_copy(update={**fit, **changes})


def demo_chain_signer(tmp: Path) -> tuple[SealSigner, str]:
    """A court credential of the demo chain, and the demo root: what production must refuse."""
    chain = DemoChain(tmp)
    issued = chain.court("yuexiu", "广州市越秀区人民法院")
    return SealSigner(certificate=issued.chain_pem.decode(), key=issued.key_pem.decode()), chain.root_pem().decode()


# -- refusing to start -----------------------------------------------------------------------------------

DEMO_SEAL_PUBLIC = Ed25519PrivateKey.from_private_bytes(DEMO_SEED).public_key().public_bytes_raw().hex()
DEMO_SIGNER, DEMO_ROOT = demo_chain_signer(Path(tempfile.mkdtemp(prefix="demo-seal-")))

INSECURE = {
    "demo-oauth-key": ({"oauth_token_secret": DEMO_OAUTH_SECRET}, "GATEWAY_OAUTH_TOKEN_SECRET"),
    "short-oauth-key": ({"oauth_token_secret": "short"}, "GATEWAY_OAUTH_TOKEN_SECRET"),
    "http-oauth-issuer": ({"oauth_issuer": "http://aol.gzcourt.gov.cn"}, "GATEWAY_OAUTH_ISSUER"),
    "demo-jwt-key": ({"jwt_hs256_secret": DEMO_JWT_HS256_SECRET}, "GATEWAY_JWT_HS256_SECRET"),
    "demo-jwt-key-beside-jwks": (
        {"jwt_hs256_secret": DEMO_JWT_HS256_SECRET, "jwt_jwks_url": "https://idp.example/jwks"},
        "GATEWAY_JWT_HS256_SECRET",
    ),
    "short-jwt-key": ({"jwt_hs256_secret": "x" * 31}, "GATEWAY_JWT_HS256_SECRET"),
    "no-identity-provider": ({"jwt_hs256_secret": ""}, "GATEWAY_JWT_JWKS_URL"),
    "no-issuer": ({"jwt_issuer": ""}, "GATEWAY_JWT_ISSUER"),
    "no-audience": ({"jwt_audience": ""}, "GATEWAY_JWT_AUDIENCE"),
    "demo-download-key": ({"download_secret": DEMO_DOWNLOAD_SECRET}, "GATEWAY_DOWNLOAD_SECRET"),
    "short-download-key": ({"download_secret": "a-password"}, "GATEWAY_DOWNLOAD_SECRET"),
    "no-seal-certificate": ({"seal_signers": {}}, "GATEWAY_SEAL_SIGNERS"),
    "some-courts-without-seal-certificate": (
        {"seal_signers": {"yuexiu": SealSigner(certificate=COURT_CHAIN[1], key=COURT_CHAIN[2])}},
        "GATEWAY_SEAL_SIGNERS has no certificate for",
    ),
    "demo-seal-chain": ({"seal_signers": {"default": DEMO_SIGNER}}, "GATEWAY_SEAL_SIGNERS__DEFAULT"),
    "demo-seal-root-trusted": ({"seal_trust_roots": [COURT_CHAIN[0], DEMO_ROOT]}, "GATEWAY_SEAL_TRUST_ROOTS"),
    "no-seal-trust-roots": ({"seal_trust_roots": []}, "GATEWAY_SEAL_TRUST_ROOTS"),
    "http-identity-provider": (
        {"idp_issuer": "http://idp.gzcourt.gov.cn", "idp_client_id": "gw", "idp_client_secret": "s" * 40},
        "GATEWAY_IDP_ISSUER",
    ),
    "identity-provider-without-registration": ({"idp_issuer": "https://idp.gzcourt.gov.cn"}, "GATEWAY_IDP_CLIENT_ID"),
    "demo-seal-key": ({"seal_private_key": DEMO_SEED.hex()}, "GATEWAY_SEAL_PRIVATE_KEY"),
    "demo-seal-key-trusted": ({"seal_trusted_public_keys": [DEMO_SEAL_PUBLIC]}, "GATEWAY_SEAL_TRUSTED_PUBLIC_KEYS"),
}


@pytest.mark.parametrize("change", INSECURE.values(), ids=INSECURE.keys())
def test_production_refuses_to_start_on_a_public_short_or_missing_secret(
    settings: Settings, change: tuple[dict[str, Any], str]
) -> None:
    changes, setting = change
    with pytest.raises(InsecureConfiguration, match=setting) as refused:
        create_app(production(settings, **changes))
    assert "GATEWAY_MODE=production" in str(refused.value)
    if setting != "GATEWAY_JWT_JWKS_URL":  # without any identity provider nothing starts
        create_app(production(settings, **changes, mode="demo"))  # the demo starts on it


def test_an_unreadable_seal_credential_is_named_in_production_and_stops_the_demo_too(settings: Settings) -> None:
    wrong_key = court_chain("另一法院")[2]
    for signer, message in (
        (SealSigner(certificate=COURT_CHAIN[1], key="/nonexistent/seal.key"), "cannot read /nonexistent/seal.key"),
        (SealSigner(certificate=COURT_CHAIN[1], key=wrong_key), "does not belong to the seal certificate"),
    ):
        with pytest.raises(InsecureConfiguration, match="GATEWAY_SEAL_SIGNERS__DEFAULT: .*" + message):
            create_app(production(settings, seal_signers={"default": signer}))
        with pytest.raises(SealCredentialError, match=message):
            create_app(production(settings, seal_signers={"default": signer}, mode="demo"))


def test_every_problem_is_named_at_once_and_a_fit_configuration_starts(settings: Settings) -> None:
    with pytest.raises(InsecureConfiguration) as refused:
        check_production(settings.model_copy(update={"mode": "production"}))
    for setting in (
        "JWT_HS256_SECRET",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "DOWNLOAD_SECRET",
        "OAUTH_TOKEN_SECRET",
        "SEAL_SIGNERS",
        "SEAL_TRUST_ROOTS",
    ):
        assert f"GATEWAY_{setting}" in str(refused.value), setting
    jwks_only = production(settings, jwt_hs256_secret="", jwt_jwks_url="https://idp.example/jwks")
    for fit in (production(settings), jwks_only):
        create_app(fit)


def test_demo_mode_starts_on_the_demo_secrets_and_warns(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    assert settings.mode == "demo" and settings.download_secret == DEMO_DOWNLOAD_SECRET
    with caplog.at_level(logging.WARNING):
        create_app(settings)
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "demo download-link key" in warnings and "demo identity provider's key" in warnings


async def test_serve_refuses_production_on_demo_secrets_naming_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, "GATEWAY_MODE": "production", "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/g.db"}
    env = {k: v for k, v in env.items() if k not in ("GATEWAY_DOWNLOAD_SECRET", "GATEWAY_JWT_HS256_SECRET")}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("court-gateway")),
        "serve",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    message = err.decode()
    assert message.startswith("court-gateway: refusing to start in production"), message
    assert "GATEWAY_DOWNLOAD_SECRET" in message and "GATEWAY_JWT_HS256_SECRET" in message
    assert "Traceback" not in message


# -- tokens in production ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def prod(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[GraphQLClient]:
    """A production gateway on loopback (its own database; no court is asked anything)."""
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('prod')}/gateway.db"
    configured = production(settings, database_url=database)
    await upgrade_async(database)
    server, task, url = await serve_app(create_app(configured))
    client = GraphQLClient(f"{url}/graphql", {})
    client.settings = configured  # type: ignore[attr-defined]
    yield client
    server.should_exit = True
    await task


def signed(prod: GraphQLClient, claims: dict[str, Any], *, key: str | None = None) -> str:
    secret: str = key or prod.settings.jwt_hs256_secret  # type: ignore[attr-defined]
    return jwt.encode(claims, secret, algorithm="HS256")


async def viewer_answer(prod: GraphQLClient, token: str) -> tuple[Any, list[str]]:
    body = await prod.query("{ viewer { roles } }", token=token)
    return body["data"], [e["extensions"]["code"] for e in body.get("errors", [])]


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {**PARTY_AND_LEADER, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    return {k: v for k, v in {**claims, **changes}.items() if v is not None}


async def test_production_accepts_a_well_formed_token(prod: GraphQLClient) -> None:
    data, errors = await viewer_answer(prod, signed(prod, good_claims()))
    assert errors == [] and sorted(data["viewer"]["roles"]) == ["COURT_LEADER", "PARTY"]


async def test_a_token_signed_with_the_public_demo_key_is_refused_in_production(prod: GraphQLClient) -> None:
    forged = signed(prod, good_claims(), key=DEMO_JWT_HS256_SECRET)
    assert await viewer_answer(prod, forged) == (None, ["UNAUTHENTICATED"])
    demo_minted = mint_hs256(PARTY_AND_LEADER, DEMO_JWT_HS256_SECRET)
    assert await viewer_answer(prod, demo_minted) == (None, ["UNAUTHENTICATED"])


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": None},
        {"aud": None},
        {"iss": "https://evil.example"},
        {"aud": "another-service"},
        {"exp": None},
    ],
    ids=["no-iss", "no-aud", "other-iss", "other-aud", "no-exp"],
)
async def test_production_refuses_tokens_without_issuer_audience_or_expiry(
    prod: GraphQLClient, changes: dict[str, Any]
) -> None:
    assert await viewer_answer(prod, signed(prod, good_claims(**changes))) == (None, ["UNAUTHENTICATED"])


@pytest.mark.parametrize(
    "lifetime",
    [
        {"exp_in": 10 * 365 * 86400},
        {"exp_in": 25 * 3600},
        {"exp_in": 10 * 365 * 86400, "no_iat": True},
        {"exp_in": 3600, "iat_ago": 2 * 86400},
    ],
    ids=["ten-years", "25-hours", "ten-years-without-iat", "issued-two-days-before-a-short-exp"],
)
async def test_overlong_tokens_are_refused(prod: GraphQLClient, lifetime: dict[str, Any]) -> None:
    now = int(time.time())
    iat = None if lifetime.get("no_iat") else now - lifetime.get("iat_ago", 0)
    token = signed(prod, good_claims(iat=iat, exp=now + lifetime["exp_in"]))
    data, errors = await viewer_answer(prod, token)
    assert (data, errors) == (None, ["UNAUTHENTICATED"])


async def test_the_demo_refuses_overlong_tokens_too(gateway: GraphQLClient, world: World, settings: Settings) -> None:
    now = int(time.time())
    ten_years = mint(world, settings, "lawyer-chen", exp=now + 10 * 365 * 86400)
    body = await gateway.query("{ viewer { name } }", token=ten_years)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert "lifetime" in body["errors"][0]["message"]
    day = mint(world, settings, "lawyer-chen", exp=now + 24 * 3600 - 60)
    assert (await gateway.query("{ viewer { name } }", token=day))["data"]["viewer"]["name"]
