"""``make cluster-test``: the full run of :mod:`tests.cluster.harness`, its figures, exit 1 on a broken promise.

Needs ``haproxy`` (Debian's package), ``GATEWAY_TEST_POSTGRES_URL`` (a role that may create roles and
schemas) and ``GATEWAY_TEST_REDIS_URL``. ``CLUSTER_SHORT=1`` runs the short plan of ``make test``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from tests.cluster.balancer import haproxy_binary
from tests.cluster.harness import FULL, SHORT, run


def main() -> int:
    postgres = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    redis = os.environ.get("GATEWAY_TEST_REDIS_URL")
    if not (postgres and redis and haproxy_binary()):
        print("cluster-test needs haproxy, GATEWAY_TEST_POSTGRES_URL and GATEWAY_TEST_REDIS_URL", file=sys.stderr)
        return 2
    plan = SHORT if os.environ.get("CLUSTER_SHORT") else FULL
    figures = asyncio.run(run(plan, postgres, redis))
    print(figures.report())
    problems = figures.problems()
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if not problems:
        print("cluster: passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
