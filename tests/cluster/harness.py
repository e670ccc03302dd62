"""Three gateway replicas behind HAProxy on PostgreSQL and Redis, under mixed traffic and faults.

One run (:func:`run`) starts the simulated courts and an SMS provider in this process, a fresh
PostgreSQL schema (migrated as the deploy's separate step does), three ``court-gateway serve``
processes and HAProxy; it sends reads (``myCases``, ``case``) and writes (filings, signatures) through
HAProxy while the courts' staff serve documents and schedule hearings (events whose notices are texts);
meanwhile one replica is SIGKILLed and started again and one court goes down and comes back. Then it
waits for the outboxes to drain and checks, from the courts' and the SMS provider's own records and the
database:

- no read failed except those under way on the killed replica when it died;
- every filing and signature the client was told was stored is at its court exactly once, and in the
  database once; every text in the database reached the provider, none twice under different ids;
- each court's feed was read at one follower's rate (counted at the courts) and the replicas hold
  disjoint sets of feeds covering every court;
- a signature written through one replica is seen through the two others within a second.

:class:`Figures` holds what it measured; ``python -m tests.cluster`` prints them (``make cluster-test``).
Everything listens on loopback; every process it starts is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from gateway.adapters.model import Case
from gateway.cache import Cache
from gateway.config import Settings
from gateway.feeds.effects import people_of
from gateway.identity import mint_hs256
from gateway.schema.common import global_id
from gateway.store.migrate import upgrade_async
from gateway.store.testing import postgres_schema
from simulators.cluster import SimulatorCluster
from simulators.generator import SeedConfig, World, generate_world
from simulators.identities import demo_claims
from tests.cluster.balancer import HAProxy
from tests.cluster.checks import (
    SCRAPE_TOKEN,
    SIGNER,
    count_feed_requests,
    drain,
    hearing_keys,
    person,
    probe_coherence,
    scrape_metrics,
    tally_reads,
    tally_writes,
)
from tests.cluster.figures import OUTAGE_COURT, Figures
from tests.cluster.load import CASE, MY_CASES, Traffic
from tests.cluster.replicas import Replica, logs_directory, replica_environment, stop_all
from tests.cluster.sms import SmsSink
from tests.conftest import _free_port

READERS = ("lawyer-chen", "lawyer-li", "party-wang")
FILER = "lawyer-chen"


@dataclass(frozen=True)
class Plan:
    load_s: float  # how long traffic runs
    readers: int  # concurrent reading clients
    filing_every_s: float
    serve_every_s: float  # a court serves a document (then the addressee signs it)
    hearing_every_s: float  # a court schedules a hearing (texts to the case's people)
    follow_window_s: float  # how long feed requests are counted
    coherence_probes: int
    drain_s: float  # the longest the outboxes may take to empty afterwards
    poll_s: float = 0.5  # GATEWAY_CHANGE_POLL_S


FULL = Plan(40, 6, 0.4, 0.8, 0.6, 6.0, 5, 60.0)
SHORT = Plan(12, 3, 0.8, 1.6, 1.0, 3.0, 2, 30.0)


def courts_settings() -> Settings:
    """The configured courts on free loopback ports, with deadlines a busy two-core machine meets."""
    base = Settings()
    overrides = {c.slug: {"base_url": f"http://127.0.0.1:{_free_port()}", "deadline_ms": 3000} for c in base.courts}
    return Settings(court_overrides=overrides)


@contextlib.asynccontextmanager
async def stopping(*stops: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for stop in stops:
            with contextlib.suppress(Exception):
                result = stop()
                if asyncio.iscoroutine(result):
                    await result


async def run(plan: Plan, postgres_url: str, redis_url: str, *, say: Any = print) -> Figures:
    figures = Figures()
    settings = courts_settings()
    world = generate_world(settings.courts, SeedConfig.load(settings.seed_file))
    tokens = {
        login: mint_hs256(demo_claims(world, settings.seed_file, login), settings.jwt_hs256_secret)
        for login in world.demo
    }
    sims = SimulatorCluster(settings.courts, world)
    sink = SmsSink()
    started = time.monotonic()
    await sims.start()
    await sink.start()
    async with stopping(sims.stop, sink.stop), postgres_schema(postgres_url) as database:
        await upgrade_async(database)  # the deploy's separate step (`court-gateway migrate`)
        cache = Cache(redis_url)
        for court in settings.courts:  # retire whatever an earlier run left in this Redis database
            await cache.bump(court.code)
        await cache.close()
        env = replica_environment(
            settings,
            {
                "GATEWAY_DATABASE_URL": database,
                "GATEWAY_CACHE_URL": redis_url,
                "GATEWAY_CHANGE_POLL_S": str(plan.poll_s),
                # cached answers live 5 s (not 30): more reads reach the courts, the downed one too
                "GATEWAY_CACHE_TTL_S": "5",
                "GATEWAY_WORKER_INTERVAL_S": "0.5",
                "GATEWAY_SMS_PROVIDER": "http",
                "GATEWAY_SMS_HTTP_URL": sink.url,
                "GATEWAY_SMS_RATE_LIMIT": "1000",
                "GATEWAY_SMS_RETRY_BASE_S": "0.5",
                "GATEWAY_SMS_RETRY_MAX_S": "2",
                "GATEWAY_FILING_RETRY_BASE_S": "0.5",
                "GATEWAY_FILING_RETRY_CAP_S": "2",
                # a delivery the SIGKILL cut short is retried by another replica after its claim's lease
                "GATEWAY_FILING_CLAIM_LEASE_S": "5",
                "GATEWAY_OUTBOX_CLAIM_LEASE_S": "5",
                "GATEWAY_SMS_HTTP_TIMEOUT_S": "1",
                "GATEWAY_SIGNATURE_RETRY_BASE_S": "0.5",
                "GATEWAY_SIGNATURE_RETRY_CAP_S": "2",
                "GATEWAY_METRICS_TOKEN": SCRAPE_TOKEN,
                "GATEWAY_RATE_LIMIT_PER_S": "1000",
                "GATEWAY_RATE_LIMIT_BURST": "1000",
            },
        )
        logs = logs_directory()
        replicas = [Replica(f"r{i + 1}", _free_port(), env, logs) for i in range(3)]
        balancer = HAProxy(_free_port(), _free_port(), [(r.name, r.port) for r in replicas])
        figures.haproxy = balancer.version()
        for replica in replicas:
            replica.start()
        async with stopping(lambda: stop_all(replicas), balancer.stop):
            await asyncio.gather(*(r.ready(90) for r in replicas))
            balancer.start()
            for _ in range(300):
                if len(await balancer.in_rotation()) == 3:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("HAProxy did not put the three replicas in rotation within 30 s")
            figures.startup_s = time.monotonic() - started
            say(f"cluster: ready in {figures.startup_s:.1f} s; logs in {logs}")
            traffic = Traffic(balancer.url, tokens)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
                traffic.session = session
                kill_at = await load(plan, sims, world, settings, traffic, replicas, balancer, figures)
                drain_started = time.monotonic()
                courts = [c.code for c in settings.courts if c.is_court]
                await drain(database, plan.drain_s, figures, lambda: hearing_keys(sims, courts))
                figures.drain_s = time.monotonic() - drain_started
                tally_reads(traffic.outcomes, kill_at, figures)
                await tally_writes(database, sims, settings, traffic, sink, figures)
                await count_feed_requests(plan.follow_window_s, plan.poll_s, sims, settings, replicas, figures)
                await probe_coherence(plan.coherence_probes, sims, world, tokens, replicas, figures)
                await scrape_metrics(settings, replicas, figures)
                figures.balancer = {
                    n: {
                        "requests": s.sessions,
                        "redispatched": s.redispatches,
                        "retries": s.retries,
                        "errors": s.errors,
                    }
                    for n, s in (await balancer.servers()).items()
                }
    return figures


async def load(
    plan: Plan,
    sims: SimulatorCluster,
    world: World,
    settings: Settings,
    traffic: Traffic,
    replicas: list[Replica],
    balancer: HAProxy,
    figures: Figures,
) -> float:
    """Traffic and faults for ``plan.load_s``; returns when (loop clock) the replica was killed."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    stop = asyncio.Event()
    courts = [c.code for c in settings.courts if c.is_court]
    rng = random.Random(12)
    reads_of = {
        login: [c.case_number for code in courts for c in sims.court_state(code).cases_of(person(world, login))]
        for login in READERS
    }

    async def reader(n: int) -> None:
        logins = itertools.cycle(READERS[n % len(READERS) :] + READERS[: n % len(READERS)])
        while not stop.is_set():
            login = next(logins)
            if rng.random() < 0.6:
                await traffic.read("myCases", MY_CASES, {}, login)
            else:
                await traffic.read("case", CASE, {"n": rng.choice(reads_of[login])}, login)

    writes: list[asyncio.Task[None]] = []

    async def filer() -> None:
        cases = [
            (c.case_number, code) for code in courts for c in sims.court_state(code).cases_of(person(world, FILER))
        ]
        for case_number, code in itertools.cycle(cases):
            if stop.is_set():
                return
            writes.append(asyncio.create_task(traffic.file(FILER, case_number, code)))
            await asyncio.sleep(plan.filing_every_s)

    async def server() -> None:
        who = person(world, SIGNER)
        cases = [(code, c) for code in courts for c in sims.court_state(code).cases_of(who)]
        for n, (code, case) in enumerate(itertools.cycle(cases)):
            if stop.is_set():
                return
            doc = sims.desk(code).serve_document(case.case_id, who, f"举证通知书{n:04d}", "通知书")
            figures.served_documents += 1
            gid = global_id("ServedDocument", f"{doc.source_code}|{doc.document_id}")
            writes.append(asyncio.create_task(traffic.sign(SIGNER, doc.document_id, gid)))
            await asyncio.sleep(plan.serve_every_s)

    async def scheduler() -> None:
        """Hearings on cases with someone to text, so each event must end in texts."""
        n = 0
        while not stop.is_set():
            code = courts[n % len(courts)]
            state = sims.court_state(code)
            texted = [c for c in state.all_cases() if any(r.phone for _, r in people_of(c))]
            case: Case = texted[n // len(courts) % len(texted)]
            starts = state.now().replace(second=0) + timedelta(days=30, minutes=n)
            sims.desk(code).schedule_hearing(case.case_id, starts, room=f"第{n % 9 + 1}法庭")
            figures.hearing_events += 1
            n += 1
            await asyncio.sleep(plan.hearing_every_s)

    async def kill_a_replica() -> float:
        """SIGKILL the replica following the most feeds (its leases must be taken over), then start it again."""
        await asyncio.sleep(plan.load_s * 0.2)
        following = [len((await r.readiness()).get("following", [])) for r in replicas]
        victim = replicas[following.index(max(following))]
        figures.killed = victim.name
        figures.killed_feeds = max(following)
        kill_at = loop.time()
        victim.kill()
        await asyncio.sleep(plan.load_s * 0.1)
        victim.start()
        restarted = loop.time()
        await victim.ready(60)
        for _ in range(200):
            if victim.name in await balancer.in_rotation():
                break
            await asyncio.sleep(0.05)
        figures.killed_back_in_rotation_s = loop.time() - restarted
        return kill_at

    async def take_a_court_down() -> None:
        await asyncio.sleep(plan.load_s * 0.5)
        down = loop.time()
        await sims.set_outage(OUTAGE_COURT, True)
        await asyncio.sleep(plan.load_s * 0.25)
        await sims.set_outage(OUTAGE_COURT, False)
        figures.court_outage_s = loop.time() - down

    tasks = [asyncio.create_task(reader(n)) for n in range(plan.readers)]
    tasks += [asyncio.create_task(t()) for t in (filer, server, scheduler)]
    killing = asyncio.create_task(kill_a_replica())
    outage = asyncio.create_task(take_a_court_down())
    await asyncio.sleep(plan.load_s)
    kill_at = await killing
    await outage
    stop.set()
    await asyncio.gather(*tasks)
    await asyncio.gather(*writes)
    figures.load_s = loop.time() - begin
    return kill_at
