"""GraphiQL's page and vendored assets: all local, intact (their integrity hashes), licensed, and served
only when GraphiQL is enabled. (The page in a real browser, offline: ``tests/browser``.)"""

from __future__ import annotations

import base64
import hashlib
import re

import aiohttp

from gateway.app import create_app
from gateway.config import Settings
from gateway.graphiql import ASSETS
from simulators.cluster import SimulatorCluster
from tests.conftest import serve_app

PAGE = (ASSETS / "index.html").read_text(encoding="utf-8")
REFERENCES = re.findall(r'(?:src|href)="([^"]+)"', PAGE)
INTEGRITY = dict(re.findall(r'(?:src|href)="([^"]+)"\s+integrity="([^"]+)"', PAGE))


def test_the_page_loads_nothing_from_outside() -> None:
    outside = [r for r in REFERENCES if not r.startswith("/graphiql/") and not r.startswith("data:")]
    assert outside == []
    assert "http://" not in PAGE and "https://" not in PAGE


def test_every_vendored_file_matches_the_integrity_hash_the_page_checks() -> None:
    assert set(INTEGRITY) == {f"/graphiql/vendor/{p.name}" for p in (ASSETS / "vendor").iterdir()}
    for path, integrity in INTEGRITY.items():
        digest = hashlib.sha384((ASSETS / path.removeprefix("/graphiql/")).read_bytes()).digest()
        assert integrity == "sha384-" + base64.b64encode(digest).decode(), path


def test_each_vendored_package_ships_with_its_licence() -> None:
    licences = {p.name for p in (ASSETS / "licenses").iterdir()}
    assert {"graphiql-3.8.3.LICENSE", "react-18.2.0.LICENSE", "react-dom-18.2.0.LICENSE"} <= licences
    assert {"graphql-16.9.0.LICENSE", "codemirror-5.65.3.LICENSE"} <= licences, "the largest bundled packages"
    for name in licences:
        assert "Permission is hereby granted" in (ASSETS / "licenses" / name).read_text(), name
    readme = (ASSETS / "README.md").read_text()
    for package in ("graphiql@3.8.3", "react@18.2.0", "react-dom@18.2.0"):
        assert package in readme


async def test_the_page_and_its_assets_are_served_only_when_graphiql_is_on(
    settings: Settings, cluster: SimulatorCluster
) -> None:
    quiet = settings.model_copy(update={"change_poll_s": 0})
    for enabled in (True, False):
        server, task, url = await serve_app(create_app(quiet, graphiql=enabled))
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(url + "/graphql", headers={"Accept": "text/html"}) as r:
                    page = await r.text()
                    assert (r.status, "court-gateway · GraphiQL" in page) == ((200, True) if enabled else (404, False))
                    if enabled:
                        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
                for reference in [r for r in REFERENCES if r.startswith("/graphiql/")]:
                    async with session.get(url + reference) as r:
                        assert r.status == (200 if enabled else 404), reference
        finally:
            server.should_exit = True
            await task
