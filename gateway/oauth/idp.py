"""The gateway as an OpenID Connect relying party of the court identity provider, for the consent step.

When ``GATEWAY_IDP_ISSUER`` names a provider, a person about to authorise a firm's software signs in there
by the standard handshake (OpenID Connect Core §3.1, authorization code flow): the gateway sends the
browser to the provider's authorization endpoint with ``state``, ``nonce`` and a PKCE S256 challenge
(RFC 7636), the provider sends it back to ``CALLBACK_PATH`` with a code, and the gateway exchanges the code
(client secret + verifier) for an ID token. The ID token is validated with ``joserfc`` (Authlib's JOSE
library, which ``authlib.jose`` now defers to), as OpenID Connect Core §3.1.3.7 asks: an RS256/ES256/PS256
signature against the provider's JWKS (refetched once for an unknown ``kid``; no HMAC, no ``none``),
``iss`` equal to the configured issuer, ``aud`` naming this client (and ``azp`` when there are several
audiences), ``exp`` and ``iat`` (30 s leeway), and ``nonce`` equal to the one sent.

Claim mapping (the same claims the gateway's bearer tokens carry, ``gateway.identity``): ``sub``, ``name``,
``phone`` (or the standard ``phone_number``), ``roles`` (a list of ``Role`` names), ``level`` (an
``IdentityLevel``), ``id_number`` (a party's 身份证号), ``licence_number`` (a lawyer's 执业证号), ``firm``,
and for staff ``staff_id``, ``court``, ``division`` (so staff are recognised, and refused). Nothing else
of the ID token is kept.

Discovery (``/.well-known/openid-configuration``) and the key set are fetched with aiohttp and kept per
process (the key set for ``JWKS_TTL_S``): replicas learn them independently, which is harmless.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from gateway.config import Settings

CALLBACK_PATH = "/oauth/idp/callback"
JWKS_TTL_S = 600.0
#: the most bytes read from the provider's discovery, key set or token answers
MAX_ANSWER_BYTES = 256 * 1024
HTTP_TIMEOUT_S = 10.0
#: asymmetric signatures only: an HMAC ID token would be keyed with the client secret, ``none`` with nothing
ALGORITHMS = ("RS256", "ES256", "PS256")


#: what is kept of an ID token: the claims of the gateway's own tokens (module docstring)
ID_TOKEN_CLAIMS: tuple[str, ...] = ("sub", "name", "phone", "roles", "level", "id_number", "licence_number")
ID_TOKEN_CLAIMS += ("firm", "staff_id", "court", "division")


class SignInFailed(Exception):
    """The provider's answer cannot sign the person in (the message is safe to show, and short)."""


@dataclass(frozen=True)
class IdpConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid profile phone"
    #: unset: ``issuer + /.well-known/openid-configuration``
    discovery_url: str = ""

    @property
    def discovery(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def person_of(claims: dict[str, Any]) -> dict[str, Any]:
    """The gateway's person claims from a validated ID token (module docstring: the mapping)."""
    mapped = dict(claims)
    if "phone" not in mapped and mapped.get("phone_number"):
        mapped["phone"] = mapped["phone_number"]
    return {k: mapped[k] for k in ID_TOKEN_CLAIMS if mapped.get(k) is not None}


class RelyingParty:
    """One configured provider: where to send the browser, and how to turn its code into a person."""

    def __init__(self, config: IdpConfig, redirect_uri: str) -> None:
        self.config = config
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = asyncio.Lock()

    async def _get(self, url: str, **kwargs: Any) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.request(url=url, **kwargs) as r:
                body = await r.content.read(MAX_ANSWER_BYTES + 1)
                if len(body) > MAX_ANSWER_BYTES:
                    raise SignInFailed("the identity provider's answer is too large")
                if r.status != 200:
                    raise SignInFailed(f"the identity provider answered {r.status}")
                answer = json.loads(body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise SignInFailed(f"the identity provider cannot be reached: {type(e).__name__}") from None
        if not isinstance(answer, dict):
            raise SignInFailed("the identity provider's answer is not an object")
        return answer

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            found = await self._get(self.config.discovery, method="GET")
            if found.get("issuer") != self.config.issuer:  # OpenID Connect Discovery §4.3
                raise SignInFailed("the identity provider's discovery document names another issuer")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(name), str):
                    raise SignInFailed(f"the identity provider's discovery document has no {name}")
            self._metadata = found
        return self._metadata

    async def authorization_url(self, state: str, nonce: str, verifier: str) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)

    async def _key_set(self, *, refresh: bool) -> KeySet:
        async with self._lock:
            if self._keys is None or refresh or time.monotonic() - self._keys_at > JWKS_TTL_S:
                found = await self._get((await self.metadata())["jwks_uri"], method="GET")
                try:
                    self._keys = KeySet.import_key_set(found)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError):
                    raise SignInFailed("the identity provider's key set cannot be read") from None
                self._keys_at = time.monotonic()
            return self._keys

    async def sign_in(self, code: str, verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange ``code`` and validate the ID token: the person's claims (``person_of``)."""
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }
        # client_secret_basic: each part form-encoded first (RFC 6749 §2.3.1)
        basic = aiohttp.encode_basic_auth(
            quote(self.config.client_id, safe=""), quote(self.config.client_secret, safe="")
        )
        answer = await self._get(meta["token_endpoint"], method="POST", data=form, headers={"Authorization": basic})
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the identity provider returned no ID token")
        return person_of(await self._validate(id_token, nonce))

    async def _validate(self, id_token: str, nonce: str) -> dict[str, Any]:
        for refresh in (False, True):  # an unknown kid: the provider rotated its keys, look once more
            keys = await self._key_set(refresh=refresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
            except InvalidKeyIdError:
                if refresh:
                    raise SignInFailed("the ID token is signed with an unknown key") from None
                continue
            except (JoseError, ValueError) as e:
                raise SignInFailed(f"the ID token is not valid: {getattr(e, 'error', 'malformed')}") from None
            break
        claims = dict(token.claims)
        registry = JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as e:
            raise SignInFailed(f"the ID token is not valid: {e.description or e.error}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise SignInFailed("the ID token is not valid: it was issued to another party (azp)")
        return claims


def relying_party(settings: Settings) -> RelyingParty | None:
    """The configured provider (``GATEWAY_IDP_*``), or None: no handshake, the demo's pasted token."""
    if not settings.idp_issuer:
        return None
    config = IdpConfig(
        issuer=settings.idp_issuer,
        client_id=settings.idp_client_id,
        client_secret=settings.idp_client_secret,
        scopes=settings.idp_scopes,
        discovery_url=settings.idp_discovery_url,
    )
    return RelyingParty(config, settings.oauth_issuer_url + CALLBACK_PATH)
