"""What one cluster run measured (:class:`Figures`), which promises it broke, and its printed report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from simulators.csv_export import JOURNALS

#: the court that goes down during the run (soap-gbk: the most fragile family)
OUTAGE_COURT = "粤0105"


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
    failed_in_flight_details: list[str] = field(default_factory=list)
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
    feed_window_s: float = 0.0
    #: lookups at the court for the hearings it scheduled in the quiet window (one each: one follower)
    event_lookups: int = 0
    events_in_window: int = 3
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

    def problems(self, coherence_limit_s: float = 1.0) -> list[str]:
        """What broke a promise; empty when the run passed. ``coherence_limit_s``: how late a write may be seen
        through the other replicas (the promise is a second; the short run inside ``make test`` allows more,
        as it shares a busy machine with the rest of the suite)."""
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
        if self.event_lookups != self.events_in_window:
            found.append(f"{self.events_in_window} court events cost {self.event_lookups} lookups at the court")
        if any(n == 0 for n in self.feed_requests.values()):
            found.append("a court's feed was not read in the window")
        if not self.killed or not self.court_outage_s:
            found.append("the faults did not happen as planned (a replica killed, a court down)")
        if self.events_without_sms:
            found.append(f"hearings scheduled that texted nobody: {self.events_without_sms[:5]}")
        if self.series_missing:
            found.append(f"series missing from /metrics: {self.series_missing}")
        if not self.outage_court_calls.get("COURT_UNAVAILABLE"):
            found.append(f"/metrics never counted {OUTAGE_COURT} as unavailable: {self.outage_court_calls}")
        slow = [s for s in self.coherence_s if s > coherence_limit_s]
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
            f"{len(self.failed_reads_otherwise)} otherwise"
            + (
                f" (the killed replica's: {', '.join(self.failed_in_flight_details)})"
                if self.failed_in_flight_details
                else ""
            ),
            f"write attempts answered with an error and retried by the client (same key): "
            f"{dict(self.write_attempts_failed) or 0}",
            f"filings: {self.filings_acked} acknowledged, {self.filings_in_db} in the DB, {self.filings_at_courts} at the "
            f"courts; lost {len(self.filings_lost)}, duplicated {len(self.filings_duplicated)}; "
            f"re-sent with the same key {self.filing_redeliveries}",
            f"signatures: {self.signatures_acked} acknowledged ({self.served_documents} documents served), "
            f"{self.signatures_in_db} in the DB, {self.signatures_at_courts} at the courts; lost {len(self.signatures_lost)}, "
            f"duplicated {len(self.signatures_duplicated)}",
            f"texts: {self.sms_in_db} in the DB ({self.hearing_events} hearings scheduled, filings, service notices), "
            f"{self.sms_at_provider} at the provider; lost {len(self.sms_lost)}, duplicated {len(self.sms_duplicated)}, "
            f"re-sent with the same key {self.sms_resent_same_key}",
            f"feeds: requests per court in {self.feed_window_s:.1f} s (one follower: "
            f"{self.feed_one_follower:.0f} polls, a csv-export poll reads {len(JOURNALS)} journals): {self.feed_requests}; "
            f"ratio to one follower: min {min(self.feed_ratio.values(), default=0):.2f}, "
            f"max {max(self.feed_ratio.values(), default=0):.2f}",
            f"feed holders: {self.feed_holders}",
            f"court events: {self.events_in_window} hearings scheduled in the window cost {self.event_lookups} case "
            "lookups at the court (one set of court calls per event, 3 replicas)",
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
