"""make soak: a gateway process under a steady mix of reads and writes for minutes, with court faults
injected on a schedule, watching its memory, its errors and its latency.

Runs the simulators and one gateway (``court-gateway serve``, production settings, its own SQLite file,
cache and change feeds on) as separate processes, then sends operations at a fixed rate (open loop: a
slow answer does not slow the sender) as the busiest lawyers: ``myCases`` across every court, one case
by number, the documents waiting for their signature, signing one, asking a court (``createTicket``) and
filing into one of their cases (``submitFiling``, multipart). Meanwhile ``FAULTS`` break one court at a
time (an outage, a hang, every answer an error, a throttle) and slow another without breaking it.

Every minute it prints the gateway's RSS, the requests and errors of that minute by code and court, and
latency percentiles; at the end, the same for the whole run, by operation. It exits non-zero when an
error came from anything but a faulted court inside its fault's window (plus ``GRACE_S`` for calls in
flight, retries and the circuit breaker's reset): a court error for a healthy court, an error without a
court, an HTTP failure or a transport error. No thresholds on latency or memory: those are printed.

Environment: SOAK_SECONDS (default 600), SOAK_RPS (operations per second, default 12), SOAK_REPORT_S
(default 60), SOAK_CASES_PER_COURT (simulator size, default 2000), SOAK_USERS (default 20),
SOAK_CACHE_URL (default memory://), SOAK_MAX_IN_FLIGHT (default 64: beyond it a tick is counted as
backlog, not sent); BENCH_GATEWAY_PORT and GATEWAY_CONFIG as for ``make bench``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.run import BIN, GATEWAY_PORT, Gateway, control, process, wait_for
from gateway.config import Settings
from gateway.identity import mint_hs256

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
RATE = float(os.environ.get("SOAK_RPS", "12"))
REPORT_S = float(os.environ.get("SOAK_REPORT_S", "60"))
CASES_PER_COURT = int(os.environ.get("SOAK_CASES_PER_COURT", "2000"))
USERS = int(os.environ.get("SOAK_USERS", "20"))
MAX_IN_FLIGHT = int(os.environ.get("SOAK_MAX_IN_FLIGHT", "64"))
#: after a fault is lifted, errors from its court are still expected this long: calls in flight, retries,
#: the circuit breaker's reset (5 s) and a court deadline (3 s) each add to it
GRACE_S = 15.0


@dataclass(frozen=True)
class Fault:
    """One court broken (or slowed) from ``start`` to ``end``, as fractions of the run."""

    court: str  # court code
    change: dict[str, Any]  # the simulators' fault settings (POST /courts/{slug}/faults)
    start: float
    end: float
    #: whether errors are expected from this court during the window (a slow court must not fail)
    breaks: bool = True


FAULTS = (
    Fault("粤0104", {"outage": True}, 0.10, 0.22),  # jsonrpc-sign: the socket is closed
    Fault("粤0105", {"hang": True}, 0.28, 0.40),  # soap-gbk: accepts, never answers
    Fault("粤0115", {"error_rate": 1.0}, 0.46, 0.56),  # csv-export: every answer an error
    Fault("粤01", {"latency_ms": 400, "jitter_ms": 400}, 0.60, 0.72, breaks=False),  # v2-rest: slow only
    Fault("粤0192", {"rate_limit_per_s": 1}, 0.76, 0.86),  # v2-rest: throttled
)

MY_CASES = """query { myCases(first: 20) { totalCount edges { node {
  caseNumber courtCode status cause filedOn parties { name role } agents { name } hearings { startsAt } } } } }"""
ONE_CASE = """query ($n: String!) { case(caseNumber: $n) {
  caseNumber courtCode status parties { name role idNumber } panel { name role } relatedCases { caseNumber } } }"""
TO_SIGN = "query { documentsToSign(first: 5) { edges { node { id title } } } }"
SIGN = "mutation ($id: ID!) { signDocument(documentId: $id) { status } }"
TICKET = """mutation ($court: String!, $content: String!, $n: String) {
  createTicket(court: $court, category: CONSULTATION, content: $content, caseNumber: $n) { id status } }"""
SUBMIT = """mutation ($n: String!, $files: [Upload!]!, $key: String!) {
  submitFiling(caseNumber: $n, kind: AGENT_OPINION, title: "代理意见", files: $files, idempotencyKey: $key) {
    id status } }"""
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
#: the mix, by weight
MIX = {"myCases": 30, "case": 30, "documentsToSign": 12, "signDocument": 6, "createTicket": 10, "submitFiling": 12}


def log(message: str) -> None:
    print(f"[soak] {message}", flush=True)


@dataclass
class User:
    token: str
    cases: list[tuple[str, str]] = field(default_factory=list)  # (case number, court code)
    to_sign: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    operation: str
    started: float  # seconds since the run began
    ended: float
    ms: float
    errors: list[tuple[str, str | None]]  # (code, court)


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    backlog: int = 0
    violations: list[str] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(values: list[float]) -> str:
    if not values:
        return "no requests"
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    return f"p50 {statistics.median(ordered):.0f} ms, p95 {at(0.95):.0f}, p99 {at(0.99):.0f}, max {ordered[-1]:.0f}"


def expected(
    error: tuple[str, str | None], started: float, ended: float, faults: list[tuple[Fault, float, float]]
) -> bool:
    """An error is expected only from a broken court, for a request overlapping its window (plus grace)."""
    code, court = error
    if not code.startswith("COURT_") or court is None:
        return False
    return any(
        f.breaks and f.court == court and started <= end + GRACE_S and ended >= start for f, start, end in faults
    )


class Driver:
    """Sends the mix at a steady rate and records what came back."""

    def __init__(self, url: str, users: list[User], courts: list[str], http: aiohttp.ClientSession) -> None:
        self.url = url
        self.users = users
        self.courts = courts
        self.http = http
        self.began = time.monotonic()
        self.tally = Tally()
        self.rng = random.Random(7)
        self.in_flight = 0

    def now(self) -> float:
        return time.monotonic() - self.began

    async def post(
        self, user: User, body: dict[str, Any] | aiohttp.FormData
    ) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
        headers = {"Authorization": f"Bearer {user.token}"}
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, aiohttp.FormData) else {"json": body}
        try:
            async with self.http.post(self.url, headers=headers, **kwargs) as response:
                answer = await response.json(content_type=None)
                if response.status != 200:
                    return {}, [(f"HTTP_{response.status}", None)]
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            return {}, [(f"CLIENT_{type(e).__name__}", None)]
        errors = [
            ((e.get("extensions") or {}).get("code", "NO_CODE"), (e.get("extensions") or {}).get("court"))
            for e in answer.get("errors") or []
        ]
        return answer.get("data") or {}, errors

    async def operation(self, name: str) -> None:
        user = self.rng.choice(self.users)
        if name == "signDocument" and not user.to_sign:
            name = "documentsToSign"  # nothing known to sign yet: find some first
        started = self.now()
        begun = time.perf_counter()
        data, errors = await self.send(name, user)
        self.tally.outcomes.append(Outcome(name, started, self.now(), (time.perf_counter() - begun) * 1000, errors))
        if name == "documentsToSign" and data.get("documentsToSign"):
            user.to_sign = [e["node"]["id"] for e in data["documentsToSign"]["edges"]]

    async def send(self, name: str, user: User) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
        number, court = self.rng.choice(user.cases)
        if name == "myCases":
            return await self.post(user, {"query": MY_CASES})
        if name == "case":
            return await self.post(user, {"query": ONE_CASE, "variables": {"n": number}})
        if name == "documentsToSign":
            return await self.post(user, {"query": TO_SIGN})
        if name == "signDocument":
            return await self.post(user, {"query": SIGN, "variables": {"id": user.to_sign.pop(0)}})
        if name == "createTicket":
            content = f"浸泡测试 {uuid.uuid4().hex[:8]}：请问本案开庭时间？"
            return await self.post(
                user, {"query": TICKET, "variables": {"court": court, "content": content, "n": number}}
            )
        form = aiohttp.FormData()
        variables = {"n": number, "files": [None], "key": uuid.uuid4().hex}
        form.add_field(
            "operations", json.dumps({"query": SUBMIT, "variables": variables}), content_type="application/json"
        )
        form.add_field("map", json.dumps({"0": ["variables.files.0"]}))
        form.add_field("0", PDF, filename="代理意见.pdf", content_type="application/pdf")
        return await self.post(user, form)

    async def run(self, seconds: float) -> None:
        names, weights = list(MIX), list(MIX.values())
        tasks: set[asyncio.Task[None]] = set()
        for tick in range(int(seconds * RATE)):
            await asyncio.sleep(max(0.0, tick / RATE - self.now()))
            if self.in_flight >= MAX_IN_FLIGHT:
                self.tally.backlog += 1
                continue
            task = asyncio.ensure_future(self.tracked(self.rng.choices(names, weights)[0]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)

    async def tracked(self, name: str) -> None:
        self.in_flight += 1
        try:
            await self.operation(name)
        finally:
            self.in_flight -= 1


async def faults_on_schedule(settings: Settings, driver: Driver, applied: list[tuple[Fault, float, float]]) -> None:
    """Break and mend courts as ``FAULTS`` says; ``applied`` records each window as it really happened."""
    slugs = {c.code: c.slug for c in settings.courts}
    events = sorted(
        [(f.start * SECONDS, True, i) for i, f in enumerate(FAULTS)]
        + [(f.end * SECONDS, False, i) for i, f in enumerate(FAULTS)]
    )
    opened: dict[int, float] = {}
    for at, on, i in events:
        fault = FAULTS[i]
        await asyncio.sleep(max(0.0, at - driver.now()))
        if on:
            await control(settings, "POST", f"/courts/{slugs[fault.court]}/faults", fault.change)
            opened[i] = driver.now()
            log(f"{driver.now():6.0f} s  fault on  {fault.court} {fault.change}")
        else:
            await control(settings, "DELETE", f"/courts/{slugs[fault.court]}/faults")
            applied.append((fault, opened.pop(i), driver.now()))
            log(f"{driver.now():6.0f} s  fault off {fault.court}")
    for i, since in opened.items():  # a window the run's end cut short
        applied.append((FAULTS[i], since, driver.now()))


async def reporter(driver: Driver, pid: int, rss: list[float]) -> None:
    """Every ``REPORT_S``: the gateway's RSS, and that interval's requests, latency and errors."""
    seen = 0
    while True:
        await asyncio.sleep(REPORT_S)
        window = driver.tally.outcomes[seen:]
        seen += len(window)
        rss.append(rss_mb(pid))
        errors = Counter(f"{code}@{court or '-'}" for o in window for code, court in o.errors)
        log(
            f"{driver.now():6.0f} s  RSS {rss[-1]:6.1f} MB  {len(window)} requests "
            f"({len(window) / REPORT_S:.1f}/s), {percentiles([o.ms for o in window])}; "
            f"errors: {dict(errors) or 'none'}; in flight {driver.in_flight}"
        )


async def soak(
    settings: Settings, url: str, pid: int, users: list[User]
) -> tuple[Driver, list[tuple[Fault, float, float]], list[float]]:
    courts = [c.code for c in settings.courts if c.is_court]
    applied: list[tuple[Fault, float, float]] = []
    rss = [rss_mb(pid)]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)) as http:
        driver = Driver(url, users, courts, http)
        log(f"     0 s  RSS {rss[0]:6.1f} MB at the start")
        faults = asyncio.ensure_future(faults_on_schedule(settings, driver, applied))
        report = asyncio.ensure_future(reporter(driver, pid, rss))
        try:
            await driver.run(SECONDS)
        finally:
            report.cancel()
            if faults.done() and faults.exception() is not None:
                raise RuntimeError("the fault schedule failed") from faults.exception()
            faults.cancel()
            for fault in FAULTS:  # whatever the schedule reached, leave every court mended
                slug = next(c.slug for c in settings.courts if c.code == fault.court)
                await control(settings, "DELETE", f"/courts/{slug}/faults")
    rss.append(rss_mb(pid))
    return driver, applied, rss


async def prepare(url: str, tokens: list[str]) -> list[User]:
    """Each user's cases (before any fault), for case reads, tickets and filings."""
    users = []
    async with aiohttp.ClientSession() as http:
        for token in tokens:
            query = {"query": "query { myCases(first: 10) { edges { node { caseNumber courtCode } } } }"}
            async with http.post(url, json=query, headers={"Authorization": f"Bearer {token}"}) as response:
                edges = (await response.json())["data"]["myCases"]["edges"]
            users.append(User(token, [(e["node"]["caseNumber"], e["node"]["courtCode"]) for e in edges]))
    return [u for u in users if u.cases]


