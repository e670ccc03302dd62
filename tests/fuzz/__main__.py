"""``make fuzz``: simulators and a gateway on loopback (as the tests start them), then the fuzzer.

Counts, seed and concurrency come from FUZZ_QUERIES (default 10000), FUZZ_MUTATIONS (2000), FUZZ_SEED
(20231129) and FUZZ_CONCURRENCY (8); failures are saved, one JSON line each with the offending document,
to FUZZ_OUT (default .data/fuzz-failures.jsonl). Exit status 1 when anything failed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import graphql

from gateway.app import create_app
from gateway.schema import schema
from gateway.store.migrate import upgrade_async
from simulators.cluster import SimulatorCluster
from simulators.generator import SeedConfig, generate_world
from tests.conftest import loopback_settings, mint, serve_app
from tests.fuzz.fuzzer import ROLES, generate, interleaved, send_all


def say(message: str) -> None:
    print(f"[fuzz] {message}", flush=True)


class Unexpected(logging.Handler):
    """Counts what the gateway masked as INTERNAL_SERVER_ERROR, by exception and the innermost gateway frame
    (the gateway runs in this process, so its log says where each one came from)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info or record.exc_info[1] is None:
            return
        error = record.exc_info[1]
        frames = [f for f in traceback.extract_tb(error.__traceback__) if "/gateway/" in f.filename]
        where = f"{frames[-1].filename.split('/gateway/')[-1]}:{frames[-1].lineno}" if frames else "?"
        self.seen[f"{type(error).__name__}: {str(error)[:80]} at gateway/{where}"] += 1


async def main() -> int:
    queries = int(os.environ.get("FUZZ_QUERIES", "10000"))
    mutations = int(os.environ.get("FUZZ_MUTATIONS", "2000"))
    seed = int(os.environ.get("FUZZ_SEED", "20231129"))
    concurrency = int(os.environ.get("FUZZ_CONCURRENCY", "8"))
    out = Path(os.environ.get("FUZZ_OUT", ".data/fuzz-failures.jsonl"))

    sdl = graphql.build_schema(schema.as_str())
    started = time.monotonic()
    documents = interleaved(generate(sdl, "query", queries, seed), generate(sdl, "mutation", mutations, seed + 1))
    say(
        f"generated {queries:,} queries and {mutations:,} mutations (seed {seed}) in {time.monotonic() - started:.0f} s"
    )

    settings = loopback_settings()
    logging.getLogger("gateway").setLevel(logging.CRITICAL)  # the gateway's own log of refusals is noise here
    unexpected = Unexpected()
    logging.getLogger("strawberry.execution").addHandler(unexpected)
    logging.getLogger("strawberry.execution").propagate = False
    world = generate_world(settings.courts, SeedConfig.load(settings.seed_file))
    cluster = SimulatorCluster(settings.courts, world)
    await cluster.start()
    await upgrade_async(settings.database_url)
    app = create_app(settings, graphiql=False)
    server, task, url = await serve_app(app)
    say(f"gateway on {url}, {len(settings.courts)} simulated backends, database {settings.database_url}")
    try:
        tokens = {role: mint(world, settings, login) if login else None for role, login in ROLES.items()}
        hidden = [c.base_url for c in settings.courts]
        report = await send_all(f"{url}/graphql", tokens, documents, hidden, concurrency=concurrency)
    finally:
        server.should_exit = True
        await task
        await cluster.stop()
    for line in report.lines():
        say(line)
    for where, n in unexpected.seen.most_common():
        say(f"gateway log, unexpected: {n:,} × {where}")
    report.save(out)
    failing = report.failing()
    if failing:
        say(f"{len(failing):,} failures, saved to {out}")
        return 1
    say("no failures")
    return 0


if __name__ == "__main__":
    tempfile.tempdir = tempfile.gettempdir()
    sys.exit(asyncio.run(main()))
