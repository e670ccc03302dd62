"""Short-lived signed download links: a browser can follow them without a bearer token.

A file (a service certificate, a case-file material) is authorised when the link is issued, over GraphQL
with the caller's token; the link then names a server-side record of what was authorised, the subject it
was issued to and its expiry, under an HMAC with a server secret. Changing any of it, or waiting past the
expiry, makes the link worthless. Links name the subject they were issued to, so every download is audited
as theirs, and the record keeps who asked, so the download asks the issuing rule again for them.

Token: ``base64url(JSON payload) "." base64url(HMAC-SHA256(key, "<kind>." + payload))``, where the
payload is ``{"k": key, "sub": subject, "exp": epoch seconds, "x": extras}``; the kind is bound into
the MAC, so a link for one kind of file never opens another. The payload is signed, not encrypted: anyone
holding the link reads it (browser history, proxy logs, a forwarded SMS). ``key`` and ``extras`` are
therefore opaque references (random record ids), never a name, an ID number or anything personal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.core.errors import Refusal


class LinkError(Refusal):
    """The link cannot be honoured."""


class LinkInvalid(LinkError):
    """Not a link we issued for this kind of file, or altered since."""

    code = "LINK_INVALID"


class LinkExpired(LinkError):
    """A genuine link whose time is up."""

    code = "LINK_EXPIRED"


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link authorises."""

    kind: str
    key: str
    subject: str
    expires_at: datetime
    extras: Mapping[str, str] = field(default_factory=dict)


class SignedLinks:
    """Issues and verifies links under one secret."""

    def __init__(self, secret: str, *, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("signed links need a secret")
        # a key of its own, so the configured secret is never used raw
        self._key = hmac.new(secret.encode(), b"court-gateway download links", hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(
        self, kind: str, key: str, subject: str, *, extras: Mapping[str, str] | None = None
    ) -> tuple[str, datetime]:
        """A token for ``subject`` to fetch the ``kind`` file named ``key``, and when it expires."""
        expires = int(self._clock() + self.ttl_s)
        payload = {"k": key, "sub": subject, "exp": expires, "x": dict(extras or {})}
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{_b64(self._mac(kind, body))}", datetime.fromtimestamp(expires, UTC)

    def verify(self, kind: str, token: str) -> LinkClaims:
        """The link's claims; LinkInvalid when forged or altered, LinkExpired when too late."""
        body, _, mac = token.partition(".")
        try:
            genuine = hmac.compare_digest(_unb64(mac), self._mac(kind, body))
        except (binascii.Error, ValueError):
            genuine = False
        if not genuine:
            raise LinkInvalid("this link was not issued by the gateway, or was altered")
        payload = json.loads(_unb64(body))
        claims = LinkClaims(
            kind,
            str(payload["k"]),
            str(payload["sub"]),
            datetime.fromtimestamp(int(payload["exp"]), UTC),
            {str(k): str(v) for k, v in payload.get("x", {}).items()},
        )
        if self._clock() >= payload["exp"]:
            raise LinkExpired("this link has expired: ask for a new one")
        return claims

    def _mac(self, kind: str, body: str) -> bytes:
        return hmac.new(self._key, f"{kind}.{body}".encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