def report(driver: Driver, applied: list[tuple[Fault, float, float]], rss: list[float]) -> int:
    outcomes = driver.tally.outcomes
    print(f"\ncourt-gateway soak: {SECONDS:.0f} s at {RATE:g} operations/s, {len(driver.users)} lawyers")
    print(f"  requests {len(outcomes)}, not sent (more than {MAX_IN_FLIGHT} in flight) {driver.tally.backlog}")
    print(
        f"  RSS every {REPORT_S:.0f} s (MB): {' '.join(f'{r:.0f}' for r in rss)}; growth after the first interval "
        f"{(rss[-1] - rss[1]) if len(rss) > 2 else 0:+.1f} MB"
    )
    for name in MIX:
        mine = [o for o in outcomes if o.operation == name]
        failed = sum(1 for o in mine if o.errors)
        print(f"  {name:<16} {len(mine):>6} requests, {failed:>5} with errors; {percentiles([o.ms for o in mine])}")
    print(f"  all              {percentiles([o.ms for o in outcomes])}")
    for fault, start, end in applied:
        inside = Counter(f"{code}@{court}" for o in outcomes for code, court in o.errors if court == fault.court)
        print(
            f"  fault {fault.court} {fault.change} from {start:.0f} s to {end:.0f} s: errors {dict(inside) or 'none'}"
        )
    unexpected: Counter[str] = Counter()
    for o in outcomes:
        for error in o.errors:
            if not expected(error, o.started, o.ended, applied):
                unexpected[f"{o.operation}: {error[0]}@{error[1] or '-'}"] += 1
    if unexpected:
        print(f"  UNEXPECTED errors (not from a faulted court in its window): {dict(unexpected)}")
        return 1
    print("  no errors outside the injected faults")
    return 0


