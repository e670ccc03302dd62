"""Court seals in tests: a certificate chain that is not the demo's (as a court's CA would issue), and
pyHanko's own validator over a sealed PDF, trusting a given root."""

from __future__ import annotations

import io
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from gateway.config import Settings
from gateway.core.demo_chain import NOT_AFTER, NOT_BEFORE, DemoChain
from gateway.core.pdfsign import demo_dir


def _name(organization: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def court_chain(court_name: str, organization: str = "Test Court CA") -> tuple[str, str, str]:
    """(root certificate, signing certificate followed by the root, signing key), all PEM text."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = _name(organization, f"{organization} root")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(organization, court_name))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return _pem(root), _pem(leaf) + _pem(root), key_pem


def demo_root(settings: Settings) -> str:
    """The demo chain's root (PEM) of ``settings``' data directory."""
    return DemoChain(demo_dir(settings)).root_pem().decode()


def pyhanko_status(content: bytes, root_pem: str) -> PdfSignatureStatus:
    """pyHanko's validation of the file's last signature, trusting ``root_pem`` only (call it in a thread
    from async code: pyHanko runs its own event loop)."""
    roots: list[asn1_x509.Certificate] = list(load_certs_from_pemder_data(root_pem.encode()))
    signature = PdfFileReader(io.BytesIO(content), strict=False).embedded_signatures[-1]
    return validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False))


def pyhanko_accepts(content: bytes, root_pem: str) -> bool:
    """Whether pyHanko judges the file's last signature valid, intact and trusted (a signature it cannot
    even read is not)."""
    try:
        return bool(pyhanko_status(content, root_pem).bottom_line)
    except Exception:  # pyHanko refuses a mangled signature dictionary by raising
        return False


def common_name(status: PdfSignatureStatus) -> str:
    return str(status.signing_cert.subject.native["common_name"])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
