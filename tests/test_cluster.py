"""The short multi-replica run: three ``court-gateway serve`` processes behind HAProxy on PostgreSQL and
Redis, a replica SIGKILLed and a court taken down under mixed reads and writes (tests/cluster/harness.py).

The same assertions as ``make cluster-test`` with less traffic: no read failed beyond those under way on
the killed replica, no filing, signature or text lost or duplicated (counted at the courts, the SMS
provider and in the database), each court's feed read at one follower's rate, a write through one
replica seen through the others within a second. Skipped without haproxy, PostgreSQL or Redis.
"""

from __future__ import annotations

import os

import pytest

from tests.cluster.balancer import haproxy_binary
from tests.cluster.harness import SHORT, run

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
pytestmark = [
    pytest.mark.skipif(
        not (POSTGRES_URL and REDIS_URL),
        reason="GATEWAY_TEST_POSTGRES_URL and GATEWAY_TEST_REDIS_URL are not both set: cluster test skipped",
    ),
    pytest.mark.skipif(
        haproxy_binary() is None, reason="haproxy is not installed (apt-get install -y haproxy): cluster test skipped"
    ),
]


async def test_three_replicas_behind_haproxy_lose_and_double_nothing_through_a_kill_and_a_court_outage() -> None:
    assert POSTGRES_URL and REDIS_URL
    figures = await run(SHORT, POSTGRES_URL, REDIS_URL, say=lambda _: None)
    report = figures.report()
    print(report)
    assert figures.problems(coherence_limit_s=3.0) == [], report
    assert figures.failed_reads_otherwise == [] and figures.filings_lost == figures.filings_duplicated == []
    assert figures.filings_acked == figures.filings_at_courts > 0
    assert figures.signatures_acked == figures.signatures_at_courts > 0
    assert figures.sms_in_db == figures.sms_at_provider > 0
