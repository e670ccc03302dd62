"""Background workers (the filing, signature and SMS outboxes): run, woken early, stopped cleanly.

A worker is anything with a ``name`` and an async ``run_once()`` that does the work that is due and
returns how much it did. The runner calls each worker in its own task every ``interval_s``, or at once
when ``wake()`` is called (a mutation that just stored something to deliver wakes its worker). A
failing round is logged and retried on the next tick: the work itself is in the store, never in memory.

Stopping (at shutdown) is graceful: no worker starts another round, and a round under way has
``grace_s`` to finish and record its outcomes. One still running then is cancelled; what it had
claimed keeps its lease and is delivered again, by any gateway process, when the lease runs out (the
idempotency key makes the repeat harmless). Nothing is lost either way; the grace only saves the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

log = logging.getLogger("gateway.workers")

#: how long a stopping runner lets the rounds under way finish: longer than a court call's deadline, and
#: short enough for a pod's termination grace period (see docs/operations.md)
STOP_GRACE_S = 10.0


class Worker(Protocol):
    name: str

    async def run_once(self) -> int: ...


class WorkerRunner:
    def __init__(self, *, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.workers: list[Worker] = []
        self._wakeups: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def add(self, worker: Worker) -> None:
        self.workers.append(worker)

    def wake(self, name: str) -> None:
        event = self._wakeups.get(name)
        if event is not None:
            event.set()

    def start(self) -> None:
        self._stopping = False
        for worker in self.workers:
            self._wakeups[worker.name] = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._loop(worker), name=f"worker:{worker.name}"))

    async def _loop(self, worker: Worker) -> None:
        wakeup = self._wakeups[worker.name]
        while not self._stopping:
            wakeup.clear()
            try:
                done = await worker.run_once()
            except Exception:
                log.exception("worker %s failed; retrying on the next tick", worker.name)
                done = 0
            if done:
                continue  # there may be more due right away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=self.interval_s)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Claim nothing more; wait up to ``grace_s`` for the rounds under way, then cancel the rest."""
        self._stopping = True
        for event in self._wakeups.values():
            event.set()  # an idle loop sees it is stopping now, not at its next tick
        if self._tasks:
            _, unfinished = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in unfinished:
                log.warning(
                    "worker %s still busy after %.0f s: cancelled; its claims wait out their lease",
                    task.get_name(),
                    grace_s,
                )
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
