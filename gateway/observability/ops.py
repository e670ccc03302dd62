"""``/ops``: one plain HTML page telling the court's operators how every court and queue is doing.

Who may read it: exactly who may read ``/metrics`` (``exposition.operator_refusal``): an OPERATOR's
bearer token, or the scrape token, in the ``Authorization`` header. Never in the URL (it would land in
access logs, proxies and browser history) and never as a cookie: operators open the page through the
authenticating proxy in front of the gateway, or with a browser extension that sets the header.

What it shows is read when asked, nothing is stored: per court, its health and breaker state; the
calls, error share, mean and slowest latency of the last few minutes (``recent``: this process's ring of
per-minute counters, every call's latency, failures included); the calls, error share and latency this
process has seen since it started (``ResilientAdapter.health``: latency is a moving average over
successful attempts); the lag of its change feed (feeds this process
follows only), and its unsettled 12368 tickets and case bindings past their deadline; then each
outbox's backlog and the age of its oldest row, and a warning for every year whose deadlines were
computed without a published holiday schedule (``WorkingCalendar.unpublished_years``).

Invariants: every value is HTML-escaped; the page runs no script and loads nothing (its
Content-Security-Policy forbids both) and refreshes itself every ``REFRESH_S`` seconds; a store that
does not answer (within ``STORE_TIMEOUT_S``) marks its sections unavailable, and the page still renders.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gateway.adapters.resilience import CourtHealth
from gateway.bindings.service import SUBJECT as BINDING
from gateway.core import deadlines
from gateway.core.outbox import Outbox
from gateway.feeds.follower import ChangeFollower
from gateway.observability.exposition import Authenticate, Backlog, backlogs, operator_refusal
from gateway.observability.recent import RECENT, WINDOW_MINUTES, Recent
from gateway.tickets.service import SUBJECT as TICKET

if TYPE_CHECKING:
    from gateway.services import Services

log = logging.getLogger("gateway.ops")

REFRESH_S = 10
STORE_TIMEOUT_S = 2.0
#: the deadlines counted per court, in column order: subject type and column heading
OVERDUE_SUBJECTS = ((TICKET, "Overdue 12368 tickets"), (BINDING, "Overdue bindings"))
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class CourtLine:
    code: str
    name: str
    health: CourtHealth
    recent: Recent  # the last few minutes, this process
    feed_lag_s: float | None  # None: this process does not follow the court's feed
    overdue: Mapping[str, int] | None  # by subject type; None: the store did not answer


@dataclass(frozen=True, slots=True)
class OpsView:
    at: datetime
    courts: Sequence[CourtLine]
    backlogs: Sequence[Backlog] | None  # None: the store did not answer
    unpublished_years: Sequence[int]


async def _stored(services: Services, now: datetime) -> tuple[list[Backlog], dict[tuple[str, str], int]]:
    """What the store knows: the outboxes' backlogs and the overdue deadlines per court."""
    outboxes = [w for w in services.workers.workers if isinstance(w, Outbox)]
    found = await backlogs(outboxes, now)
    async with services.store.session(read_only=True) as session:
        overdue = await deadlines.overdue_counts(session, now=now, subject_types=[s for s, _ in OVERDUE_SUBJECTS])
    return found, overdue


