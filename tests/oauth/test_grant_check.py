"""``GrantCheck``: a revocation on this replica is seen at once, even by a look-up already under way."""

from __future__ import annotations

import asyncio

from gateway.oauth.tokens import GrantCheck


async def test_an_answer_asked_before_a_revocation_is_not_kept_after_it() -> None:
    live = {"g": True}
    asked = asyncio.Event()
    answer = asyncio.Event()

    async def is_live(grant_id: str) -> bool:
        was = live[grant_id]  # read before the revocation commits …
        asked.set()
        await answer.wait()  # … and answered after it
        return was

    check = GrantCheck(is_live, ttl_s=60)
    in_flight = asyncio.create_task(check("g"))
    await asked.wait()
    live["g"] = False  # revoked here: the store says so, and this replica forgets what it knew
    check.forget("g")
    answer.set()
    assert await in_flight is True, "the look-up under way answers what it read"
    assert await check("g") is False, "but its stale answer was not kept for the next caller"
    assert await check("g") is False
