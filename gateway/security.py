"""Production refuses to start on a secret anyone can read (DESIGN §5).

The demo runs on secrets that ship in this repository or sit unguarded on disk: the demo identity
provider's HS256 key, the key of the access tokens the gateway issues to firms' software (whose issuer
must be https, or a loopback address), the download-link key, the demo seal chain (a root CA and court certificates whose
keys lie in the data directory) and the earlier Ed25519 seal key. Whoever holds them mints tokens for any
role, forges download links, and seals forged files. Production also needs every court's seal certificate
(or a default one) and the roots seals are verified against. In ``mode = "production"`` :func:`check_production` refuses
them, and any secret shorter than ``MIN_SECRET_BYTES``, and a token issuer or audience left unset; it
names every setting to change at once, so one restart fixes them all. In ``mode = "demo"`` the gateway
starts and warns (here for the download key; ``build_verifier`` and ``sealer_for`` warn of theirs).

An identity provider for consent (``GATEWAY_IDP_ISSUER``), when set, must be https and name the gateway's
registration there.

Production also closes what the demo leaves open unless a setting says otherwise: schema introspection is
for signed-in callers only (``introspection_policy``), and first-party clients may run only their
trusted documents (``document_policy``; law firms' OAuth clients may still send their own).
"""

from __future__ import annotations

import logging

from asn1crypto import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import DEMO_DOWNLOAD_SECRET, DEMO_JWT_HS256_SECRET, DEMO_OAUTH_SECRET, Settings
from gateway.core.demo_chain import DEMO_ORGANIZATION
from gateway.core.pdfsign import SealCredentialError, credential_of, trust_roots_of
from gateway.core.seal import DEMO_SEED, SealKeyError, key_id, load_private_key, load_public_key
from gateway.oauth.redirects import redirect_problem
from gateway.persisted import DocumentPolicy

log = logging.getLogger("gateway.security")

#: an HMAC key shorter than its hash's block of entropy is guessable offline from one token or link
MIN_SECRET_BYTES = 32


class InsecureConfiguration(RuntimeError):
    """Production settings that would let an outsider mint tokens, forge links or seals."""