def main() -> None:
    settings = Settings()
    work = Path(tempfile.mkdtemp(prefix="court-gateway-soak-"))
    log(f"simulators: {CASES_PER_COURT:,} cases per court; work dir {work}")
    with process([str(BIN / "court-gateway"), "sims", "--cases-per-court", str(CASES_PER_COURT)], {}, "soak-sims"):
        asyncio.run(wait_for(f"http://127.0.0.1:{settings.sim_control_port}/courts", 300))
        busiest = asyncio.run(control(settings, "GET", f"/people/busiest?limit={USERS}"))
        tokens = [
            mint_hs256(
                {
                    "sub": f"soak-{p['licence_number']}",
                    "name": "浸泡",
                    "roles": ["LAWYER"],
                    "level": "FACE",
                    "licence_number": p["licence_number"],
                },
                settings.jwt_hs256_secret,
            )
            for p in busiest
        ]
        gateway = Gateway(
            settings,
            {
                "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'gateway.db'}",
                "GATEWAY_CACHE_URL": os.environ.get("SOAK_CACHE_URL", "memory://"),
            },
        )
        url = f"http://127.0.0.1:{GATEWAY_PORT}/graphql"
        with gateway.running("soak-gateway") as proc:
            users = asyncio.run(prepare(url, tokens))
            log(
                f"gateway pid {proc.pid}; {len(users)} lawyers; faults: "
                + "; ".join(f"{f.court} {f.change} {f.start * SECONDS:.0f}-{f.end * SECONDS:.0f} s" for f in FAULTS)
            )
            driver, applied, rss = asyncio.run(soak(settings, url, proc.pid, users))
    sys.exit(report(driver, applied, rss))


if __name__ == "__main__":
    main()
