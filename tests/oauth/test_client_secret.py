"""A client secret is handed to a command line (the guide's example takes ``--client-secret``): it must
never read as an option. ``token_urlsafe`` starts with "-" about once in 64."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.oauth import store as oauth_store
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.testing import sqlite_url


async def test_a_secret_that_would_start_with_a_dash_still_parses_as_an_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    monkeypatch.setattr(oauth_store.secrets, "token_urlsafe", lambda n=32: "-" + "a" * (n - 1))
    async with Store(url) as store:
        _, secret = await oauth_store.add_client(
            store,
            name="firm",
            redirect_uris=["http://127.0.0.1/cb"],
            scopes=["cases:read"],
            public=False,
            rate_per_s=None,
            burst=None,
            may_introspect=False,
            now=datetime.now(UTC),
        )
    assert secret is not None and not secret.startswith("-")
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--client-secret")
    assert parser.parse_args(["--client-secret", secret]).client_secret == secret
