"""Schema-generated queries and mutations against a running gateway, as every kind of caller.

Documents come from the exported schema (``hypothesis-graphql``: one root field each, arguments of every
shape the schema allows, nulls, odd strings, negative numbers; ``Date``, ``DateTime`` and ``Upload`` as
strings, well-formed or not), seeded, so a run is reproducible. Each is sent over real HTTP, round robin as
one of six callers: anonymous, a party, a lawyer, a clerk, a court leader and an archive administrator.

A response fails when it is a 5xx or not JSON, when an error has no ``extensions.code``, when an error is
INTERNAL_SERVER_ERROR (the gateway masked something it did not expect: a bug, whose traceback is in its
log), or when the body leaks internals: tracebacks, source paths, SQL, exception class names, loopback
addresses or ports, the courts' hosts. Text the request itself contains does not count as a leak (errors
may quote a short, canonical part of the input).

Each failure is filed under a category (``edge-untyped-request-error``: the request never ran, a parse,
validation or variable error without a code).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import graphql
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

#: who calls: the demo login each role signs in as (None: no token)
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "party": "party-wang",
    "lawyer": "lawyer-chen",
    "clerk": "clerk-0104",
    "court-leader": "leader-0104",
    "archive-admin": "archivist-0104",
}
#: root fields no plain POST can exercise (subscriptions travel over WebSocket)
SKIPPED_FIELDS: frozenset[str] = frozenset()
#: one document in this many is generated with one deliberate schema violation
NEGATIVE_SHARE = 10

#: request-level errors (no path: the operation never ran) that carry no code yet: the GraphQL edge's

LEAKS = {
    "traceback": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
    "source-path": re.compile(r"(?:/[\w.-]+)+\.py\b|site-packages|\.venv/"),
    "sql": re.compile(
        r"\b(?:SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s.+\sSET|DELETE\s+FROM)\b|sqlalchemy|sqlite3|asyncpg|psycopg",
        re.IGNORECASE,
    ),
    "exception-class": re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b|\bNoneType\b|\bKeyError\b"),
    "loopback": re.compile(r"\b127\.0\.0\.1\b|\blocalhost\b|\b0\.0\.0\.0\b|\[::1\]"),
}
#: words of the public contract that look like exception class names (none today)
ALLOWED_WORDS: frozenset[str] = frozenset()


def string_node(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.StringValueNode]:
    return st.builds(graphql.StringValueNode, value=values)


def custom_scalars() -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Values for the schema's own scalars: well-formed mostly, garbage sometimes."""
    short_text = st.text(max_size=16)
    return {
        "Date": string_node(st.one_of(st.dates().map(str), short_text)),
        "DateTime": string_node(
            st.one_of(st.datetimes(timezones=st.just(None) | st.timezones()).map(lambda d: d.isoformat()), short_text)
        ),
        "Upload": string_node(short_text),
    }


def generate(schema: graphql.GraphQLSchema, kind: str, count: int, seed_value: int) -> list[str]:
    """``count`` documents of ``kind`` ("query" or "mutation"), one root field each; the same for the same
    seed. One in ``NEGATIVE_SHARE`` carries a schema violation (the edge must answer it typed too)."""
    root = schema.query_type if kind == "query" else schema.mutation_type
    assert root is not None
    build = queries if kind == "query" else mutations
    scalars = custom_scalars()
    names = [n for n in root.fields if n not in SKIPPED_FIELDS]
    positive = st.one_of([build(schema, fields=[n], custom_scalars=scalars) for n in names])
    negative = build(schema, fields=names, custom_scalars=scalars, mode=Mode.NEGATIVE)
    strategy = st.integers(0, NEGATIVE_SHARE - 1).flatmap(lambda i: negative if i == 0 else positive)
    found: list[str] = []
    rounds = 0
    while len(found) < count:

        @settings(
            max_examples=count - len(found),
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            deadline=None,
        )
        @seed(seed_value + rounds)
        @given(strategy)
        def collect(document: str) -> None:
            found.append(document)

        collect()
        rounds += 1
    return found[:count]


@dataclass(frozen=True, slots=True)
class Problem:
    category: str
    detail: str


