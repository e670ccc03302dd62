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
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.adapters.model import Case, PersonRef
from gateway.cache import Cache
from gateway.config import Settings
from gateway.feeds.effects import people_of
from gateway.identity import mint_hs256
from gateway.schema.common import global_id
from gateway.store import Store
from gateway.store.filings import FilingRecord
from gateway.store.migrate import upgrade_async
from gateway.store.notifications import SmsMessage, SmsStatus
from gateway.store.signatures import SignatureRecord, SignatureStatus
from gateway.store.testing import postgres_schema
from simulators.cluster import SimulatorCluster
from simulators.csv_export import JOURNALS
from simulators.generator import SeedConfig, World, generate_world
from simulators.identities import demo_claims
from tests.cluster.balancer import HAProxy
from tests.cluster.load import CASE, DOCUMENT, MY_CASES, SIGN, Outcome, Traffic
from tests.cluster.replicas import Replica, logs_directory, replica_environment
from tests.conftest import _free_port

#: the court that goes down during the run (soap-gbk: the most fragile family)
OUTAGE_COURT = "粤0105"
READERS = ("lawyer-chen", "lawyer-li", "party-wang")
FILER, SIGNER = "lawyer-chen", "party-wang"
FILED_TITLE = "答辩状-"
SCRAPE_TOKEN = "cluster-test-scrape-token-" + "0" * 16
#: the series issue 12 names, each replica's /metrics must have them after the run
SERIES = (
    "gateway_graphql_operations_total",
    "gateway_graphql_operation_duration_seconds",
    "gateway_court_calls_total",
    "gateway_court_call_duration_seconds",
    "gateway_court_breaker_state",
    "gateway_feed_lag_seconds",
    "gateway_outbox_backlog",
    "gateway_outbox_oldest_age_seconds",
    "gateway_cache_hit_ratio",
    "gateway_rate_limited_total",
)
#: feed requests one poll makes, by family: a csv-export court has no feed but journals, each re-read
REQUESTS_PER_POLL = {"csv-export": len(JOURNALS)}


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