def production_problems(settings: Settings) -> list[str]:
    """What keeps ``settings`` from running in production, one sentence per setting (empty: nothing)."""
    problems: list[str] = []
    hs256, jwks = settings.jwt_hs256_secret, settings.jwt_jwks_url
    if hs256 == DEMO_JWT_HS256_SECRET:
        problems.append(
            "GATEWAY_JWT_HS256_SECRET is the public demo key: set the secret shared with your identity provider, "
            'or "" when GATEWAY_JWT_JWKS_URL is set'
        )
    elif hs256 and len(hs256.encode()) < MIN_SECRET_BYTES:
        problems.append(f"GATEWAY_JWT_HS256_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
    elif not hs256 and not jwks:
        problems.append("no identity provider: set GATEWAY_JWT_JWKS_URL (or GATEWAY_JWT_HS256_SECRET)")
    if not settings.jwt_issuer:
        problems.append("GATEWAY_JWT_ISSUER is unset: tokens of any issuer would be accepted")
    if not settings.jwt_audience:
        problems.append("GATEWAY_JWT_AUDIENCE is unset: tokens meant for other services would be accepted")
    if settings.download_secret == DEMO_DOWNLOAD_SECRET:
        problems.append("GATEWAY_DOWNLOAD_SECRET is the public demo key: anyone could forge download links")
    elif len(settings.download_secret.encode()) < MIN_SECRET_BYTES:
        problems.append(f"GATEWAY_DOWNLOAD_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
    if settings.oauth_token_secret == DEMO_OAUTH_SECRET:
        problems.append("GATEWAY_OAUTH_TOKEN_SECRET is the public demo key: anyone could mint client access tokens")
    elif len(settings.oauth_token_secret.encode()) < MIN_SECRET_BYTES:
        problems.append(f"GATEWAY_OAUTH_TOKEN_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
    issuer_problem = redirect_problem(settings.oauth_issuer_url, production=True)
    if issuer_problem:
        problems.append(f"the OAuth issuer {settings.oauth_issuer_url} (GATEWAY_OAUTH_ISSUER): {issuer_problem}")
    problems += _idp_problems(settings)
    problems += _seal_certificate_problems(settings)
    problems += _seal_key_problems(settings.seal_private_key, settings.seal_trusted_public_keys)
    return problems


def _idp_problems(settings: Settings) -> list[str]:
    """The identity provider persons sign in at to authorise firms' software (``gateway.oauth.idp``), when
    set: https only (a plain-http provider's answers could be changed on the way: whoever did would sign in
    as anyone), and the gateway's registration there. Unset, persons cannot authorise software in production
    (the pasted-token page is the demo's), which is not insecure."""
    if not settings.idp_issuer:
        return []
    problems = []
    for name, url in (
        ("GATEWAY_IDP_ISSUER", settings.idp_issuer),
        ("GATEWAY_IDP_DISCOVERY_URL", settings.idp_discovery_url),
    ):
        if url and not url.startswith("https://"):
            problems.append(f"{name} {url} must be https: the identity provider signs persons in")
    if "REPLACE-ME" in settings.idp_client_secret:
        problems.append("GATEWAY_IDP_CLIENT_SECRET is the Secret template's placeholder")
    if not settings.idp_client_id or not settings.idp_client_secret:
        problems.append(
            "GATEWAY_IDP_CLIENT_ID and GATEWAY_IDP_CLIENT_SECRET: the gateway's registration at the identity provider"
        )
    return problems


def _seal_key_problems(private: str, trusted: list[str]) -> list[str]:
    """The earlier Ed25519 seal, verified for a transition: never with the public demo key."""
    demo = key_id(Ed25519PrivateKey.from_private_bytes(DEMO_SEED).public_key())
    problems = []
    try:
        if private.strip() and key_id(load_private_key(private).public_key()) == demo:
            problems.append("GATEWAY_SEAL_PRIVATE_KEY is the public demo seal key: forged seals would verify")
        if any(key_id(load_public_key(t)) == demo for t in trusted):
            problems.append("GATEWAY_SEAL_TRUSTED_PUBLIC_KEYS trusts the demo seal key: forged seals would verify")
    except SealKeyError as e:
        problems.append(f"a seal key cannot be read: {e}")
    return problems


def _is_demo(certificate: x509.Certificate) -> bool:
    names = (certificate.subject.native, certificate.issuer.native)
    return any(name.get("organization_name") == DEMO_ORGANIZATION for name in names)


def _seal_certificate_problems(settings: Settings) -> list[str]:
    """The court seal: every court's own credential (or a default one), none of the demo chain, and trust
    roots to verify against, none of them the demo root."""
    problems = []
    signers = settings.seal_signers
    courts = [c.slug for c in settings.courts if c.is_court]
    missing = [slug for slug in courts if slug not in signers]
    if "default" not in signers and missing:
        problems.append(
            "GATEWAY_SEAL_SIGNERS has no certificate for "
            + (", ".join(missing) if len(missing) < len(courts) else "any court")
            + " (nor a default one): the demo certificate chain would seal their files"
        )
    for name, signer in signers.items():
        try:
            credential = credential_of(signer)
        except SealCredentialError as e:
            problems.append(f"GATEWAY_SEAL_SIGNERS__{name.upper()}: {e}")
            continue
        if any(_is_demo(c) for c in (credential.certificate, *credential.chain)):
            problems.append(f"GATEWAY_SEAL_SIGNERS__{name.upper()} is a certificate of the demo seal chain")
    if not settings.seal_trust_roots:
        problems.append("GATEWAY_SEAL_TRUST_ROOTS is unset: no court seal would verify")
    try:
        roots = trust_roots_of(settings.seal_trust_roots)
    except SealCredentialError as e:
        problems.append(f"GATEWAY_SEAL_TRUST_ROOTS: {e}")
    else:
        if any(_is_demo(c) for c in roots):
            problems.append("GATEWAY_SEAL_TRUST_ROOTS trusts the demo seal root: anyone could forge court seals")
    return problems


def check_production(settings: Settings) -> None:
    """Raise InsecureConfiguration in production mode when a secret is public, short or missing; in demo
    mode, warn that the download-link key is public."""
    if settings.mode == "production":
        problems = production_problems(settings)
        if problems:
            raise InsecureConfiguration(
                "refusing to start in production (GATEWAY_MODE=production): " + "; ".join(problems)
            )
    elif settings.download_secret == DEMO_DOWNLOAD_SECRET:
        log.warning(
            "the demo download-link key is in use: anyone with this repository can forge download links; "
            "set GATEWAY_DOWNLOAD_SECRET (and GATEWAY_MODE=production) outside the demo"
        )


def introspection_policy(settings: Settings) -> str:
    """Who may introspect the schema: ``GATEWAY_INTROSPECTION``, else "all" in demo, "authenticated" in production."""
    if settings.introspection is not None:
        return settings.introspection
    return "authenticated" if settings.mode == "production" else "all"


def document_policy(settings: Settings) -> DocumentPolicy:
    """Whose own documents are accepted: first-party callers "trusted" by default in production only."""
    first_party = settings.first_party_documents or ("trusted" if settings.mode == "production" else "any")
    return DocumentPolicy(first_party=first_party, clients=settings.client_documents)
