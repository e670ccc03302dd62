"""The one hook around every court call (``ResilientAdapter._call``): a span, two series, a note.

Each contract call, retries included, is one span ``court <operation>`` (a child of the request's span
when a trace is active; the HTTP attempts made by aiohttp are its children), one count in
``gateway_court_calls_total`` by its outcome's code and one latency observation, one in the court's
last-minutes ring (``recent``, for the ops page); the request's record notes the court (and its error
code) for the access line. A call failed fast by an open breaker counts
too: it is what the caller saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from gateway.adapters.errors import CourtError
from gateway.observability import metrics, recent, record

OK = "OK"
#: the caller went away (its own deadline, a client that disconnected): no verdict on the court
CANCELLED = "CANCELLED"
#: anything that is not a court error: a bug, an unreadable answer
INTERNAL = "INTERNAL_ERROR"

_tracer = trace.get_tracer("gateway.courts")


@contextlib.contextmanager
def court_call(court: str, operation: str) -> Iterator[None]:
    """Observe one contract call to ``court`` (its slug). Exceptions pass through untouched."""
    started = time.perf_counter()
    code = OK
    with _tracer.start_as_current_span(
        f"court {operation}",
        kind=SpanKind.INTERNAL,
        attributes={"gateway.court": court, "gateway.court.operation": operation},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except asyncio.CancelledError:
            code = CANCELLED
            raise
        except BaseException as error:
            code = error.code if isinstance(error, CourtError) else INTERNAL
            span.set_status(Status(StatusCode.ERROR, code))
            raise
        finally:
            span.set_attribute("gateway.court.code", code)
            metrics.COURT_CALLS.labels(court, operation, code).inc()
            elapsed = time.perf_counter() - started
            metrics.COURT_LATENCY.labels(court, operation).observe(elapsed)
            if code != CANCELLED:
                recent.RECENT.observe(court, ok=code == OK, seconds=elapsed)
            record.note_court(court, None if code in (OK, CANCELLED) else code)