@dataclass
class Figures:
    haproxy: str = ""
    startup_s: float = 0.0
    load_s: float = 0.0
    drain_s: float = 0.0
    reads: Counter[str] = field(default_factory=Counter)  # by kind
    read_verdicts: Counter[str] = field(default_factory=Counter)
    reads_in_flight_at_kill: int = 0
    failed_reads_in_flight: int = 0
    failed_reads_otherwise: list[str] = field(default_factory=list)
    partial_details: Counter[str] = field(default_factory=Counter)
    read_p50_ms: float = 0.0
    read_p99_ms: float = 0.0
    write_attempts_failed: Counter[str] = field(default_factory=Counter)
    filings_acked: int = 0
    filings_in_db: int = 0
    filings_at_courts: int = 0
    filings_lost: list[str] = field(default_factory=list)
    filings_duplicated: list[str] = field(default_factory=list)
    filing_redeliveries: int = 0  # the same filing sent again with its key (the court kept one record)
    signatures_acked: int = 0
    signatures_in_db: int = 0
    signatures_at_courts: int = 0
    signatures_lost: list[str] = field(default_factory=list)
    signatures_duplicated: list[str] = field(default_factory=list)
    hearing_events: int = 0
    served_documents: int = 0
    sms_in_db: int = 0
    sms_at_provider: int = 0
    sms_lost: list[str] = field(default_factory=list)
    sms_duplicated: list[str] = field(default_factory=list)
    sms_resent_same_key: int = 0
    events_without_sms: list[str] = field(default_factory=list)
    feed_requests: dict[str, int] = field(default_factory=dict)
    feed_one_follower: float = 0.0  # polls one follower makes in the window
    #: each court's feed requests over what one follower makes in the window (2 would be two followers)
    feed_ratio: dict[str, float] = field(default_factory=dict)
    poll_s: float = 0.5
    feed_holders: dict[str, list[str]] = field(default_factory=dict)
    feeds_uncovered: list[str] = field(default_factory=list)
    feeds_shared: list[str] = field(default_factory=list)
    coherence_s: list[float] = field(default_factory=list)
    killed: str = ""
    killed_feeds: int = 0  # how many feeds the killed replica was following
    killed_back_in_rotation_s: float = 0.0
    court_outage_s: float = 0.0
    balancer: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: summed over the replicas' /metrics: operations by name and outcome, the downed court's calls by code
    operations: dict[str, int] = field(default_factory=dict)
    outage_court_calls: dict[str, int] = field(default_factory=dict)
    series_missing: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What broke a promise; empty when the run passed."""
        found = []
        if self.failed_reads_otherwise:
            found.append(f"{len(self.failed_reads_otherwise)} failed reads not in flight at the SIGKILL")
        for what, items in (
            ("filings lost", self.filings_lost),
            ("filings duplicated", self.filings_duplicated),
            ("signatures lost", self.signatures_lost),
            ("signatures duplicated", self.signatures_duplicated),
            ("texts lost", self.sms_lost),
            ("texts duplicated", self.sms_duplicated),
            ("feeds without a follower", self.feeds_uncovered),
            ("feeds followed twice", self.feeds_shared),
        ):
            if items:
                found.append(f"{what}: {items[:5]}")
        if self.filings_in_db != self.filings_acked or self.filings_at_courts != self.filings_acked:
            found.append(
                f"filings: {self.filings_acked} acked, {self.filings_in_db} in the DB, {self.filings_at_courts} at courts"
            )
        if self.signatures_in_db != self.signatures_acked or self.signatures_at_courts != self.signatures_acked:
            found.append(
                f"signatures: {self.signatures_acked} acked, {self.signatures_in_db} in the DB, "
                f"{self.signatures_at_courts} at courts"
            )
        if self.sms_in_db == 0 or self.hearing_events == 0:
            found.append("no texts: the run did not exercise the SMS outbox")
        doubled = {code: r for code, r in self.feed_ratio.items() if r > 1.5}
        if doubled:
            found.append(f"feeds read faster than one follower does: {doubled}")
        if any(n == 0 for n in self.feed_requests.values()):
            found.append("a court's feed was not read in the window")
        if not self.killed or not self.court_outage_s or not self.read_verdicts["partial"]:
            found.append("the faults did not happen as planned (a replica killed, a court down and noticed)")
        if self.events_without_sms:
            found.append(f"hearings scheduled that texted nobody: {self.events_without_sms[:5]}")
        if self.series_missing:
            found.append(f"series missing from /metrics: {self.series_missing}")
        if not self.outage_court_calls.get("COURT_UNAVAILABLE"):
            found.append(f"/metrics never counted {OUTAGE_COURT} as unavailable: {self.outage_court_calls}")
        slow = [s for s in self.coherence_s if s > 1.0]
        if slow or not self.coherence_s:
            found.append(f"writes seen through the other replicas after {slow or 'never'} s")
        return found

    def report(self) -> str:
        reads = sum(self.reads.values())
        lines = [
            f"cluster: 3 court-gateway replicas behind {self.haproxy}, PostgreSQL, Redis; "
            f"started in {self.startup_s:.1f} s, {self.load_s:.1f} s of traffic, outboxes drained in {self.drain_s:.1f} s",
            f"faults: replica {self.killed} (following {self.killed_feeds} feeds) SIGKILLed and started again (back in rotation {self.killed_back_in_rotation_s:.1f} s "
            f"after its restart); court {OUTAGE_COURT} down for {self.court_outage_s:.1f} s",
            f"reads: {reads} ({', '.join(f'{k} {v}' for k, v in sorted(self.reads.items()))}); "
            f"{self.read_verdicts['ok']} ok, {self.read_verdicts['partial']} partial (a court's error: "
            f"{dict(self.partial_details) or 'none'}), {self.read_verdicts['failed']} failed; "
            f"p50 {self.read_p50_ms:.0f} ms, p99 {self.read_p99_ms:.0f} ms",
            f"failed reads: {self.failed_reads_in_flight} of the {self.reads_in_flight_at_kill} in flight at the SIGKILL, "
            f"{len(self.failed_reads_otherwise)} otherwise",
            f"write attempts answered with an error and retried by the client: {dict(self.write_attempts_failed) or 0}",
            f"filings: {self.filings_acked} acknowledged, {self.filings_in_db} in the DB, {self.filings_at_courts} at the "
            f"courts; lost {len(self.filings_lost)}, duplicated {len(self.filings_duplicated)}; "
            f"re-sent with the same key {self.filing_redeliveries}",
            f"signatures: {self.signatures_acked} acknowledged ({self.served_documents} documents served), "
            f"{self.signatures_in_db} in the DB, {self.signatures_at_courts} at the courts; lost {len(self.signatures_lost)}, "
            f"duplicated {len(self.signatures_duplicated)}",
            f"texts: {self.sms_in_db} in the DB ({self.hearing_events} hearings scheduled, filings, service notices), "
            f"{self.sms_at_provider} at the provider; lost {len(self.sms_lost)}, duplicated {len(self.sms_duplicated)}, "
            f"re-sent with the same key {self.sms_resent_same_key}",
            f"feeds: requests per court in {self.feed_one_follower * self.poll_s:.0f} s (one follower: "
            f"{self.feed_one_follower:.0f} polls, a csv-export poll reads {len(JOURNALS)} journals): {self.feed_requests}; "
            f"ratio to one follower: min {min(self.feed_ratio.values(), default=0):.2f}, "
            f"max {max(self.feed_ratio.values(), default=0):.2f}",
            f"feed holders: {self.feed_holders}",
            f"coherence: a signature through one replica seen through the two others after "
            f"{', '.join(f'{s * 1000:.0f}' for s in self.coherence_s)} ms",
            f"/metrics (3 replicas summed): operations {self.operations}; {OUTAGE_COURT}'s court calls by code "
            f"{self.outage_court_calls}",
            "haproxy: " + "; ".join(f"{n} {s}" for n, s in sorted(self.balancer.items())),
        ]
        return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def person(world: World, login: str) -> PersonRef:
    p = world.demo[login]
    return PersonRef(p.kind, p.number)


class SmsSink:
    """The SMS provider's HTTP API: takes every message, remembers each delivery."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, str]] = []  # (messageId, phone, text)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.deliveries.append((str(body["messageId"]), str(body["phone"]), str(body["text"])))
        return web.json_response({"messageId": body["messageId"]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self._send)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = _free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/send"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


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
        async with stopping(*[r.stop for r in replicas], balancer.stop):
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
                await drain(database, plan, figures)
                figures.drain_s = time.monotonic() - drain_started
                tally_reads(traffic.outcomes, kill_at, figures)
                await tally_writes(database, sims, settings, traffic, sink, figures)
                await count_feed_requests(plan, sims, settings, replicas, figures)
                await probe_coherence(plan, sims, world, tokens, replicas, figures)
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


async def drain(database: str, plan: Plan, figures: Figures) -> None:
    """Wait until every filing, signature and text in the database was delivered."""
    deadline = time.monotonic() + plan.drain_s
    async with Store(database) as store:
        while True:
            async with store.session(read_only=True) as session:
                filings = await session.scalar(
                    select(func.count()).select_from(FilingRecord).where(FilingRecord.status == "SUBMITTED")
                )
                signatures = await session.scalar(
                    select(func.count())
                    .select_from(SignatureRecord)
                    .where(SignatureRecord.status == SignatureStatus.PENDING)
                )
                texts = await session.scalar(
                    select(func.count()).select_from(SmsMessage).where(SmsMessage.status != SmsStatus.SENT)
                )
            if not (filings or signatures or texts):
                return
            if time.monotonic() > deadline:
                figures.filings_lost.append(f"{filings} filings still undelivered after {plan.drain_s} s")
                figures.signatures_lost.append(f"{signatures} signatures still undelivered")
                figures.sms_lost.append(f"{texts} texts still unsent")
                return
            await asyncio.sleep(0.5)


def tally_reads(outcomes: list[Outcome], kill_at: float, figures: Figures) -> None:
    reads = [o for o in outcomes if o.kind in ("myCases", "case")]
    figures.reads = Counter(o.kind for o in reads)
    figures.read_verdicts = Counter(o.verdict for o in reads)
    figures.partial_details = Counter(o.detail for o in reads if o.verdict == "partial")
    in_flight = [o for o in reads if o.started < kill_at < o.ended]
    figures.reads_in_flight_at_kill = len(in_flight)
    failed = [o for o in reads if o.verdict == "failed"]
    figures.failed_reads_in_flight = sum(1 for o in failed if o.started < kill_at < o.ended)
    figures.failed_reads_otherwise = [
        f"{o.kind} at +{o.started - kill_at:.2f} s: {o.detail}" for o in failed if not o.started < kill_at < o.ended
    ]
    durations = [(o.ended - o.started) * 1000 for o in reads if o.verdict != "failed"]
    figures.read_p50_ms, figures.read_p99_ms = percentile(durations, 0.5), percentile(durations, 0.99)
    figures.write_attempts_failed = Counter(
        o.kind for o in outcomes if o.kind in ("filing", "sign") and o.verdict != "ok"
    )


async def tally_writes(
    database: str, sims: SimulatorCluster, settings: Settings, traffic: Traffic, sink: SmsSink, figures: Figures
) -> None:
    courts = [c.code for c in settings.courts if c.is_court]
    async with Store(database) as store, store.session(read_only=True) as session:
        filings = list(await session.scalars(select(FilingRecord)))
        signatures = list(await session.scalars(select(SignatureRecord)))
        texts = list(await session.scalars(select(SmsMessage)))
    # filings: one row per client key in the DB, one record per filing at its court
    figures.filings_acked = len(traffic.filings)
    figures.filings_in_db = len(filings)
    rows_by_key = Counter(f.idempotency_key for f in filings)
    at_courts = Counter(
        r.filing.title
        for code in courts
        for r in sims.court_state(code).filings.values()
        if r.filing.title.startswith(FILED_TITLE)
    )
    figures.filings_at_courts = sum(at_courts.values())
    figures.filing_redeliveries = sum(
        r.deliveries - 1 for code in courts for r in sims.court_state(code).filings.values()
    )
    delivered = {f.idempotency_key for f in filings if f.status in ("DELIVERED", "HANDLED")}
    for key, (_, title, _court) in traffic.filings.items():
        if key not in delivered or at_courts[title] == 0:
            figures.filings_lost.append(title)
        if rows_by_key[key] > 1 or at_courts[title] > 1:
            figures.filings_duplicated.append(title)
    # signatures: one row per document, delivered, and the court's record of it
    figures.signatures_acked = len(traffic.signatures)
    figures.signatures_in_db = len(signatures)
    rows_by_doc = Counter(s.document_id for s in signatures)
    court_signed = {doc for code in courts for doc in sims.court_state(code).signatures}
    figures.signatures_at_courts = sum(1 for doc in traffic.signatures if doc in court_signed)
    done = {s.document_id for s in signatures if s.status == SignatureStatus.DELIVERED}
    figures.signatures_lost = [d for d in traffic.signatures if d not in done or d not in court_signed]
    figures.signatures_duplicated = [d for d, n in rows_by_doc.items() if n > 1]
    # texts: every row at the provider under its key; no person texted the same words under two keys
    figures.sms_in_db = len(texts)
    received = Counter(message_id for message_id, _, _ in sink.deliveries)
    figures.sms_at_provider = len(received)
    figures.sms_resent_same_key = sum(n - 1 for n in received.values())
    figures.sms_lost = [f"sms-{t.id}" for t in texts if f"sms-{t.id}" not in received]
    by_words = Counter((phone, text) for _, phone, text in set(sink.deliveries))  # distinct keys per text
    figures.sms_duplicated = [f"…{phone[-4:]}: {text[:30]}" for (phone, text), n in by_words.items() if n > 1]
    known = {f"sms-{t.id}" for t in texts}
    figures.sms_lost += [f"{m} at the provider, not in the DB" for m in received if m not in known]
    keyed = {t.dedupe_key for t in texts}
    hearings = [
        f"event:{code}:{e.event_id}"
        for code in courts
        for e in sims.court_state(code).events
        if e.kind.value == "HEARING_SCHEDULED"
    ]
    figures.events_without_sms = [k for k in hearings if k not in keyed]


async def count_feed_requests(
    plan: Plan, sims: SimulatorCluster, settings: Settings, replicas: list[Replica], figures: Figures
) -> None:
    """Feed requests at each court over a quiet window, and which replica says it follows which feed."""
    courts = [c.code for c in settings.courts if c.is_court]
    before = {code: sims.court_state(code).counters["changes"] for code in courts}
    await asyncio.sleep(plan.follow_window_s)
    figures.feed_requests = {code: sims.court_state(code).counters["changes"] - before[code] for code in courts}
    figures.feed_one_follower = plan.follow_window_s / plan.poll_s
    figures.poll_s = plan.poll_s
    families = {c.code: c.family for c in settings.courts}
    figures.feed_ratio = {
        code: n / (figures.feed_one_follower * REQUESTS_PER_POLL.get(families[code], 1))
        for code, n in figures.feed_requests.items()
    }
    holders: dict[str, list[str]] = {}
    for replica in replicas:
        for code in (await replica.readiness()).get("following", []):
            holders.setdefault(code, []).append(replica.name)
    figures.feed_holders = {code: holders.get(code, []) for code in courts}
    figures.feeds_uncovered = [code for code in courts if not holders.get(code)]
    figures.feeds_shared = [code for code, names in holders.items() if len(names) > 1]


async def probe_coherence(
    plan: Plan, sims: SimulatorCluster, world: World, tokens: dict[str, str], replicas: list[Replica], figures: Figures
) -> None:
    """A signature through one replica, read through the two others (each with the unsigned document
    in its cache first): how long until both show it signed and delivered."""
    who = person(world, SIGNER)
    courts = ["粤01", "粤0104", "粤0115", "粤0106", "粤0113"]
    headers = {"Authorization": f"Bearer {tokens[SIGNER]}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def node(replica: Replica, gid: str) -> dict[str, Any] | None:
            body = {"query": DOCUMENT, "variables": {"id": gid}}
            async with session.post(f"{replica.url}/graphql", json=body) as r:
                found: dict[str, Any] | None = ((await r.json()).get("data") or {}).get("node")
                return found

        for n in range(plan.coherence_probes):
            code = next(c for c in courts[n % len(courts) :] + courts if sims.court_state(c).cases_of(who))
            case = sims.court_state(code).cases_of(who)[-1]
            doc = sims.desk(code).serve_document(case.case_id, who, f"coherence-{n}", "通知书")
            gid = global_id("ServedDocument", f"{doc.source_code}|{doc.document_id}")
            writer, *readers = replicas[n % 3 :] + replicas[: n % 3]
            for reader in readers:  # each has the document, unsigned, in the shared cache
                for _ in range(100):
                    seen = await node(reader, gid)
                    if seen is not None:
                        assert not seen["signed"]
                        break
                    await asyncio.sleep(0.1)
            async with session.post(f"{writer.url}/graphql", json={"query": SIGN, "variables": {"id": gid}}) as r:
                assert (await r.json())["data"]["signDocument"]["id"]
            signed_at = time.monotonic()
            pending = list(readers)
            while pending and time.monotonic() - signed_at < 5:
                for reader in list(pending):
                    seen = await node(reader, gid)
                    if seen and seen["signed"] and (seen["signature"] or {}).get("status") == "DELIVERED":
                        pending.remove(reader)
                if pending:
                    await asyncio.sleep(0.05)
            figures.coherence_s.append(time.monotonic() - signed_at if not pending else float("inf"))


async def scrape_metrics(settings: Settings, replicas: list[Replica], figures: Figures) -> None:
    """Each replica's /metrics (with the scrape token): the series are there, and what they counted."""
    slug = next(c.slug for c in settings.courts if c.code == OUTAGE_COURT)
    operations: Counter[str] = Counter()
    outage: Counter[str] = Counter()
    missing: set[str] = set()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}) as session:
        for replica in replicas:
            async with session.get(f"{replica.url}/metrics") as r:
                assert r.status == 200
                text = await r.text()
            families = {f.name: f for f in text_string_to_metric_families(text)}
            names = {s.name for f in families.values() for s in f.samples} | {f"{n}_total" for n in families}
            missing |= {name for name in SERIES if name not in names and name not in families}
            for family in families.values():
                for sample in family.samples:
                    if sample.name == "gateway_graphql_operations_total":
                        operations[f"{sample.labels['operation']} {sample.labels['outcome']}"] += int(sample.value)
                    if sample.name == "gateway_court_calls_total" and sample.labels["court"] == slug:
                        outage[sample.labels["code"]] += int(sample.value)
    figures.operations = dict(sorted(operations.items()))
    figures.outage_court_calls = dict(outage)
    figures.series_missing = sorted(missing)
