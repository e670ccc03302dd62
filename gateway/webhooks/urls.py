"""Which receiver URLs the gateway will call: the SSRF rules.

A webhook makes the gateway send requests to an address a client chose, from inside the court network,
so the address is checked when it is registered and again before each delivery (a name can be re-pointed
after registration):

- production (``mode = "production"``): ``https`` only, and every address the host resolves to must be
  globally routable: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16:
  cloud metadata; fe80::/10), shared, multicast, reserved and unspecified addresses are refused;
- demo and tests: ``https`` to anywhere, or ``http`` to loopback only (a receiver on the test's own
  machine); other private targets are refused here too.

Credentials in URLs are refused (they would be sent to, and logged by, whatever answers). The check and
the connection are two lookups: a name that changes between them is a DNS-rebinding risk this module
narrows (re-checked per delivery) but does not close; deployments should also egress through a proxy
that refuses internal ranges.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from gateway.core.errors import InvalidInput

MAX_URL = 2048


class UnsafeUrl(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__(message, "WEBHOOK_URL")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_form(url: str, *, production: bool) -> str:
    """The URL's host, when its form is acceptable (no lookup)."""
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"a receiver URL is at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("not a URL") from None
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        raise UnsafeUrl("a receiver URL is https://host/path")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("a receiver URL carries no credentials")
    if port == 0:
        raise UnsafeUrl("not a URL")
    if parts.scheme == "http" and (production or not _is_loopback_host(host)):
        raise UnsafeUrl("a receiver URL must be https" + ("" if production else " (http only to loopback)"))
    return host


def address_allowed(address: str, *, production: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return not production
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, production: bool) -> None:
    """Refuse a receiver URL the gateway must not call (see the module's docstring)."""
    host = check_form(url, production=production)
    try:
        addresses = [ipaddress.ip_address(host).compressed]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            raise UnsafeUrl("the receiver's host name does not resolve") from None
        addresses = sorted({str(info[4][0]) for info in found})
    if not addresses or not all(address_allowed(a, production=production) for a in addresses):
        raise UnsafeUrl("the receiver's address is not a public one")
