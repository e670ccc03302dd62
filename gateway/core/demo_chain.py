"""The demo's certificate chain for court seals: a demo root CA and, under it, one signing certificate per
court, generated with ``cryptography`` on first use and kept in a directory (by default ``seal-demo``
beside the SQLite database file, so a throwaway database has a throwaway chain).

Invariants: every certificate of the chain names :data:`DEMO_ORGANIZATION` in its subject, which is how
production recognises and refuses it (``gateway.security``); the keys sit unencrypted on disk, so the
chain proves nothing outside the demo. Files are created whole and never overwritten: a process that
loses the race to create one reads the winner's, so every court certificate chains to the one root on
disk. Keys are RSA 2048 (PKCS#1 v1.5 signatures are deterministic and every PDF reader checks them).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

#: in the subject of every demo certificate; production refuses any seal certificate naming it
DEMO_ORGANIZATION = "court-gateway DEMO seal chain (not a real CA)"
ROOT_NAME = "court-gateway demo seal root CA"
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DemoCredential:
    """A court's demo signing key and its chain (signing certificate first, root last), as PEM."""

    key_pem: bytes
    chain_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEMO_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_root() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh demo root CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(ROOT_NAME)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_court(
    court_name: str, root_key: rsa.RSAPrivateKey, root: x509.Certificate
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh demo signing certificate for ``court_name``, issued by ``root``: digital signature and
    non-repudiation, as a court's e-seal certificate carries."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(court_name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature, nonRepudiation
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return key, cert


def _create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """``path``'s bytes; when it does not exist, ``make()``'s, written whole (a temporary file linked into
    place, which fails if another process got there first: then theirs)."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = make()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        os.unlink(temporary)
    return data


class DemoChain:
    """The demo chain kept in ``directory``: ``root.pem`` (its key and certificate) and ``<slug>.pem`` per
    court (its key, its certificate, the root's certificate). Thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def root(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        with self._lock:
            return self._root()

    def _root(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        def make() -> bytes:
            key, cert = make_root()
            return _key_pem(key) + _cert_pem(cert)

        data = _create_once(self.directory / "root.pem", make)
        key = serialization.load_pem_private_key(data, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key, x509.load_pem_x509_certificate(data)

    def root_pem(self) -> bytes:
        return _cert_pem(self.root()[1])

    def court(self, slug: str, court_name: str) -> DemoCredential:
        """The court's credential, issued under the root on first use."""
        with self._lock:
            root_key, root = self._root()

            def make() -> bytes:
                key, cert = make_court(court_name, root_key, root)
                return _key_pem(key) + _cert_pem(cert)

            data = _create_once(self.directory / f"{slug}.pem", make)
        key_end = data.index(b"-----END PRIVATE KEY-----") + len(b"-----END PRIVATE KEY-----\n")
        return DemoCredential(key_pem=data[:key_end], chain_pem=data[key_end:] + _cert_pem(root))
