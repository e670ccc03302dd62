"""Each firm test runs its own gateway on its own migrated SQLite database (fast retries of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store.migrate import upgrade_async
from gateway.store.testing import sqlite_url


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    return url
