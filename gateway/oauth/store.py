"""Storage of clients, grants, codes and refresh tokens: small async functions over ``gateway.store.oauth``.

Codes and refresh tokens are looked up by SHA-256 and redeemed by one conditional UPDATE
(``used_at IS NULL``), so a code or a refresh token is used once even when two replicas race; presenting
one again revokes the grant it led to (reuse detection, RFC 9700 §4.14.2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from gateway.store.db import Store
from gateway.store.oauth import OAuthClientRecord, OAuthCodeRecord, OAuthGrantRecord, OAuthRefreshTokenRecord

#: who revoked a grant
BY_PERSON, BY_CLIENT, BY_COURT, BY_REUSE = "person", "client", "court", "reuse"
#: identity claims kept from the person's sign-in token (never its issuer, times, audience or a client's)
PERSON_CLAIMS = (
    "sub",
    "name",
    "phone",
    "roles",
    "level",
    "id_number",
    "licence_number",
    "staff_id",
    "court",
    "division",
    "firm",
)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def person_claims(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: claims[k] for k in PERSON_CLAIMS if claims.get(k) is not None}


@dataclass(frozen=True)
class Client:
    """A registered client, as Authlib's ``ClientMixin`` asks for it."""

    client_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    rate_per_s: float | None
    burst: int | None
    may_introspect: bool
    revoked: bool

    @classmethod
    def of(cls, row: OAuthClientRecord) -> Client:
        return cls(
            client_id=row.id,
            name=row.name,
            secret_hash=row.secret_hash,
            redirect_uris=tuple(row.redirect_uris.split()),
            scopes=frozenset(row.scopes.split()),
            rate_per_s=row.rate_per_s,
            burst=row.burst,
            may_introspect=row.may_introspect,
            revoked=row.revoked_at is not None,
        )

    @property
    def public(self) -> bool:
        return self.secret_hash is None

    # -- authlib.oauth2.rfc6749.ClientMixin ------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """What was asked, within what the client may ask for (everything it may, when nothing was asked);
        None (``invalid_scope``) when none of what was asked is allowed."""
        if not scope:
            return " ".join(sorted(self.scopes))
        return " ".join(s for s in sorted(set(scope.split())) if s in self.scopes) or None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match (OAuth 2.1)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret_hash is not None and hmac.compare_digest(self.secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class Person:
    """Who consented (Authlib's "user"): their claims, the scopes they kept on the consent page (None: all
    that were requested), and the grant once the code is redeemed."""

    claims: dict[str, Any]
    grant_id: str | None = None
    kept_scope: str | None = None

    def get_user_id(self) -> str:
        return str(self.claims["sub"])


@dataclass(frozen=True)
class Code:
    """An authorization code being redeemed (Authlib's ``AuthorizationCodeMixin``)."""

    code_hash: str
    client_id: str
    claims: dict[str, Any]
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class Grant:
    """One person's consent to one client."""

    id: str
    client_id: str
    client_name: str
    subject: str
    claims: dict[str, Any]
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


async def add_client(
    store: Store,
    *,
    name: str,
    redirect_uris: list[str],
    scopes: list[str],
    public: bool,
    rate_per_s: float | None,
    burst: int | None,
    may_introspect: bool,
    now: datetime,
) -> tuple[str, str | None]:
    """Register a client; returns its id and (confidential clients) its secret, never stored in clear."""
    client_id = "cg_" + secrets.token_urlsafe(12)
    # a prefix: a secret never starts with "-" (a command line would take it for an option)
    secret = None if public else "cgs_" + secrets.token_urlsafe(32)
    async with store.session() as session:
        session.add(
            OAuthClientRecord(
                id=client_id,
                name=name,
                secret_hash=digest(secret) if secret else None,
                redirect_uris="\n".join(redirect_uris),
                scopes=" ".join(sorted(set(scopes))),
                rate_per_s=rate_per_s,
                burst=burst,
                may_introspect=may_introspect,
                created_at=now,
                revoked_at=None,
            )
        )
    return client_id, secret


async def get_client(store: Store, client_id: str) -> Client | None:
    """The client, None when unknown or revoked."""
    async with store.session(read_only=True) as session:
        row = await session.get(OAuthClientRecord, client_id)
    return None if row is None or row.revoked_at is not None else Client.of(row)


async def list_clients(store: Store) -> list[tuple[Client, int]]:
    """Every client (revoked ones too) with its count of live grants."""
    async with store.session(read_only=True) as session:
        rows = (await session.scalars(select(OAuthClientRecord).order_by(OAuthClientRecord.created_at))).all()
        live = (
            await session.execute(select(OAuthGrantRecord.client_id).where(OAuthGrantRecord.revoked_at.is_(None)))
        ).scalars()
        counts: dict[str, int] = {}
        for client_id in live:
            counts[client_id] = counts.get(client_id, 0) + 1
    return [(Client.of(r), counts.get(r.id, 0)) for r in rows]


async def revoke_client(store: Store, client_id: str, *, now: datetime) -> bool:
    """Revoke a client and every grant made to it; False when there is no such live client."""
    async with store.session() as session:
        done = await session.execute(
            update(OAuthClientRecord)
            .where(OAuthClientRecord.id == client_id, OAuthClientRecord.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await session.execute(
            update(OAuthGrantRecord)
            .where(OAuthGrantRecord.client_id == client_id, OAuthGrantRecord.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=BY_COURT)
        )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def save_code(
    store: Store, code: str, client_id: str, person: Person, request: Any, *, now: datetime, ttl_s: int
) -> None:
    data = request.payload.data
    async with store.session() as session:
        session.add(
            OAuthCodeRecord(
                code_hash=digest(code),
                client_id=client_id,
                subject=person.get_user_id(),
                claims=person.claims,
                redirect_uri=request.payload.redirect_uri or "",
                scope=person.kept_scope if person.kept_scope is not None else request.scope or "",
                code_challenge=data.get("code_challenge") or "",
                code_challenge_method=data.get("code_challenge_method") or "",
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_s),
                used_at=None,
                grant_id=None,
            )
        )


async def redeem_code(store: Store, code: str, client_id: str, *, now: datetime) -> Code | None:
    """The code, marked used; None when unknown, expired, another client's, or used before (then the
    grant it was redeemed for is revoked)."""
    hashed = digest(code)
    async with store.session() as session:
        row = await session.get(OAuthCodeRecord, hashed)
        if row is None or row.client_id != client_id:
            return None
        claimed = await session.execute(
            update(OAuthCodeRecord)
            .where(OAuthCodeRecord.code_hash == hashed, OAuthCodeRecord.used_at.is_(None))
            .values(used_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            if row.grant_id:
                await _revoke(session, row.grant_id, BY_REUSE, now)
            return None
        if row.expires_at <= now:
            return None
        return Code(
            hashed,
            row.client_id,
            row.claims,
            row.redirect_uri,
            row.scope,
            row.code_challenge,
            row.code_challenge_method,
        )


async def open_grant(store: Store, code: Code, *, now: datetime) -> str:
    """The grant a redeemed code stands for, recorded (and named on the code, for reuse detection)."""
    grant_id = secrets.token_hex(16)
    async with store.session() as session:
        session.add(
            OAuthGrantRecord(
                id=grant_id,
                client_id=code.client_id,
                subject=str(code.claims["sub"]),
                claims=code.claims,
                scope=code.scope,
                created_at=now,
                last_used_at=now,
                revoked_at=None,
                revoked_by=None,
            )
        )
        await session.flush()
        await session.execute(
            update(OAuthCodeRecord).where(OAuthCodeRecord.code_hash == code.code_hash).values(grant_id=grant_id)
        )
    return grant_id


async def save_refresh_token(store: Store, token: str, grant_id: str, *, now: datetime, ttl_s: int) -> None:
    async with store.session() as session:
        session.add(
            OAuthRefreshTokenRecord(
                token_hash=digest(token),
                grant_id=grant_id,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_s),
                used_at=None,
            )
        )
        await session.execute(update(OAuthGrantRecord).where(OAuthGrantRecord.id == grant_id).values(last_used_at=now))


async def redeem_refresh_token(store: Store, token: str, client_id: str, *, now: datetime) -> Grant | None:
    """The live grant a refresh token belongs to, the token marked used; None when unknown, expired, of
    another client, of a revoked grant, or used before (then its grant is revoked: reuse detection)."""
    hashed = digest(token)
    async with store.session() as session:
        row = await session.get(OAuthRefreshTokenRecord, hashed)
        if row is None:
            return None
        grant = await _grant(session, row.grant_id)
        if grant is None or grant.client_id != client_id:
            return None
        claimed = await session.execute(
            update(OAuthRefreshTokenRecord)
            .where(OAuthRefreshTokenRecord.token_hash == hashed, OAuthRefreshTokenRecord.used_at.is_(None))
            .values(used_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            await _revoke(session, row.grant_id, BY_REUSE, now)
            return None
        if row.expires_at <= now or grant.revoked_at is not None:
            return None
        return grant


async def find_refresh_token(store: Store, token: str) -> tuple[Grant, datetime, bool] | None:
    """A refresh token's grant, expiry and whether it was used (for revocation and introspection)."""
    async with store.session(read_only=True) as session:
        row = await session.get(OAuthRefreshTokenRecord, digest(token))
        if row is None:
            return None
        grant = await _grant(session, row.grant_id)
    return None if grant is None else (grant, row.expires_at, row.used_at is not None)


async def _grant(session: Any, grant_id: str) -> Grant | None:
    found = (
        await session.execute(
            select(OAuthGrantRecord, OAuthClientRecord.name)
            .join(OAuthClientRecord, OAuthClientRecord.id == OAuthGrantRecord.client_id)
            .where(OAuthGrantRecord.id == grant_id)
        )
    ).one_or_none()
    return None if found is None else _grant_of(*found)


def _grant_of(row: OAuthGrantRecord, client_name: str) -> Grant:
    return Grant(
        row.id,
        row.client_id,
        client_name,
        row.subject,
        row.claims,
        row.scope,
        row.created_at,
        row.last_used_at,
        row.revoked_at,
        row.revoked_by,
    )


async def get_grant(store: Store, grant_id: str) -> Grant | None:
    async with store.session(read_only=True) as session:
        return await _grant(session, grant_id)


async def grant_is_live(store: Store, grant_id: str) -> bool:
    """Whether the grant exists, is not revoked, and its client is not revoked."""
    async with store.session(read_only=True) as session:
        found = await session.execute(
            select(OAuthGrantRecord.id)
            .join(OAuthClientRecord, OAuthClientRecord.id == OAuthGrantRecord.client_id)
            .where(
                OAuthGrantRecord.id == grant_id,
                OAuthGrantRecord.revoked_at.is_(None),
                OAuthClientRecord.revoked_at.is_(None),
            )
        )
        return found.first() is not None


async def grants_of(store: Store, subject: str) -> list[Grant]:
    """The person's live grants (the apps they authorised), newest first."""
    async with store.session(read_only=True) as session:
        rows = await session.execute(
            select(OAuthGrantRecord, OAuthClientRecord.name)
            .join(OAuthClientRecord, OAuthClientRecord.id == OAuthGrantRecord.client_id)
            .where(
                OAuthGrantRecord.subject == subject,
                OAuthGrantRecord.revoked_at.is_(None),
                OAuthClientRecord.revoked_at.is_(None),
            )
            .order_by(OAuthGrantRecord.created_at.desc())
        )
        return [_grant_of(g, name) for g, name in rows]


async def revoke_grant(store: Store, grant_id: str, by: str, *, now: datetime, subject: str | None = None) -> bool:
    """Revoke a live grant (only the person's own when ``subject`` is given); False when none was."""
    async with store.session() as session:
        return await _revoke(session, grant_id, by, now, subject=subject)


async def _revoke(session: Any, grant_id: str, by: str, now: datetime, *, subject: str | None = None) -> bool:
    query = update(OAuthGrantRecord).where(OAuthGrantRecord.id == grant_id, OAuthGrantRecord.revoked_at.is_(None))
    if subject is not None:
        query = query.where(OAuthGrantRecord.subject == subject)
    done = await session.execute(query.values(revoked_at=now, revoked_by=by))
    return bool(done.rowcount)
