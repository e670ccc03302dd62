"""The earlier integrity seal on delivered case-file PDFs: an Ed25519 signature over the exact bytes.

The gateway now seals with a PDF signature (``gateway.core.pdfsign``), which PDF readers check. Files it
delivered before still carry this seal, so it is still verified, for a transition: :class:`SealVerifier`
checks it against the legacy keys (``seal_private_key``'s, ``seal_trusted_public_keys``, and in the demo
the public demo key). :class:`SealCheck` is what verifying either form finds.

A file sealed this way is the watermarked PDF followed by one trailing comment line::

    <PDF bytes, ending in %%EOF and a newline>%CourtGatewaySeal:<base64url(JSON)>\\n

PDF readers ignore what follows ``%%EOF``, so the file opens as before. The JSON holds ``v``, ``alg``
(Ed25519), ``kid`` (which key), ``trace`` (the trace id, printed on every page too), ``sealed_at`` (ISO 8601),
``sha256`` (of every byte before the seal line) and ``sig``: the signature over the canonical JSON of
all the other fields, after a domain prefix. Verifying splits the seal line off, hashes the bytes
before it and checks the signature with a trusted key: one changed byte anywhere is detected, and a
seal moved to another file does not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEAL_MARKER = b"%CourtGatewaySeal:"
ALGORITHM = "Ed25519"
VERSION = 1
#: what the signature covers starts with this, so a seal signature is never valid as anything else
DOMAIN = b"court-gateway seal v1\n"
#: the demo key's seed is derived from this public text: anyone can forge seals made with it
DEMO_SEED = hashlib.sha256(b"court-gateway-demo-seal-key-only").digest()
#: a seal line is short; anything longer after the marker is not one of ours
MAX_SEAL_LINE = 4096


class SealProblem(StrEnum):
    UNSEALED = "UNSEALED"  # no seal line at the end of the file
    MALFORMED = "MALFORMED"  # a seal line that cannot be read
    UNKNOWN_KEY = "UNKNOWN_KEY"  # sealed with a key this gateway does not trust
    TAMPERED = "TAMPERED"  # the bytes before the seal are not those that were sealed
    BAD_SIGNATURE = "BAD_SIGNATURE"  # the seal itself was altered or forged


class SealForm(StrEnum):
    PDF_SIGNATURE = "PDF_SIGNATURE"  # a PAdES signature in the PDF, with the court's certificate
    LEGACY_ED25519 = "LEGACY_ED25519"  # the earlier Ed25519 line after %%EOF (verified for a transition)


@dataclass(frozen=True, slots=True)
class SealCheck:
    """What verifying a file found; the seal's fields are given when it could be read."""

    valid: bool
    problem: SealProblem | None
    reason: str
    trace_id: str | None = None
    sealed_at: datetime | None = None
    key_id: str | None = None
    sha256: str | None = None
    #: which kind of seal the file carries, when it carries one
    form: SealForm | None = None
    #: who signed: the signing certificate's subject (a PDF signature only)
    signer: str | None = None
    #: whether the bytes the seal covers are unchanged (None when that could not be checked)
    intact: bool | None = None

    def __str__(self) -> str:
        if not self.valid:
            by = f" (signed by {self.signer})" if self.signer else ""
            return f"seal INVALID ({self.problem}){by}: {self.reason}"
        parts = [f"trace {self.trace_id}"] if self.trace_id else []
        parts.append(f"sealed {self.sealed_at:%Y-%m-%d %H:%M:%S %z}")
        if self.signer:
            parts.append(f"signed by {self.signer}")
        parts.append(f"key {self.key_id}")
        return "seal valid: " + ", ".join(parts)


class SealKeyError(ValueError):
    """A configured seal key that cannot be read."""


