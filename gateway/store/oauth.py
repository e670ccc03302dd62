"""Tables of the OAuth authorisation server (``gateway.oauth``; see migration 0014).

``oauth_clients`` are the registered clients (law firms' software), registered by the court with
``court-gateway clients add``; a confidential client's secret is kept as its SHA-256 only (it is 32 random
bytes, so a hash is enough). ``oauth_grants`` is one person's consent to one client for some scopes: every
access and refresh token names its grant, and revoking the grant (by the person, the client or the court)
ends them all. ``oauth_codes`` and ``oauth_refresh_tokens`` are kept by SHA-256 too, and each is used at
most once: ``used_at`` is set by one conditional UPDATE, so two replicas never redeem the same one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class OAuthClientRecord(Base):
    __tablename__ = "oauth_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: sha256 hex of the secret; NULL for a public client (PKCE only)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    #: exact redirect URIs, one per line
    redirect_uris: Mapped[str] = mapped_column(Text)
    #: the scopes this client may ask for, space-separated
    scopes: Mapped[str] = mapped_column(Text)
    #: quota: requests per second refilled and the burst (NULL: the gateway's defaults)
    rate_per_s: Mapped[float | None] = mapped_column(Float)
    burst: Mapped[int | None] = mapped_column(Integer)
    #: a resource server of the court's own that may introspect any token (RFC 7662)
    may_introspect: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class OAuthGrantRecord(Base):
    __tablename__ = "oauth_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), ForeignKey("oauth_clients.id"))
    subject: Mapped[str] = mapped_column(String(255))
    #: the person's identity claims as the identity provider asserted them at consent
    claims: Mapped[dict[str, Any]]
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: person, client, court, reuse (a refresh token or code presented twice)
    revoked_by: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (Index("ix_oauth_grants_subject", "subject"), Index("ix_oauth_grants_client", "client_id"))


class OAuthCodeRecord(Base):
    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), ForeignKey("oauth_clients.id"))
    subject: Mapped[str] = mapped_column(String(255))
    claims: Mapped[dict[str, Any]]
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    #: the grant the code was redeemed for (revoked if the code is presented again)
    grant_id: Mapped[str | None] = mapped_column(String(32))


class OAuthRefreshTokenRecord(Base):
    __tablename__ = "oauth_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(32), ForeignKey("oauth_grants.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_oauth_refresh_tokens_grant", "grant_id"),)