async def gather(services: Services, follower: ChangeFollower) -> OpsView:
    """Everything the page shows, read now."""
    now = services.now()
    try:
        found: list[Backlog] | None
        found, overdue = await asyncio.wait_for(_stored(services, now), STORE_TIMEOUT_S)
    except Exception as e:  # never a trace: the class name tells an operator where to look
        log.warning("ops: the store did not answer (%s)", type(e).__name__)
        found, overdue = None, {}
    read = found is not None
    monotonic = time.monotonic()
    health = services.registry.health()
    courts = [
        CourtLine(
            code=a.court.code,
            name=a.court.name,
            health=health[a.court.code],
            recent=RECENT.window(a.court.slug),
            feed_lag_s=monotonic - follower.read_at[a.court.code] if a.court.code in follower.read_at else None,
            overdue={s: overdue.get((a.court.code, s), 0) for s, _ in OVERDUE_SUBJECTS} if read else None,
        )
        for a in services.registry
    ]
    return OpsView(now, courts, found, services.tickets.calendar.unpublished_years())


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _court_row(line: CourtLine) -> str:
    h = line.health
    error_rate = f"{h.failures / h.calls:.1%}" if h.calls else "—"
    latency = "—" if h.latency_ms_ewma is None else f"{h.latency_ms_ewma:.0f} ms"
    last_error = f"{h.last_error_code} ({h.consecutive_failures} in a row)" if h.last_error_code else "—"
    overdue = [
        "unavailable" if line.overdue is None else str(line.overdue.get(subject, 0)) for subject, _ in OVERDUE_SUBJECTS
    ]
    r = line.recent
    recent_latency = "—" if r.mean_latency_ms is None else f"{r.mean_latency_ms:.0f} ms / {r.slowest_ms:.0f} ms"
    cells = [
        f'<th scope="row">{_e(line.name)}<br><small>{_e(line.code)}</small></th>',
        f'<td class="state {_e(h.state.lower())}">{_e(h.state)}</td>',
        f"<td>{_e(h.breaker_state)}</td>",
        f'<td class="recent">{_e(r.calls)}</td>',
        f'<td class="recent">{_e("—" if r.error_rate is None else f"{r.error_rate:.1%}")}</td>',
        f'<td class="recent">{_e(recent_latency)}</td>',
        f"<td>{_e(h.calls)}</td>",
        f"<td>{_e(error_rate)}</td>",
        f"<td>{_e(latency)}</td>",
        f"<td>{_e(last_error)}</td>",
        f"<td>{_e(_seconds(line.feed_lag_s) if line.feed_lag_s is not None else 'not followed here')}</td>",
        *(f"<td>{_e(count)}</td>" for count in overdue),
    ]
    return f'<tr data-court="{_e(line.code)}">{"".join(cells)}</tr>'


def _outbox_section(found: Sequence[Backlog] | None) -> str:
    if found is None:
        return '<p class="warning">Outboxes: the store did not answer; backlog unavailable.</p>'
    rows = "".join(
        f"<tr><th scope='row'>{_e(b.kind)}</th><td>{_e(b.rows)}</td><td>{_e(_seconds(b.oldest_age_s))}</td></tr>"
        for b in found
    )
    return (
        '<table id="outboxes"><caption>Outboxes</caption>'
        "<thead><tr><th>Kind</th><th>Waiting</th><th>Oldest waiting</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _calendar_warning(years: Sequence[int]) -> str:
    if not years:
        return ""
    listed = ", ".join(str(y) for y in years)
    return (
        f'<p class="warning" id="calendar">No published holiday schedule for {_e(listed)}: deadlines there count '
        "statutory holidays only (make-up working days unknown). Add the year to the calendar override file "
        "(GATEWAY_CALENDAR_OVERRIDE_FILE) and restart.</p>"
    )


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
td.recent { background: #f7fbff; }
.state.healthy { background: #e3f6e3; } .state.degraded { background: #fff3cd; } .state.down { background: #f8d7da; }
.warning { background: #fff3cd; border: 1px solid #e0c36c; padding: .5em; }
"""


def render(view: OpsView) -> str:
    """The page, every value escaped."""
    headings = [
        "Court",
        "Health",
        "Breaker",
        f"Calls ({WINDOW_MINUTES} min)",
        f"Error rate ({WINDOW_MINUTES} min)",
        f"Latency ({WINDOW_MINUTES} min, mean / max)",
        "Calls",
        "Error rate",
        "Latency (avg)",
        "Last error",
        "Feed lag",
        *(title for _, title in OVERDUE_SUBJECTS),
    ]
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headings)
    rows = "".join(_court_row(line) for line in view.courts)
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>court-gateway operations</title><style>{STYLE}</style></head><body>"
        f"<h1>court-gateway operations</h1><p>As of {_e(view.at.isoformat(timespec='seconds'))}; "
        f"refreshes every {REFRESH_S} s. Calls, error rate and latency: this process, over the last "
        f"{WINDOW_MINUTES} minutes (the current minute and the {WINDOW_MINUTES - 1} before it), then since it "
        "started.</p>"
        f"{_calendar_warning(view.unpublished_years)}"
        f'<table id="courts"><caption>Courts</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f"{_outbox_section(view.backlogs)}"
        "</body></html>"
    )


def ops_page(
    services: Services, follower: ChangeFollower, *, token: str, authenticate: Authenticate
) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        refused = await operator_refusal(header, token, authenticate, what="the operations page")
        if refused is not None:
            return refused
        return HTMLResponse(render(await gather(services, follower)), headers=SECURITY_HEADERS)

    return page