def key_id(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the raw public key's SHA-256: names the key in every seal."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_part(fields: dict[str, Any]) -> bytes:
    return DOMAIN + json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


class SealVerifier:
    """Verifies seals of this form against trusted public keys."""

    def __init__(self, trusted: list[Ed25519PublicKey]) -> None:
        self._trusted = {key_id(k): k for k in trusted}

    def verify(self, data: bytes) -> SealCheck:
        """Whether ``data`` is, byte for byte, a file this gateway sealed (with a trusted key)."""
        split = split_seal(data)
        if split is None:
            return SealCheck(False, SealProblem.UNSEALED, "the file carries no court-gateway seal")
        body, line = split
        try:
            seal = json.loads(_unb64(line.decode("ascii")))
            if not isinstance(seal, dict):
                raise TypeError("not an object")
            fields = {k: seal[k] for k in ("v", "alg", "kid", "trace", "sealed_at", "sha256")}
            signature = _unb64(str(seal["sig"]))
            sealed_at = datetime.fromisoformat(str(fields["sealed_at"]))
        except (KeyError, TypeError, ValueError, UnicodeDecodeError, binascii.Error):
            return SealCheck(False, SealProblem.MALFORMED, "the seal line cannot be read", form=SealForm.LEGACY_ED25519)
        trace, kid, digest = str(fields["trace"]), str(fields["kid"]), str(fields["sha256"])

        def check(valid: bool, problem: SealProblem | None, reason: str, intact: bool | None = None) -> SealCheck:
            return SealCheck(
                valid,
                problem,
                reason,
                trace_id=trace,
                sealed_at=sealed_at,
                key_id=kid,
                sha256=digest,
                form=SealForm.LEGACY_ED25519,
                intact=intact,
            )

        if fields["v"] != VERSION or fields["alg"] != ALGORITHM:
            return check(False, SealProblem.MALFORMED, f"unknown seal version or algorithm: {fields['alg']}")
        public = self._trusted.get(kid)
        if public is None:
            return check(False, SealProblem.UNKNOWN_KEY, f"sealed with key {kid}, not one we trust")
        try:
            public.verify(signature, _signed_part(fields))
        except InvalidSignature:
            return check(False, SealProblem.BAD_SIGNATURE, "the seal's signature does not verify")
        if hashlib.sha256(body).hexdigest() != digest:
            return check(False, SealProblem.TAMPERED, "the file was changed after it was sealed", intact=False)
        return check(True, None, "the file is exactly as the gateway delivered it", intact=True)


class Sealer(SealVerifier):
    """Seals with one private key (files of the earlier form: tests, tools); verifies against it and any
    other trusted public keys."""

    def __init__(self, private: Ed25519PrivateKey, trusted: list[Ed25519PublicKey] | None = None) -> None:
        super().__init__([private.public_key(), *(trusted or [])])
        self._private = private
        self.key_id = key_id(private.public_key())

    def seal(self, pdf: bytes, *, trace_id: str, sealed_at: datetime) -> bytes:
        """``pdf`` with its seal line appended (a newline first, if the PDF does not end with one)."""
        if sealed_at.tzinfo is None:
            raise ValueError("sealed_at needs a time zone")
        body = pdf if pdf.endswith(b"\n") else pdf + b"\n"
        fields = {
            "v": VERSION,
            "alg": ALGORITHM,
            "kid": self.key_id,
            "trace": trace_id,
            "sealed_at": sealed_at.isoformat(),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        seal = {**fields, "sig": _b64(self._private.sign(_signed_part(fields)))}
        line = _b64(json.dumps(seal, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
        return body + SEAL_MARKER + line.encode("ascii") + b"\n"


def split_seal(data: bytes) -> tuple[bytes, bytes] | None:
    """``(the sealed bytes, the seal's base64 text)``, or None when the last line is not a seal."""
    end = len(data)
    if data.endswith(b"\r\n"):
        end -= 2
    elif data.endswith(b"\n"):
        end -= 1
    start = data.rfind(b"\n" + SEAL_MARKER, 0, end)
    if start < 0 or end - start > MAX_SEAL_LINE:
        return None
    line = data[start + 1 + len(SEAL_MARKER) : end]
    if b"\n" in line or b"\r" in line:
        return None
    return data[: start + 1], line


# -- keys from settings ----------------------------------------------------------------------------------


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A PKCS#8 PEM Ed25519 key, or a 32-byte seed as 64 hex digits."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise SealKeyError("the seal key must be an Ed25519 key")
            return key
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except SealKeyError:
        raise
    except ValueError as e:
        raise SealKeyError(f"the seal key cannot be read: {e}") from None


def load_public_key(text: str) -> Ed25519PublicKey:
    """A PEM Ed25519 public key, or the raw 32-byte key as 64 hex digits."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise SealKeyError("a trusted seal key must be an Ed25519 key")
            return key
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except SealKeyError:
        raise
    except ValueError as e:
        raise SealKeyError(f"a trusted seal key cannot be read: {e}") from None


def legacy_verifier(private_key: str, trusted: Sequence[str], *, production: bool) -> SealVerifier:
    """What files of the earlier form are checked against: the key that sealed them (``seal_private_key``),
    the other trusted ones (``seal_trusted_public_keys``), and in the demo, never in production, the public
    demo key."""
    keys = [load_public_key(t) for t in trusted]
    if private_key.strip():
        keys.append(load_private_key(private_key).public_key())
    if not production:
        keys.append(Ed25519PrivateKey.from_private_bytes(DEMO_SEED).public_key())
    return SealVerifier(keys)
