"""make load-sqlite: the embedded SQLite store under concurrent GraphQL writes on a busy CPU.

Runs the simulators and a gateway on a fresh SQLite file as separate processes (the CLI, as a user
runs them), keeps every core busy with CPU hogs (``yes >/dev/null``), and has concurrent clients write
through GraphQL: ``markNotificationsRead(all: true)`` (one small unit of work) and ``createTicket`` (a
court roster call, then the ticket, its deadline, SMS rows and an audit record in one unit), while the
gateway's own workers (SMS outbox, deadline scheduler, change feed) write beside them. Prints figures and
exits 1 when any request failed or the gateway logged "database is locked".

Environment: LOAD_SECONDS (default 20), LOAD_CLIENTS (default 16), LOAD_HOGS (default: one per core).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from gateway.config import Settings
from gateway.identity import mint_hs256

SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "16"))
HOGS = int(os.environ.get("LOAD_HOGS", str(os.cpu_count() or 2)))
GATEWAY_PORT = 18101
LOCKED = "database is locked"

MARK_READ = "mutation { markNotificationsRead(all: true) }"
CREATE_TICKET = """mutation ($court: String!, $content: String!) {
  createTicket(court: $court, category: CONSULTATION, content: $content) { id status } }"""


@dataclass
class Tally:
    """What the clients saw: per operation, how many answered, how many failed (and the first reasons)."""

    answered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    reasons: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, operation: str, started: float, problem: str | None) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if problem is None:
            self.answered[operation] += 1
            return
        self.failed[operation] += 1
        if len(self.reasons) < 5:
            self.reasons.append(f"{operation}: {problem[:300]}")

    @property
    def requests(self) -> int:
        return sum(self.answered.values()) + sum(self.failed.values())

    def summary(self) -> str:
        lat = sorted(self.latencies_ms) or [0.0]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        ops = ", ".join(
            f"{op} {self.answered[op]} ok/{self.failed[op]} failed" for op in sorted(self.answered | self.failed)
        )
        return (
            f"{self.requests} writes in {self.seconds:.1f} s ({self.requests / max(self.seconds, 1e-9):.1f}/s), "
            f"p50 {statistics.median(lat):.0f} ms, p99 {p99:.0f} ms, max {lat[-1]:.0f} ms; {ops}"
        )


def lawyer_tokens(settings: Settings, count: int) -> list[str]:
    """Bearer tokens of ``count`` distinct lawyers (FACE level), signed with the configured secret."""
    return [
        mint_hs256(
            {
                "sub": f"load-{n}",
                "name": f"负载{n}",
                "roles": ["LAWYER"],
                "level": "FACE",
                "licence_number": f"L{n:05d}",
            },
            settings.jwt_hs256_secret,
        )
        for n in range(count)
    ]


async def drive(graphql_url: str, tokens: list[str], courts: list[str], seconds: float) -> Tally:
    """One client per token, each writing back to back for ``seconds``: read-marks and new tickets in turn."""
    tally = Tally()
    tickets = itertools.count()
    deadline = time.monotonic() + seconds
    begun = time.perf_counter()

    async def client(http: aiohttp.ClientSession, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        for turn in itertools.count():
            if time.monotonic() >= deadline:
                return
            if turn % 2:
                n = next(tickets)
                operation, body = (
                    "createTicket",
                    {
                        "query": CREATE_TICKET,
                        "variables": {"court": courts[n % len(courts)], "content": f"负载测试 {n}"},
                    },
                )
            else:
                operation, body = "markNotificationsRead", {"query": MARK_READ}
            started = time.perf_counter()
            try:
                async with http.post(graphql_url, json=body, headers=headers) as response:
                    answer = await response.json(content_type=None)
                problem = None if response.status == 200 and not answer.get("errors") else f"{response.status} {answer}"
            except (aiohttp.ClientError, TimeoutError) as e:
                problem = f"{type(e).__name__}: {e}"
            tally.record(operation, started, problem)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await asyncio.gather(*(client(http, t) for t in tokens))
    tally.seconds = time.perf_counter() - begun
    return tally


async def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.3)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    from gateway.store.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="court-gateway-load-"))
    database_url = f"sqlite+aiosqlite:///{work / 'gateway.db'}"
    upgrade(database_url)
    settings = Settings()
    cli = str(Path(sys.executable).parent / "court-gateway")
    env = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_PORT": str(GATEWAY_PORT), "GATEWAY_GRAPHIQL": "false"}
    gateway_log = work / "gateway.log"
    print(f"[load] database {database_url}; {CLIENTS} clients, {SECONDS:.0f} s, {HOGS} CPU hogs", flush=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(_start([cli, "sims"], env, work / "sims.log"))
        asyncio.run(_wait_for(f"http://127.0.0.1:{settings.sim_control_port}/courts", 120))
        processes.append(_start([cli, "serve"], env, gateway_log))
        asyncio.run(_wait_for(f"http://127.0.0.1:{GATEWAY_PORT}/healthz", 60))
        for _ in range(HOGS):
            processes.append(subprocess.Popen(["yes"], stdout=subprocess.DEVNULL))
        courts = [c.code for c in settings.courts if c.is_court]
        tally = asyncio.run(
            drive(f"http://127.0.0.1:{GATEWAY_PORT}/graphql", lawyer_tokens(settings, CLIENTS), courts, SECONDS)
        )
    finally:
        for proc in reversed(processes):
            _stop(proc)
    locked = gateway_log.read_text(errors="replace").count(LOCKED)
    print(f"[load] {tally.summary()}")
    print(f'[load] "{LOCKED}" in the gateway log: {locked} (log: {gateway_log})')
    for reason in tally.reasons:
        print(f"[load]   {reason}")
    if locked or sum(tally.failed.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
