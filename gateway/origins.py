"""Which browser pages may call the gateway: one list of origins for HTTP (CORS) and WebSocket upgrades.

Invariants:

- One list decides both. A page on an origin outside it gets no ``Access-Control-Allow-Origin`` on HTTP
  (so the browser withholds the answer) and a 403 on a WebSocket upgrade (browsers apply no CORS there, so
  the gateway refuses the handshake itself: cross-site WebSocket hijacking). A WebSocket without an
  ``Origin`` (a non-browser client) and a page on the gateway's own host are always let in.
- Origins are kept in the form browsers send (``scheme://host[:port]``, lowercase, no default port), so a
  comparison is a string comparison. ``*`` is refused: the clients are first-party (DESIGN §8).
- Credentials mode is never allowed: the gateway reads no cookies and no HTTP authentication, the token
  travels in ``Authorization`` (or a WebSocket's ``connection_init``), so a page has nothing ambient to
  send and ``Access-Control-Allow-Credentials`` is never sent.
- Every response says ``Vary: Origin`` (also one to a request without an ``Origin``): a shared cache must
  not hand a GET answer cached for one page to another.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp
from strawberry.http.websocket_origin import normalize_allowed_origins

#: Vite's dev server, where the AOL frontend and the mini-program's H5 build are developed
VITE_DEV_ORIGIN = "http://localhost:5173"
#: what a page may send besides the CORS-safelisted headers (W3C trace context too: a frontend traced with
#: OpenTelemetry's browser SDK sends ``traceparent``, and the gateway continues that trace)
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "X-Request-Id", "traceparent", "tracestate")
#: what a page may read besides the CORS-safelisted response headers (rate limits and the request id)
EXPOSED_HEADERS = (
    "RateLimit",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-Id",
    "traceresponse",
)
METHODS = ("GET", "POST")


def normalized_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """``origins`` as browsers send them, sorted; ``ValueError`` for ``*`` or anything that is not an origin."""
    normalized: set[str] = set()
    for origin in origins:
        if origin == "*":
            raise ValueError("'*' is not an allowed origin: list the origins of the gateway's browser clients")
        try:
            normalized |= normalize_allowed_origins([origin])
        except ValueError:
            shown = origin if len(origin) <= 80 else origin[:80] + "…"
            raise ValueError(
                f"{shown!r} is not an origin like https://aol.gzcourt.gov.cn (scheme, host, optional port; no path)"
            ) from None
    return tuple(sorted(normalized))


def demo_origins(port: int) -> tuple[str, ...]:
    """The demo's own pages (whichever loopback name the browser used) and Vite's dev server."""
    return normalized_origins([f"http://127.0.0.1:{port}", f"http://localhost:{port}", VITE_DEV_ORIGIN])


class OriginsMiddleware(CORSMiddleware):
    """Starlette's CORS with the invariants above: explicit origins, no credentials. ``Vary: Origin`` on every
    answer, also one to a request without ``Origin``, is Starlette's own (1.x): saying it here as well made
    it ``Origin, Origin``."""

    def __init__(self, app: ASGIApp, *, origins: Iterable[str], max_age_s: int) -> None:
        super().__init__(
            app,
            allow_origins=normalized_origins(origins),
            allow_methods=METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=max_age_s,
        )
