"""Who is asking: bearer JWTs from the identity provider, turned into a ``Viewer``.

The gateway trusts the identity level asserted by its identity provider (在线诉讼规则 art. 7) and
enforces it. Two key sources: HS256 with a shared secret for the built-in demo provider, RS256 with a
JWKS URL in production (fetched with aiohttp and cached, so verification never blocks the loop).

Every token carries ``exp`` and lives at most ``max_lifetime_s`` (``exp - iat``, or ``exp - now`` without
``iat``): a stolen token is worth a day at most, not years. An issuer or audience configured is required
in every token (production configures both: ``gateway.security``).

A verified token is remembered by its verifier (keyed by its SHA-256, a bounded LRU of
``VERIFIED_ENTRIES``) for at most ``VERIFIED_FOR_S`` and never past its ``exp``, so a client's repeated
requests skip the signature check; a refetched key set forgets them all, so a revoked or rotated key is
honoured as soon as the verifier learns of it. Failures are never remembered.

The gateway's own authorisation server (``gateway.oauth``) is a second issuer: a token whose ``iss`` is
``oauth_issuer`` is verified with ``oauth_secret`` (HS256) and must name its client, scopes and grant
(``gid``); for every such token, remembered or not, ``grant_check`` is asked whether the grant still
stands, so a revoked grant's tokens stop working as soon as that check learns of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp
import jwt

from gateway.adapters.model import PersonRef

ISSUER_DEMO = "court-gateway-demo-idp"
#: how many verified tokens a verifier remembers, and for how long at most
VERIFIED_ENTRIES = 10_000
VERIFIED_FOR_S = 60.0


class Role(StrEnum):
    PARTY = "PARTY"
    LAWYER = "LAWYER"
    CLERK = "CLERK"
    JUDGE = "JUDGE"
    DIVISION_HEAD = "DIVISION_HEAD"
    COURT_LEADER = "COURT_LEADER"
    ARCHIVE_ADMIN = "ARCHIVE_ADMIN"
    #: runs the gateway (sees ``/metrics``); not in STAFF_ROLES: the role opens no court's cases
    OPERATOR = "OPERATOR"


STAFF_ROLES = frozenset({Role.CLERK, Role.JUDGE, Role.DIVISION_HEAD, Role.COURT_LEADER, Role.ARCHIVE_ADMIN})


class Scope(StrEnum):
    """What a person lets a registered client (a law firm's software) do for them (issue 14).

    A first-party token (the court's own web frontend and mini-program) carries no scopes and is limited
    only by the person's roles; a token issued to a client carries the client id and the granted scopes,
    and every resolver checks the scope as well as the role. No scope lets software sign a served document:
    signing stays the person's own act (在线诉讼规则 art. 7).
    """

    CASES_READ = "cases:read"
    DOCUMENTS_READ = "documents:read"
    FILINGS_WRITE = "filings:write"
    TICKETS_WRITE = "tickets:write"
    CALENDAR_READ = "calendar:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    #: read the case files the person may read (电子阅卷), apply to read them and follow the applications
    ARCHIVE_READ = "archive:read"
    #: apply to be bound to a case (案件绑定申请) and follow the applications
    BINDINGS_WRITE = "bindings:write"
    #: read the person's in-app notifications, and mark them read
    NOTIFICATIONS_READ = "notifications:read"


class IdentityLevel(StrEnum):
    """How strongly the identity provider verified the person, weakest first."""

    PHONE = "PHONE"
    REAL_NAME = "REAL_NAME"
    FACE = "FACE"

    @property
    def rank(self) -> int:
        return list(IdentityLevel).index(self)

    def at_least(self, other: IdentityLevel) -> bool:
        return self.rank >= other.rank


class AuthError(Exception):
    """Missing, malformed, expired or untrusted credentials: the GraphQL code UNAUTHENTICATED."""


@dataclass(frozen=True)
class Viewer:
    subject: str
    name: str
    phone: str | None
    roles: frozenset[Role]
    level: IdentityLevel
    id_number: str | None = None
    licence_number: str | None = None
    staff_id: str | None = None
    court_code: str | None = None
    division: str | None = None
    #: the registered client the person authorised (OAuth ``client_id``); None for a first-party token
    client_id: str | None = None
    #: what the client may do (OAuth ``scope``); None for a first-party token, which is limited by roles only
    scopes: frozenset[str] | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def allows(self, scope: Scope) -> bool:
        """Whether this token may be used for ``scope``: always for a first-party token."""
        return self.scopes is None or scope in self.scopes

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    def person_refs(self) -> list[PersonRef]:
        """The identities under which the courts know this person: ID number and/or licence number."""
        refs = []
        if self.licence_number and Role.LAWYER in self.roles:
            refs.append(PersonRef.lawyer(self.licence_number))
        if self.id_number and Role.PARTY in self.roles:
            refs.append(PersonRef.party(self.id_number))
        return refs

    def access_claims(self) -> dict[str, Any]:
        """The claims the access rules read, to rebuild this viewer later with ``viewer_from_claims``: a
        download link's row keeps them, so following the link asks the same rules again."""
        claims: dict[str, Any] = {
            "sub": self.subject,
            "name": self.name,
            "phone": self.phone,
            "roles": sorted(self.roles),
            "level": self.level.value,
            "id_number": self.id_number,
            "licence_number": self.licence_number,
            "staff_id": self.staff_id,
            "court": self.court_code,
            "division": self.division,
            "client_id": self.client_id,
            "scope": " ".join(sorted(self.scopes)) if self.scopes is not None else None,
        }
        return {k: v for k, v in claims.items() if v is not None}

    @property
    def scope(self) -> str:
        """A cache-key fragment that differs whenever the answers to this viewer may differ: the person,
        and for a client's token the client and its scopes (a client may see less than the person)."""
        if self.is_staff:
            roles = ",".join(sorted(self.roles))
            who = f"staff:{self.court_code}:{self.division}:{self.staff_id}:{roles}"
        else:
            who = "person:" + ",".join(f"{r.kind.value}={r.number}" for r in self.person_refs())
        if self.scopes is None:
            return who
        return f"{who}|client:{self.client_id}:{','.join(sorted(self.scopes))}"


def viewer_from_claims(claims: dict[str, Any]) -> Viewer:
    try:
        roles = frozenset(Role(r) for r in claims.get("roles", []))
        level = IdentityLevel(claims.get("level", IdentityLevel.PHONE))
        return Viewer(
            subject=str(claims["sub"]),
            name=str(claims.get("name", "")),
            phone=claims.get("phone"),
            roles=roles,
            level=level,
            id_number=claims.get("id_number"),
            licence_number=claims.get("licence_number"),
            staff_id=claims.get("staff_id"),
            court_code=claims.get("court"),
            division=claims.get("division"),
            client_id=claims.get("client_id"),
            scopes=frozenset(str(claims["scope"]).split()) if "scope" in claims else None,
            claims=claims,
        )
    except (KeyError, ValueError) as e:
        raise AuthError(f"token claims are not usable: {e}") from None


REVOKED = "token revoked: the person, the client or the court withdrew this authorisation"


class TokenVerifier:
    """Verifies bearer tokens: HS256 with a shared secret, or RS256 against a JWKS URL."""

    def __init__(
        self,
        *,
        hs256_secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        max_lifetime_s: float = 24 * 3600,
        jwks_ttl_s: float = 600,
        oauth_issuer: str | None = None,
        oauth_secret: str | None = None,
        grant_check: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        if not hs256_secret and not jwks_url and not oauth_secret:
            raise ValueError("configure an HS256 secret or a JWKS URL")
        self.oauth_issuer = oauth_issuer if oauth_secret else None
        self.oauth_secret = oauth_secret
        self.grant_check = grant_check
        self.hs256_secret = hs256_secret
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime_s = max_lifetime_s
        self.jwks_ttl_s = jwks_ttl_s
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_fetched = 0.0
        self._lock = asyncio.Lock()
        #: sha256(token) -> (until, when: time.time(), the viewer); least recently used first
        self._verified: OrderedDict[bytes, tuple[float, Viewer]] = OrderedDict()

    async def _signing_key(self, token: str) -> tuple[Any, list[str]]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg == "HS256" and self.hs256_secret:
            return self.hs256_secret, ["HS256"]
        if alg == "RS256" and self.jwks_url:
            keys = await self._keys(refresh=False)
            kid = header.get("kid")
            match = next((k for k in keys.keys if k.key_id == kid), None)
            if match is None:  # a rotated key: refetch once
                keys = await self._keys(refresh=True)
                match = next((k for k in keys.keys if k.key_id == kid), None)
            if match is None:
                raise AuthError("token signed with an unknown key")
            return match.key, ["RS256"]
        raise AuthError(f"token algorithm {alg!r} is not accepted")

    async def _keys(self, *, refresh: bool) -> jwt.PyJWKSet:
        async with self._lock:
            stale = time.monotonic() - self._jwks_fetched > self.jwks_ttl_s
            if self._jwks is None or refresh or stale:
                assert self.jwks_url
                timeout = aiohttp.ClientTimeout(total=5)
                try:
                    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.jwks_url) as r:
                        r.raise_for_status()
                        self._jwks = jwt.PyJWKSet.from_dict(await r.json())
                        self._verified.clear()  # verified against keys that may be gone now
                except (aiohttp.ClientError, TimeoutError, jwt.PyJWKSetError) as e:
                    if self._jwks is None:
                        raise AuthError(f"identity provider keys unavailable: {e}") from None
                self._jwks_fetched = time.monotonic()
            return self._jwks

    async def verify(self, token: str) -> Viewer:
        """The viewer a valid token names (remembered briefly, module docstring); raises AuthError."""
        digest = hashlib.sha256(token.encode()).digest()
        remembered = self._verified.get(digest)
        if remembered is not None and time.time() >= remembered[0]:
            del self._verified[digest]
            remembered = None
        if remembered is not None:
            self._verified.move_to_end(digest)
            viewer = remembered[1]
        else:
            viewer = await self._verify(token)
            self._verified[digest] = (min(float(viewer.claims["exp"]), time.time() + VERIFIED_FOR_S), viewer)
            if len(self._verified) > VERIFIED_ENTRIES:
                self._verified.popitem(last=False)
        if not await self.still_granted(viewer):
            raise AuthError(REVOKED)
        return viewer

    async def still_granted(self, viewer: Viewer) -> bool:
        """Whether the grant behind a token the gateway issued still stands (``grant_check``, cached there);
        True for any other token. A WebSocket asks again while it lives (``gateway.ws_guard``)."""
        if self.grant_check is None or not self._issued_here(viewer.claims):
            return True
        return await self.grant_check(str(viewer.claims["gid"]))

    def _issued_here(self, claims: dict[str, Any]) -> bool:
        return self.oauth_issuer is not None and claims.get("iss") == self.oauth_issuer

    async def _verify(self, token: str) -> Viewer:
        try:
            issuer, required = self.issuer, ["sub", "exp"]
            key: Any
            if self.oauth_secret and self._issued_here(jwt.decode(token, options={"verify_signature": False})):
                key, algorithms, issuer = self.oauth_secret, ["HS256"], self.oauth_issuer
                required += ["client_id", "scope", "gid"]
            else:
                key, algorithms = await self._signing_key(token)
            required += (["iss"] if issuer else []) + (["aud"] if self.audience else [])
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=issuer,
                audience=self.audience,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError as e:
            raise AuthError(f"invalid token: {e}") from None
        self._check_lifetime(claims)
        return viewer_from_claims(claims)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Refuse a token meant to live longer than ``max_lifetime_s`` (PyJWT has checked exp and iat)."""
        try:
            expires = float(claims["exp"])
            start = float(claims["iat"]) if "iat" in claims else time.time()
        except (TypeError, ValueError):
            raise AuthError("invalid token: exp and iat must be numbers") from None
        if expires - start > self.max_lifetime_s:
            raise AuthError(f"token lifetime exceeds the {self.max_lifetime_s:.0f} s this gateway accepts")


def mint_hs256(claims: dict[str, Any], secret: str, *, ttl_s: int = 8 * 3600, issuer: str = ISSUER_DEMO) -> str:
    """A token from the built-in demo identity provider."""
    now = int(time.time())
    return jwt.encode({"iss": issuer, "iat": now, "exp": now + ttl_s, **claims}, secret, algorithm="HS256")