def problems_of(status: int, text: str, document: str, hidden: Iterable[str]) -> list[Problem]:
    """What is wrong with one response (nothing, for a good one)."""
    found: list[Problem] = []
    if status >= 500:
        found.append(Problem("http-5xx", f"HTTP {status}"))
    try:
        body = json.loads(text)
    except ValueError:
        return [*found, Problem("not-json", text[:200])]
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        extensions = error.get("extensions") or {}
        code = extensions.get("code")
        if not code:
            where = "request" if error.get("path") is None else "field"
            found.append(
                Problem(
                    f"edge-untyped-{where}-error" if where == "request" else "untyped-field-error",
                    str(error.get("message"))[:200],
                )
            )
        elif code in ("INTERNAL_SERVER_ERROR", "INTERNAL"):
            found.append(Problem("internal", f"{error.get('path')}: {error.get('message')}"[:200]))
    for name, pattern in LEAKS.items():
        for match in pattern.finditer(text):
            if match.group(0) not in document and match.group(0) not in ALLOWED_WORDS:
                found.append(Problem(f"leak-{name}", _around(text, match.start(), match.end())))
                break
    for secret in hidden:
        if secret in text and secret not in document:
            found.append(Problem("leak-court-host", secret))
    return found


def _around(text: str, start: int, end: int) -> str:
    return text[max(0, start - 60) : end + 60]


@dataclass
class Report:
    """Figures of a run, and its failures (each with the offending document)."""

    requests: Counter[str] = field(default_factory=Counter)  # by kind
    by_role: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    unique_documents: int = 0
    seconds: float = 0.0

    def failing(self, tolerated: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        return [f for f in self.failures if f["category"] not in tolerated]

    def lines(self) -> list[str]:
        out = [
            f"{sum(self.requests.values()):,} requests in {self.seconds:.0f} s "
            f"({self.requests['query']:,} queries, {self.requests['mutation']:,} mutations; "
            f"{self.unique_documents:,} distinct documents)",
            "per role:   " + ", ".join(f"{r} {n:,}" for r, n in sorted(self.by_role.items())),
            "per status: " + ", ".join(f"{s} {n:,}" for s, n in sorted(self.by_status.items())),
            "error codes: " + ", ".join(f"{c} {n:,}" for c, n in self.by_code.most_common()),
            "failures:   "
            + (", ".join(f"{c} {n:,}" for c, n in self.by_category.most_common()) if self.by_category else "none"),
        ]
        return out

    def save(self, path: Path) -> None:
        """One JSON line per failure: role, kind, category, detail, status, the document and the response."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for failure in self.failures:
                f.write(json.dumps(failure, ensure_ascii=False) + "\n")


async def send_all(
    url: str,
    tokens: dict[str, str | None],
    documents: list[tuple[str, str]],
    hidden: Iterable[str],
    *,
    concurrency: int = 8,
) -> Report:
    """POST every (kind, document), round robin over the roles in ``tokens``; check every answer."""
    report = Report(unique_documents=len({d for _, d in documents}))
    roles = list(tokens)
    hidden = tuple(hidden)
    queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
    for i, (kind, document) in enumerate(documents):
        queue.put_nowait((i, kind, document))
    started = time.monotonic()

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i, kind, document = queue.get_nowait()
            role = roles[i % len(roles)]
            headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
            async with session.post(url, json={"query": document}, headers=headers) as response:
                status, text = response.status, await response.text()
            report.requests[kind] += 1
            report.by_role[role] += 1
            report.by_status[status] += 1
            try:
                for error in json.loads(text).get("errors") or []:
                    report.by_code[str((error.get("extensions") or {}).get("code", "-"))] += 1
            except (ValueError, AttributeError):
                pass
            for problem in problems_of(status, text, document, hidden):
                report.by_category[problem.category] += 1
                report.failures.append(
                    {
                        "role": role,
                        "kind": kind,
                        "category": problem.category,
                        "detail": problem.detail,
                        "status": status,
                        "query": document,
                        "response": text[:2000],
                    }
                )

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    report.seconds = time.monotonic() - started
    return report


def interleaved(queries_: list[str], mutations_: list[str]) -> list[tuple[str, str]]:
    """Mutations spread among the queries, so reads also meet what writes left behind."""
    out: list[tuple[str, str]] = [("query", q) for q in queries_]
    step = max(1, len(out) // max(1, len(mutations_)))
    for n, m in enumerate(mutations_):
        out.insert(min(len(out), n * (step + 1)), ("mutation", m))
    return out
