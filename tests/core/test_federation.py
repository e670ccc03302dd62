"""gather_by_court: every court asked at once, what answered kept, the rest reported one failure per court."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.adapters.errors import CourtUnavailable
from gateway.core.federation import Deadline, gather_by_court


async def test_calls_run_at_once_and_still_running_at_the_deadline_are_cancelled_as_court_timeout() -> None:
    cancelled: list[str] = []

    async def answers(value: str, after: float) -> str:
        await asyncio.sleep(after)
        return value

    async def hangs(court: str) -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(court)
            raise
        return "never"

    async def fails() -> str:
        raise CourtUnavailable("粤0105", "down")

    calls = [
        ("a", "粤0103", lambda: answers("A", 0.05)),
        ("b", "粤0104", lambda: answers("B", 0.05)),
        ("c", "粤0105", fails),
        ("d", "粤0106", lambda: hangs("粤0106")),
        ("e", "粤0106", lambda: hangs("粤0106")),  # a second call at the same court: one failure for it
    ]
    started = time.monotonic()
    results, failures = await gather_by_court(calls, Deadline(0.3))
    elapsed = time.monotonic() - started

    assert results == {"a": "A", "b": "B"}
    assert sorted((f.court_code, f.code) for f in failures) == [
        ("粤0105", "COURT_UNAVAILABLE"),
        ("粤0106", "COURT_TIMEOUT"),
    ]
    assert cancelled == ["粤0106", "粤0106"]  # stopped, not left running behind the answer
    assert 0.25 <= elapsed < 1.0  # the two answers took 0.05 s each, together: no call waited for another


async def test_an_error_that_is_no_court_error_is_not_swallowed() -> None:
    async def broken() -> str:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        await gather_by_court([("k", "粤0103", broken)], Deadline(1))
