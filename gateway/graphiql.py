"""GraphiQL served by the gateway itself, for the demo and for developers: no asset comes from outside.

The page (``static/graphiql/index.html``) replaces Strawberry's template, which loads React and GraphiQL
from a CDN; its assets are vendored under ``static/graphiql/vendor`` (provenance and licences in the README
beside them) and served under ``ASSET_PATH``. The page's Content-Security-Policy allows only this origin, so
a page that reached for anything else would fail in the browser, not quietly depend on the network.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
ASSET_PATH = "/graphiql"
#: scripts and styles from this origin only (GraphiQL sets inline styles), requests to it (HTTP and ws)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@cache
def _page_html() -> str:
    return (ASSETS / "index.html").read_text(encoding="utf-8")


def page() -> HTMLResponse:
    """The GraphiQL page, with a policy that keeps it to this origin."""
    return HTMLResponse(_page_html(), headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})


def assets() -> Mount:
    """The page's own scripts and styles and the vendored GraphiQL and React."""
    return Mount(ASSET_PATH, StaticFiles(directory=ASSETS), name="graphiql")
