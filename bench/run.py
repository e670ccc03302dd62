"""make bench: the gateway under load against bench-size simulated courts, measured with wrk.

Runs the simulators (bench size) and the gateway as separate processes with production settings
(uvicorn, no GraphiQL, Redis cache when one answers on 127.0.0.1:6379), drives ``myCases`` (the
fan-out to every court) and ``case(caseNumber:)`` (one court) with wrk as many different lawyers, and
prints figures, with the gateway process's CPU time per request (from /proc). No thresholds: these are
measurements.

Environment: BENCH_SECONDS (per phase, default 10), BENCH_CONNECTIONS (default 8), BENCH_USERS (20),
BENCH_CASES_PER_COURT (default: the seed's bench size), BENCH_REDIS_DB (the Redis database the warm
gateway uses, default 14), BENCH_GATEWAY_PORT (default 18100). The warm gateway runs with the response
cache on (``GATEWAY_RESPONSE_CACHE=false`` in the environment measures the first-level cache alone).
GATEWAY_CONFIG can move the simulators' ports.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp

from gateway.adapters.model import PersonRef
from gateway.adapters.registry import build_adapter
from gateway.adapters.resilience import ResilientAdapter
from gateway.config import Settings
from gateway.identity import mint_hs256

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
USERS = int(os.environ.get("BENCH_USERS", "20"))
GATEWAY_PORT = int(os.environ.get("BENCH_GATEWAY_PORT", "18100"))
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "14"))
HUNG_COURT = "粤0105"
#: the rate limiter runs (its cost per request is part of the figures) but never refuses: 20 users at its
#: default 20 requests a second would cap a warm phase at about 400 rps, and count refusals as answers
UNLIMITED = {"GATEWAY_RATE_LIMIT_PER_S": "1000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}

NESTED = """query { myCases(first: 20) { totalCount edges { node {
  caseNumber courtCode status cause filedOn
  parties { name role idNumber } agents { name licenceNumber firm } panel { name role }
  hearings { startsAt room } relatedCases { caseNumber relation } servedDocuments { title signed } } } } }"""
PLAIN = "query { myCases(first: 20) { edges { node { caseNumber courtCode status filedOn } } } }"
ONE_CASE = """query One($n: String!) { case(caseNumber: $n) {
  caseNumber courtCode status cause filedOn
  parties { name role idNumber } agents { name licenceNumber firm } panel { name role }
  hearings { startsAt room } relatedCases { caseNumber relation } } }"""
NEWEST = "query { myCases(first: 1) { edges { node { caseNumber } } } }"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@contextmanager
def process(args: list[str], env: dict[str, str], name: str) -> Iterator[subprocess.Popen[bytes]]:
    logfile = open(Path(tempfile.gettempdir()) / f"court-gateway-bench-{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        logfile.close()


async def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.5)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")


async def control(settings: Settings, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{settings.sim_control_port}{path}", json=body) as response,
    ):
        return await response.json(content_type=None)


def redis_url() -> str | None:
    import redis

    with suppress(Exception):
        client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
        client.ping()
        client.close()
        return f"redis://127.0.0.1:6379/{REDIS_DB}"
    return None


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str,
    tokens: Path,
    query: str | list[dict[str, Any]],
    seconds: int = SECONDS,
    connections: int = CONNECTIONS,
    *,
    pid: int | None = None,
) -> dict[str, Any]:
    """One wrk run: a query for every user, or one request body per user (paired with the tokens' lines);
    with ``pid``, also the CPU milliseconds that process spent per request."""
    bodies = [{"query": query}] if isinstance(query, str) else query
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(json.dumps(b, ensure_ascii=False) for b in bodies) + "\n")
    cpu_before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "mycases.lua"),
            url,
            "--",
            str(tokens),
            f.name,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)
    line = next(line for line in out.splitlines() if line.startswith("WRK_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    if pid:
        result["cpu_ms"] = round((cpu_seconds(pid) - cpu_before) * 1000 / max(1, result["requests"]), 2)
    return result


async def newest_cases(url: str, tokens: list[str]) -> list[dict[str, Any]]:
    """For each user (token), a ``case(caseNumber:)`` body for their newest case: a read at one court."""
    bodies = []
    async with aiohttp.ClientSession() as session:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            async with session.post(url, json={"query": NEWEST}, headers=headers) as response:
                edges = (await response.json())["data"]["myCases"]["edges"]
            bodies.append({"query": ONE_CASE, "variables": {"n": edges[0]["node"]["caseNumber"]}})
    return bodies


async def backend_calls(settings: Settings) -> int:
    courts = await control(settings, "GET", "/courts")
    return sum(c["counters"].get("http", 0) for c in courts)


async def court_p50s(settings: Settings, lawyers: list[str], samples: int = 25) -> dict[str, float]:
    """Each court's own p50 for one page of a lawyer's cases, called directly (no gateway)."""
    result = {}
    for court in settings.courts:
        if not court.is_court:
            continue
        async with ResilientAdapter(build_adapter(court)) as adapter:
            times = []
            for i in range(samples):
                started = time.perf_counter()
                await adapter.list_cases(PersonRef.lawyer(lawyers[i % len(lawyers)]), limit=20)
                times.append((time.perf_counter() - started) * 1000)
        result[court.code] = statistics.median(times)
    return result


async def slowest_of_all_p50(settings: Settings, lawyers: list[str], samples: int = 25) -> float:
    """The p50 of the slowest court when every court is asked at once, directly (no gateway): the pace of
    a fan-out, which a gateway can at best match. With independent jitter this is well above any one
    court's p50 (the median of the largest of 13 draws, not of one draw)."""
    adapters = [ResilientAdapter(build_adapter(court)) for court in settings.courts if court.is_court]
    times = []
    try:
        for i in range(samples + 3):
            ref = PersonRef.lawyer(lawyers[i % len(lawyers)])
            started = time.perf_counter()
            await asyncio.gather(*(adapter.list_cases(ref, limit=20) for adapter in adapters))
            if i >= 3:  # the first calls open sessions and connections
                times.append((time.perf_counter() - started) * 1000)
    finally:
        for adapter in adapters:
            await adapter.aclose()
    return statistics.median(times)


class Gateway:
    """One gateway process with given settings; the figures of each run come from wrk."""

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.url = f"http://127.0.0.1:{GATEWAY_PORT}"
        self.peak_rss_mb = 0.0

    @contextmanager
    def running(self, name: str) -> Iterator[subprocess.Popen[bytes]]:
        env = {"GATEWAY_PORT": str(GATEWAY_PORT), "GATEWAY_GRAPHIQL": "false", **UNLIMITED, **self.env}
        # serve runs on a migrated database only
        subprocess.run([str(BIN / "court-gateway"), "migrate"], env={**os.environ, **env}, check=True)
        with process([str(BIN / "court-gateway"), "serve"], env, name) as proc:
            asyncio.run(wait_for(f"{self.url}/healthz", 30))
            try:
                yield proc
            finally:
                self.peak_rss_mb = max(self.peak_rss_mb, rss_peak_mb(proc.pid))


async def reset(settings: Settings) -> None:
    for court in settings.courts:
        await control(settings, "DELETE", f"/courts/{court.slug}/faults")
    await control(settings, "POST", "/counters/reset")


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it with apt-get)")
    settings = Settings()
    from simulators.generator import SeedConfig

    size = int(os.environ.get("BENCH_CASES_PER_COURT", SeedConfig.load(settings.seed_file).bench_cases_per_court))
    cache = redis_url()
    log(f"simulators: {size:,} cases per court; cache: {cache or 'memory (no Redis on 127.0.0.1:6379)'}")
    figures: dict[str, Any] = {"cases per court": size, "cache": "redis" if cache else "memory"}
    with process([str(BIN / "court-gateway"), "sims", "--cases-per-court", str(size)], {}, "sims"):
        started = time.monotonic()
        asyncio.run(wait_for(f"http://127.0.0.1:{settings.sim_control_port}/courts", 300))
        figures["simulators ready (s)"] = round(time.monotonic() - started, 1)
        busiest = asyncio.run(control(settings, "GET", f"/people/busiest?limit={USERS}"))
        lawyers = [p["licence_number"] for p in busiest]
        figures["users"] = (
            f"{len(lawyers)} lawyers, each with cases in {min(len(p['courts']) for p in busiest)}+ courts"
        )
        tokens = Path(tempfile.gettempdir()) / "court-gateway-bench-tokens.txt"
        minted = [
            mint_hs256(
                {"sub": f"bench-{n}", "name": "bench", "roles": ["LAWYER"], "level": "FACE", "licence_number": n},
                settings.jwt_hs256_secret,
            )
            for n in lawyers
        ]
        tokens.write_text("\n".join(minted))

        cold = Gateway(settings, {"GATEWAY_CACHE_TTL_S": "0", "GATEWAY_CHANGE_POLL_S": "0"})
        warm = Gateway(settings, {"GATEWAY_CACHE_URL": cache or "memory://", "GATEWAY_CACHE_TTL_S": "300"})
        graphql = f"http://127.0.0.1:{GATEWAY_PORT}/graphql"

        log("cold cache: myCases(first: 20) with nested detail")
        with cold.running("gateway-cold") as proc:
            asyncio.run(reset(settings))
            figures["cold"] = wrk(graphql, tokens, NESTED, pid=proc.pid)
            calls = asyncio.run(backend_calls(settings))
            figures["backend calls per request (cold, nested)"] = round(calls / max(1, figures["cold"]["requests"]), 1)
            one_case = asyncio.run(newest_cases(graphql, minted))
            log("cold cache: case(caseNumber:), one court")
            figures["one case cold"] = wrk(graphql, tokens, one_case, pid=proc.pid)

            log("fan-out: every court at 20-80 ms injected latency")
            for court in settings.courts:
                asyncio.run(
                    control(settings, "POST", f"/courts/{court.slug}/faults", {"latency_ms": 20, "jitter_ms": 60})
                )
            p50s = asyncio.run(court_p50s(settings, lawyers))
            slowest = max(p50s, key=lambda c: p50s[c])
            fan_out = wrk(graphql, tokens, PLAIN, connections=1)  # latency, not throughput: one at a time
            pace = asyncio.run(slowest_of_all_p50(settings, lawyers))
            figures["fan-out"] = {
                "gateway p50 ms": fan_out["p50_ms"],
                "slowest court": slowest,
                "slowest court p50 ms": round(p50s[slowest], 1),
                "ratio to one court": round(fan_out["p50_ms"] / p50s[slowest], 2),
                "slowest of all p50 ms": round(pace, 1),
                "ratio": round(fan_out["p50_ms"] / pace, 2),
            }
            asyncio.run(reset(settings))

            log(f"one court hung ({HUNG_COURT})")
            hung = next(c for c in settings.courts if c.code == HUNG_COURT)
            asyncio.run(control(settings, "POST", f"/courts/{hung.slug}/faults", {"hang": True}))
            figures["one court hung"] = wrk(graphql, tokens, PLAIN)
            asyncio.run(reset(settings))

        log("warm cache: the same query, cache primed")
        with warm.running("gateway-warm") as proc:
            wrk(graphql, tokens, NESTED, seconds=3)  # prime every user's pages
            asyncio.run(reset(settings))
            figures["warm"] = wrk(graphql, tokens, NESTED, pid=proc.pid)
            calls = asyncio.run(backend_calls(settings))
            figures["backend calls per request (warm, nested)"] = round(calls / max(1, figures["warm"]["requests"]), 2)
            log("warm cache: case(caseNumber:), one court")
            wrk(graphql, tokens, one_case, seconds=2)  # prime every user's case
            figures["one case warm"] = wrk(graphql, tokens, one_case, pid=proc.pid)
        figures["gateway peak RSS (MB)"] = round(max(cold.peak_rss_mb, warm.peak_rss_mb), 1)
    report(figures)


