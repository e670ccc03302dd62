"""After the traffic: the outboxes drained, then every count the run's verdict rests on.

Each check reads the parties' own records: the courts' (filings, signatures, feed requests), the SMS
provider's, the database's, each replica's ``/readyz`` and ``/metrics``; none trusts what the client was
told alone.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.adapters.model import PersonRef
from gateway.config import Settings
from gateway.feeds.effects import people_of
from gateway.schema.common import global_id
from gateway.store import Store
from gateway.store.filings import FilingRecord
from gateway.store.notifications import SmsMessage, SmsStatus
from gateway.store.signatures import SignatureRecord, SignatureStatus
from simulators.cluster import SimulatorCluster
from simulators.csv_export import JOURNALS
from simulators.generator import World
from tests.cluster.figures import OUTAGE_COURT, Figures, percentile
from tests.cluster.load import DOCUMENT, SIGN, Outcome, Traffic
from tests.cluster.replicas import Replica
from tests.cluster.sms import SmsSink

#: who signs what the courts serve during the run
SIGNER = "party-wang"
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
#: the court whose events are counted in the quiet window, and how many it makes there
EVENT_COURT = "粤0104"
EVENTS_IN_WINDOW = 3
#: feed requests one poll makes, by family: a csv-export court has no feed but journals, each re-read
REQUESTS_PER_POLL = {"csv-export": len(JOURNALS)}


def person(world: World, login: str) -> PersonRef:
    p = world.demo[login]
    return PersonRef(p.kind, p.number)


def hearing_keys(sims: SimulatorCluster, courts: list[str]) -> list[str]:
    """The texts' dedupe keys the courts' hearing events must each have produced (one set per event)."""
    return [
        f"event:{code}:{e.event_id}"
        for code in courts
        for e in sims.court_state(code).events
        if e.kind.value == "HEARING_SCHEDULED"
    ]


async def drain(database: str, seconds: float, figures: Figures, hearings: Callable[[], list[str]]) -> None:
    """Wait until every filing, signature and text in the database was delivered, and every hearing the
    courts scheduled was followed into texts (a court that was down is read once its breaker lets it)."""
    deadline = time.monotonic() + seconds
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
                keyed = set(await session.scalars(select(SmsMessage.dedupe_key)))
            unfollowed = [k for k in hearings() if k not in keyed]
            if not (filings or signatures or texts or unfollowed):
                return
            if time.monotonic() > deadline:
                figures.filings_lost.append(f"{filings} filings still undelivered after {seconds} s")
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
    figures.failed_in_flight_details = sorted({o.detail for o in failed if o.started < kill_at < o.ended})
    figures.failed_reads_otherwise = [
        f"{o.kind} at +{o.started - kill_at:.2f} s: {o.detail}" for o in failed if not o.started < kill_at < o.ended
    ]
    durations = [(o.ended - o.started) * 1000 for o in reads if o.verdict != "failed"]
    figures.read_p50_ms, figures.read_p99_ms = percentile(durations, 0.5), percentile(durations, 0.99)
    figures.write_attempts_failed = Counter(
        f"{o.kind} {o.detail}" for o in outcomes if o.kind in ("filing", "sign") and o.verdict != "ok"
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
    figures.events_without_sms = [k for k in hearing_keys(sims, courts) if k not in keyed]


async def count_feed_requests(
    window_s: float,
    poll_s: float,
    sims: SimulatorCluster,
    settings: Settings,
    replicas: list[Replica],
    figures: Figures,
) -> None:
    """Feed requests at each court over a quiet window, and which replica says it follows which feed.

    Meanwhile one court schedules :data:`EVENTS_IN_WINDOW` hearings: each is looked up at the court
    (``find_case``) by the one follower of its feed, so the court sees that many lookups, not one per replica.
    """
    courts = [c.code for c in settings.courts if c.is_court]
    began = time.monotonic()
    before = {code: sims.court_state(code).counters["changes"] for code in courts}
    state = sims.court_state(EVENT_COURT)
    lookups = state.counters["find_case"]
    texted = [c for c in state.all_cases() if any(r.phone for _, r in people_of(c))]
    for n in range(EVENTS_IN_WINDOW):
        starts = state.now().replace(second=0) + timedelta(days=60, minutes=n)
        sims.desk(EVENT_COURT).schedule_hearing(texted[-1 - n].case_id, starts, room="第9法庭")
        await asyncio.sleep(window_s / EVENTS_IN_WINDOW)
    await asyncio.sleep(poll_s * 2)  # the last event's poll
    figures.feed_requests = {code: sims.court_state(code).counters["changes"] - before[code] for code in courts}
    figures.event_lookups = state.counters["find_case"] - lookups
    figures.feed_window_s = time.monotonic() - began
    figures.feed_one_follower = figures.feed_window_s / poll_s
    families = {c.code: c.family for c in settings.courts}

    def one_follower(code: str) -> float:
        """Its polls, plus one read more after each poll that found events (it reads on to the end)."""
        polls = figures.feed_one_follower + (EVENTS_IN_WINDOW if code == EVENT_COURT else 0)
        return polls * REQUESTS_PER_POLL.get(families[code], 1)

    figures.feed_ratio = {code: n / one_follower(code) for code, n in figures.feed_requests.items()}
    holders: dict[str, list[str]] = {}
    for replica in replicas:
        for code in (await replica.readiness()).get("following", []):
            holders.setdefault(code, []).append(replica.name)
    figures.feed_holders = {code: holders.get(code, []) for code in courts}
    figures.feeds_uncovered = [code for code in courts if not holders.get(code)]
    figures.feeds_shared = [code for code, names in holders.items() if len(names) > 1]


async def probe_coherence(
    probes: int,
    sims: SimulatorCluster,
    world: World,
    tokens: dict[str, str],
    replicas: list[Replica],
    figures: Figures,
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

        for n in range(probes):
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
