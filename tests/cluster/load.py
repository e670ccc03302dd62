"""The traffic sent through the balancer: readers, filers, signers, and what each request came to.

Every request is timed (``started``, ``ended`` on the event loop's clock), so the checks can tell a read
that was under way on the replica when it was killed from one that was not. A read *failed* when it got
no GraphQL answer (a transport error, a non-200 status) or an error that is not a court's (a court that is
down makes an answer partial: that is counted apart, as ``partial``). Writes are retried by the client
with the same idempotency key until they are answered, as the API tells clients to.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

MY_CASES = "query MyCases { myCases(first: 20) { totalCount edges { node { caseNumber courtCode status } } } }"
CASE = "query Case($n: String!) { case(caseNumber: $n) { caseNumber courtCode status hearings { startsAt room } } }"
SUBMIT = """
mutation SubmitFiling($n: String!, $title: String!, $files: [Upload!]!, $key: String!) {
  submitFiling(caseNumber: $n, kind: DEFENCE_STATEMENT, title: $title, files: $files, idempotencyKey: $key) {
    id status
  }
}"""
SIGN = "mutation SignDocument($id: ID!) { signDocument(documentId: $id) { id status } }"
DOCUMENT = """
query ($id: ID!) {
  node(id: $id) { ... on ServedDocument { id signed deliveries { sourceCode signedAt } signature { status } } }
}"""
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
COURT_CODES = frozenset({"COURT_UNAVAILABLE", "COURT_TIMEOUT", "COURT_RATE_LIMITED", "COURT_AUTH_FAILED"})


@dataclass
class Outcome:
    kind: str  # myCases, case, filing, sign
    started: float
    ended: float
    verdict: str  # ok, partial, failed
    detail: str = ""


@dataclass
class Traffic:
    """What was sent and how it went, shared by every task of one run."""

    url: str
    tokens: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    #: client idempotency key → (filing id, title, court): every filing the client was told was stored
    filings: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: served document id (court's) → signature id, for every signature the client was told was recorded
    signatures: dict[str, str] = field(default_factory=dict)
    write_retries: Counter[str] = field(default_factory=Counter)
    session: aiohttp.ClientSession | None = None

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    async def post(self, body: Any, login: str, *, form: aiohttp.FormData | None = None) -> tuple[int, Any]:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {self.tokens[login]}"}
        kwargs: dict[str, Any] = {"data": form} if form is not None else {"json": body}
        async with self.session.post(f"{self.url}/graphql", headers=headers, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def read(self, kind: str, query: str, variables: dict[str, Any], login: str) -> Outcome:
        started = self.clock()
        try:
            status, body = await self.post({"query": query, "variables": variables}, login)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as e:
            outcome = Outcome(kind, started, self.clock(), "failed", type(e).__name__)
        else:
            outcome = Outcome(kind, started, self.clock(), *judge(status, body))
        self.outcomes.append(outcome)
        return outcome

    async def file(self, login: str, case_number: str, court: str) -> None:
        """One filing, retried with its idempotency key until the gateway says it is stored."""
        key = uuid.uuid4().hex
        title = f"答辩状-{key[:10]}"
        variables = {"n": case_number, "title": title, "key": key, "files": [None]}

        async def send() -> tuple[int, Any]:
            form = aiohttp.FormData()
            form.add_field("operations", json.dumps({"query": SUBMIT, "variables": variables}))
            form.add_field("map", json.dumps({"0": ["variables.files.0"]}))
            form.add_field("0", PDF, filename="defence.pdf", content_type="application/pdf")
            return await self.post(None, login, form=form)

        filing = await self.until_answered("filing", "submitFiling", send, attempts=60)
        self.filings[key] = (filing["id"], title, court)

    async def sign(self, login: str, document_id: str, global_id: str) -> None:
        """Sign one served document, retried until recorded (the gateway may not have seen the court
        serve it yet: the court's feed says so within a poll)."""

        async def send() -> tuple[int, Any]:
            return await self.post({"query": SIGN, "variables": {"id": global_id}}, login)

        signed = await self.until_answered("sign", "signDocument", send, attempts=80)
        self.signatures[document_id] = signed["id"]

    async def until_answered(
        self, kind: str, field: str, send: Callable[[], Awaitable[tuple[int, Any]]], *, attempts: int
    ) -> dict[str, Any]:
        """``send`` again (the same write, the same key) until the answer has ``data.<field>``."""
        detail = ""
        for attempt in range(attempts):
            started = self.clock()
            try:
                status, body = await send()
                verdict, detail = judge(status, body)
                answer = (body.get("data") or {}).get(field) if isinstance(body, dict) else None
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as e:
                verdict, detail, answer = "failed", type(e).__name__, None
            self.outcomes.append(Outcome(kind, started, self.clock(), verdict, detail))
            if answer:
                return dict(answer)
            self.write_retries[kind] += 1
            await asyncio.sleep(0.25 * min(attempt + 1, 4))
        raise AssertionError(f"{kind} never answered after {attempts} attempts: {detail}")


def judge(status: int, body: Any) -> tuple[str, str]:
    """``ok``, ``partial`` (only courts' errors) or ``failed``, with the error codes seen."""
    if status != 200 or not isinstance(body, dict) or body.get("data") is None:
        codes = error_codes(body)
        if codes and set(codes) <= COURT_CODES:
            return "partial", ",".join(sorted(set(codes)))
        return "failed", f"HTTP {status} {','.join(codes)}"
    codes = error_codes(body)
    if not codes:
        return "ok", ""
    if set(codes) <= COURT_CODES:
        return "partial", ",".join(sorted(set(codes)))
    return "failed", ",".join(sorted(set(codes)))


def error_codes(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    return [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]