def report(f: dict[str, Any]) -> None:
    def line(label: str, run: dict[str, Any]) -> str:
        cpu = f"   CPU {run['cpu_ms']:>5.2f} ms/req" if "cpu_ms" in run else ""
        return (
            f"  {label:<34} {run['rps']:>8.1f} rps   p50 {run['p50_ms']:>8.1f} ms   p99 {run['p99_ms']:>8.1f} ms"
            f"{cpu}   ({run['requests']} requests, {run['error_responses']} with errors)"
        )

    print("\ncourt-gateway benchmark")
    responses = "off" if os.environ.get("GATEWAY_RESPONSE_CACHE", "").lower() in ("0", "false", "no") else "on"
    print(
        f"  world: {f['cases per court']:,} cases per court x 13 courts; cache: {f['cache']} "
        f"(warm: response cache {responses}); "
        f"load: wrk, {CONNECTIONS} connections, {SECONDS} s per phase; users: {f['users']}"
    )
    print(line("myCases(first: 20) nested, cold", f["cold"]))
    print(line("myCases(first: 20) nested, warm", f["warm"]))
    print(line("case(caseNumber:), cold", f["one case cold"]))
    print(line("case(caseNumber:), warm", f["one case warm"]))
    for label, cold, warm in (
        ("myCases nested", f["cold"], f["warm"]),
        ("case(caseNumber:)", f["one case cold"], f["one case warm"]),
    ):
        ratio = warm["rps"] / cold["rps"] if cold["rps"] else float("nan")
        cpu = (
            f", CPU per request {cold['cpu_ms']:.2f} -> {warm['cpu_ms']:.2f} ms"
            if "cpu_ms" in cold and "cpu_ms" in warm
            else ""
        )
        print(f"  warm/cold {label:<24}  {ratio:>5.1f}x rps{cpu}")
    print(line(f"myCases(first: 20), {HUNG_COURT} hung", f["one court hung"]))
    fo = f["fan-out"]
    print(
        f"  fan-out ratio (courts at 20-80 ms)  {fo['ratio']:.2f} = gateway p50 {fo['gateway p50 ms']:.1f} ms"
        f" / p50 of the slowest court when all 13 are asked at once, directly, {fo['slowest of all p50 ms']:.1f} ms"
        " (one request at a time)"
    )
    print(
        f"    against one court alone           {fo['ratio to one court']:.2f} = gateway p50 / slowest court's own"
        f" p50 {fo['slowest court p50 ms']:.1f} ms ({fo['slowest court']}); at best the median of the largest of"
        " 13 jittered latencies over one's median, about 1.4 here"
    )
    print(
        f"  backend calls per GraphQL request   cold {f['backend calls per request (cold, nested)']}, "
        f"warm {f['backend calls per request (warm, nested)']}"
    )
    print(f"  gateway peak RSS                    {f['gateway peak RSS (MB)']} MB")
    print(f"  simulators ready in                 {f['simulators ready (s)']} s")


if __name__ == "__main__":
    main()
