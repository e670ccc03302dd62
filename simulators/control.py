"""A small client for the simulators' control API, used by the CLI (faults, counters, staff)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp


async def control_request(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.request(method, base_url + path, json=body) as response,
    ):
        data = await response.json(content_type=None)
        if response.status >= 400:
            raise SystemExit(f"control API: {response.status} {json.dumps(data, ensure_ascii=False)}")
        return data
