"""The HTTP base every family adapter stands on: what talking HTTP to a court means, written once.

Like httpx's ``AsyncHTTPTransport`` (one pool, one map from its transport's exceptions to its own), this
module owns what does not depend on a family's wire format, so that a family module keeps only that
format (auth, session or token, encoding, signing, field mapping, pagination):

- ``HttpCourtAdapter``: the ``aiohttp.ClientSession`` of one backend, created lazily on the first call
  (inside the running loop), then reused for the adapter's, and so the app's, lifetime, and closed by
  ``aclose()``; its connector opens at most ``court.concurrency`` connections to the court, and its
  timeout follows one rule for every family (``client_timeout``);
- ``TRANSPORT_ERRORS``: the one map from transport failures to the typed court errors;
- ``gather_or_cancel``: concurrent calls, where the first failure stops the others;
- ``retry_after_seconds``: a ``Retry-After`` header, in either of its forms, as seconds.

Invariants: ``HttpCourtAdapter._exchange`` reads the whole body before the connection goes back to the
pool, and no aiohttp exception (nor a timeout) leaves it: only ``CourtTimeout`` or ``CourtUnavailable``,
naming the court. What an HTTP status or a body means stays the family's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
import orjson

from gateway.adapters.contract import CourtAdapter
from gateway.adapters.errors import CourtError, CourtTimeout, CourtUnavailable, NotFoundAtCourt
from gateway.config import CourtConfig

T = TypeVar("T")

#: the session's total timeout, in court deadlines: a safety net behind the resilience layer's deadline
SAFETY_TIMEOUT_FACTOR = 4

#: transport failure → (court error, what it means); the first match wins. aiohttp's own timeouts are
#: ClientErrors too, so timeouts come first; asyncio.TimeoutError is TimeoutError since Python 3.11.
TRANSPORT_ERRORS: tuple[tuple[type[Exception], type[CourtError], str], ...] = (
    (TimeoutError, CourtTimeout, "no answer in time"),
    (aiohttp.ClientConnectorError, CourtUnavailable, "cannot connect (refused or unreachable)"),
    (aiohttp.ServerDisconnectedError, CourtUnavailable, "the court closed the connection without an answer"),
    (aiohttp.ClientPayloadError, CourtUnavailable, "the answer was cut short"),
    (aiohttp.ClientError, CourtUnavailable, "HTTP failure"),
)
_TRANSPORT_FAILURES = tuple(caught for caught, _, _ in TRANSPORT_ERRORS)


def transport_error(court_code: str, what: str, failure: Exception) -> CourtError:
    """The court error a transport failure stands for (``TRANSPORT_ERRORS``); the failure's class is named,
    its text (addresses, ports, OS messages) is not passed on."""
    for caught, error, meaning in TRANSPORT_ERRORS:
        if isinstance(failure, caught):
            return error(court_code, f"{what}: {meaning} ({type(failure).__name__})")
    raise failure  # not a transport failure: not ours to translate


def client_timeout(court: CourtConfig) -> aiohttp.ClientTimeout:
    """The one timeout rule of every family: ``total`` = 4 × the court's deadline, ``sock_connect`` = 1 ×.

    The real per-call deadline is the resilience layer's (``ResilientAdapter``: one ``asyncio.timeout`` over
    every attempt and backoff); it must be the one that fires, so that a hung court answers COURT_TIMEOUT at
    its deadline and counts against its breaker. The session's timeout is only the net under a bare adapter
    (the contract suite, tools), so a court that accepts and never answers cannot hold it forever. Four
    deadlines leave the resilience deadline room and keep the net tied to the court's configuration (a
    fixed floor such as 10 s would let a bare adapter of a 0.8 s court wait twelve of its deadlines). A TCP
    connect still pending after a whole deadline cannot lead to an answer in time; it is ``sock_connect``,
    not ``connect``, so waiting for one of our own pooled connections is not mistaken for a dead court.
    """
    deadline_s = court.deadline_ms / 1000
    return aiohttp.ClientTimeout(total=SAFETY_TIMEOUT_FACTOR * deadline_s, sock_connect=deadline_s)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).

    None when the header is absent or unreadable; a date already past is 0.
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):  # not a date, or one without a zone
        return None


async def gather_or_cancel(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run the calls concurrently and return their results in order; on the first failure cancel the
    others, wait until they have stopped, and raise that failure.

    ``asyncio.gather`` alone leaves the others running (more load on a court that is already failing,
    connections held for answers nobody reads); ``asyncio.TaskGroup`` would raise an ExceptionGroup, where
    the contract promises one typed court error.
    """
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        pending = [task for task in tasks if not task.done()]  # none, unless one failed or we were cancelled
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A finished exchange, whatever its status: the body was read before the connection went back."""

    status: int
    content_type: str
    headers: Mapping[str, str]  # case-insensitive, as the court sent them
    body: bytes

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds (None when absent or unreadable)."""
        return retry_after_seconds(self.headers.get("Retry-After"))

    def json(self) -> Any:
        """The body as JSON, decoded with orjson (several times faster than ``json`` on a court's pages);
        raises ValueError when it is not JSON."""
        return orjson.loads(self.body)


class HttpCourtAdapter(CourtAdapter):
    """A court adapter that reaches its court over HTTP, through one session owned here.

    Subclasses send with ``_exchange`` and may add default headers (``_default_headers``); they never
    create a session or catch an aiohttp exception themselves.
    """

    def __init__(self, court: CourtConfig) -> None:
        super().__init__(court)
        self._base_url = court.base_url.rstrip("/")
        #: the open session: None before the first call and after ``aclose``
        self._session: aiohttp.ClientSession | None = None

    def _default_headers(self) -> Mapping[str, str]:
        """Headers sent with every request (a family's ``Accept``, its Basic credentials); read when the
        session opens."""
        return {}

    def _http(self) -> aiohttp.ClientSession:
        """The backend's one session, opened on first use (a session must be made inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=self.court.concurrency),
                timeout=client_timeout(self.court),
                headers=self._default_headers(),
            )
        return self._session

    async def _exchange(self, method: str, path: str, *, label: str | None = None, **kwargs: Any) -> HttpReply:
        """One request to ``base_url + path`` (``kwargs`` as aiohttp takes them), and its whole answer.

        Any status comes back as a reply; a transport failure is raised as the court error
        ``TRANSPORT_ERRORS`` maps it to, its message starting with ``label`` (default: method and path).
        """
        try:
            async with self._http().request(method, self._base_url + path, **kwargs) as response:
                return HttpReply(response.status, response.content_type, response.headers, await response.read())
        except _TRANSPORT_FAILURES as failure:
            raise transport_error(self.court.code, label or f"{method} {path}", failure) from None

    async def _each_found(self, ids: Sequence[str], get: Callable[[str], Awaitable[T]]) -> list[T]:
        """For a family without a batch get: one ``get`` per distinct id, at most ``court.concurrency`` at a
        time, answers in the order asked (an id asked twice, twice); ids the court does not know are left out."""
        unique = list(dict.fromkeys(ids))
        slots = asyncio.Semaphore(self.court.concurrency)

        async def one(item_id: str) -> T | None:
            async with slots:
                try:
                    return await get(item_id)
                except NotFoundAtCourt:
                    return None

        found = dict(zip(unique, await gather_or_cancel(one(i) for i in unique), strict=True))
        return [answer for answer in (found[i] for i in ids) if answer is not None]

    async def aclose(self) -> None:
        """Close the session (a later call would open a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
