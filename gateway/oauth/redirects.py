"""Which redirect URIs and issuers a court may register: https, or http to a loopback address (RFC 8252
§7.3, native apps and tests), and in production never plain http elsewhere; no fragments (RFC 6749 §3.1.2)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def redirect_problem(uri: str, *, production: bool) -> str | None:
    """Why ``uri`` may not be registered (None: it may)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "not a URL"
    if parts.fragment:
        return "a redirect URI has no fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return None
    if parts.scheme == "http" and not production:
        return None
    return "must be https (or http to a loopback address)"
