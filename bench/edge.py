"""make edge-bench: what hostile documents cost the gateway, measured on a real gateway process.

Starts one gateway (``court-gateway serve``, no courts needed: nothing here reaches one) and sends,
without a token: a 1 MB and a 10 MB query document, a 400 KB case number, 1,000 distinct 100 KB
documents, and distinct documents just under the document ceiling and at the token limit (parsed and
validated, too large to be cached). Prints the answer, the wall and the gateway's CPU time of each,
and the gateway's resident memory (VmRSS, and VmHWM, its peak) before and after. No thresholds: these
are measurements (the tests assert the behaviour).

Environment: EDGE_BENCH_PARSED (how many documents at the token limit, default 200).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.run import process, wait_for
from gateway.schema.limits import MAX_TOKENS

BIN = Path(sys.executable).parent
PARSED = int(os.environ.get("EDGE_BENCH_PARSED", "200"))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_s(pid: int) -> float:
    """User plus system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def viewer_names(n: int, name: str = "") -> str:
    return f"query {name} {{ viewer {{ " + "name " * n + "} }" if name else "{ viewer { " + "name " * n + "} }"


async def post(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> tuple[int, str, int]:
    body = orjson.dumps(payload)
    async with session.post(url, data=body, headers={"content-type": "application/json"}) as r:
        answer = await r.read()
    errors = orjson.loads(answer).get("errors") or [{}]
    return r.status, str(errors[0].get("extensions", {}).get("code", "-")), len(answer)


async def measure(pid: int, url: str) -> None:
    def line(label: str, status: int, code: str, size: int, wall: float, cpu: float) -> None:
        rss, peak = memory_mb(pid)
        print(
            f"{label:<34} HTTP {status} {code:<22} answer {size:>4} B  wall {wall * 1000:7.1f} ms  "
            f"gateway CPU {cpu * 1000:7.1f} ms  RSS {rss:6.1f} MB (peak {peak:6.1f} MB)",
            flush=True,
        )

    async with aiohttp.ClientSession() as session:
        rss, peak = memory_mb(pid)
        print(f"{'gateway started':<34} RSS {rss:.1f} MB (peak {peak:.1f} MB)")
        singles = {
            "1 MB document": {"query": viewer_names(200_000)},
            "10 MB document": {"query": viewer_names(2_000_000)},
            "400 KB case number": {
                "query": "query ($n: String!) { case(caseNumber: $n) { caseNumber } }",
                "variables": {"n": "（2023）粤0104民初" + "1" * 400_000 + "号"},
            },
            f"document at {MAX_TOKENS + 1} tokens": {"query": viewer_names(MAX_TOKENS)},
        }
        for label, payload in singles.items():
            cpu, wall = cpu_s(pid), time.perf_counter()
            status, code, size = await post(session, url, payload)
            line(label, status, code, size, time.perf_counter() - wall, cpu_s(pid) - cpu)

        batches = {
            "1,000 distinct 100 KB documents": [viewer_names(20_000, f"Q{i}") for i in range(1000)],
            f"{PARSED} distinct documents, {MAX_TOKENS - 20} tokens": [
                viewer_names(MAX_TOKENS - 20, f"P{i}") for i in range(PARSED)
            ],
        }
        for label, queries in batches.items():
            before, _ = memory_mb(pid)
            cpu, wall = cpu_s(pid), time.perf_counter()
            codes: dict[str, int] = {}
            for query in queries:
                status, code, size = await post(session, url, {"query": query})
                codes[f"{status} {code}"] = codes.get(f"{status} {code}", 0) + 1
            rss, peak = memory_mb(pid)
            n = len(queries)
            print(
                f"{label:<34} {codes}  {len(queries[0]) // 1024} KB each; wall {time.perf_counter() - wall:.1f} s, "
                f"gateway CPU {(cpu_s(pid) - cpu) / n * 1000:.1f} ms each; "
                f"RSS {before:.1f} MB before, {rss:.1f} MB after (peak {peak:.1f} MB)",
                flush=True,
            )


def main() -> None:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="court-gateway-edge-bench-"))
    env = {
        "GATEWAY_PORT": str(port),
        "GATEWAY_GRAPHIQL": "false",
        "GATEWAY_CHANGE_POLL_S": "0",
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'gateway.db'}",
    }
    subprocess.run([str(BIN / "court-gateway"), "migrate"], env={**os.environ, **env}, check=True)
    with process([str(BIN / "court-gateway"), "serve"], env, "edge") as proc:
        asyncio.run(wait_for(f"http://127.0.0.1:{port}/healthz", 30))
        asyncio.run(measure(proc.pid, f"http://127.0.0.1:{port}/graphql"))


if __name__ == "__main__":
    main()
