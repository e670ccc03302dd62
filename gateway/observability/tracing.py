"""OpenTelemetry traces: off unless configured; when on, W3C context in and out, and spans for the
request, every court call, every HTTP attempt and every SQL statement.

``Settings.tracing`` turns it on for the process (the first app built with it installs the SDK's
``TracerProvider``; OpenTelemetry's provider is process-wide and cannot be swapped later). Then:

- a client's ``traceparent`` is accepted (the Starlette instrumentation's ASGI middleware) and every
  answer names its trace in a W3C ``traceresponse`` header;
- each court call is a span (``observability.courts``) and the aiohttp client instrumentation sends
  ``traceparent`` on with every HTTP request to a court, so courts that read it join the trace;
- the store's statements are spans (the SQLAlchemy instrumentation's engine tracer);
- the access line, and the watermark of a case-file download link issued by the request, carry the
  request's trace id.

Spans carry no personal data: query strings (a GET request's variables, the ID and licence numbers a
court is asked about) are left out of every URL, so are the path segments of a court URL that may name
someone, and the path of a download link is cut at its token.
The SQL statements are the parameterised ones (values never appear).

Spans leave the process only through an exporter: OTLP over HTTP when ``tracing_otlp_endpoint`` is set,
none otherwise (trace ids still tie logs, answers and watermarks together). Tests add an in-memory one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import yarl
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.propagators import TraceResponsePropagator, set_global_response_propagator
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv.metrics import MetricInstruments
from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from gateway.config import Settings

log = logging.getLogger("gateway.tracing")
#: a URL path segment that may carry an ID, licence or case number, or a name
_NAMING = re.compile(r"\d{4,}|%")

_provider: TracerProvider | None = None


def tracer_provider() -> TracerProvider | None:
    """The SDK provider this process installed, or None while tracing is off."""
    return _provider


def setup_tracing(settings: Settings) -> TracerProvider | None:
    """Install the SDK provider, the response propagator and the aiohttp instrumentation once per
    process when ``settings.tracing`` is on (before any ``ClientSession`` is made). None when off."""
    global _provider
    if not settings.tracing:
        return _provider
    if _provider is None:
        provider = TracerProvider(resource=Resource.create({"service.name": settings.tracing_service_name}))
        if settings.tracing_otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.tracing_otlp_endpoint)))
        trace.set_tracer_provider(provider)
        set_global_response_propagator(TraceResponsePropagator())
        AioHttpClientInstrumentor().instrument(tracer_provider=provider, url_filter=court_url)
        _provider = provider
        log.info("tracing on; spans exported to %s", settings.tracing_otlp_endpoint or "nowhere (no exporter set)")
    return _provider


def court_url(url: yarl.URL) -> str:
    """A court request's URL as its span shows it: no query, and no path segment that may name someone
    (a run of digits, as in a CSV export's ``/export/dlr/<licence number>/…``, or escaped text)."""
    segments = ["{id}" if _NAMING.search(s) else s for s in url.raw_path.split("/")]
    return str(url.origin()) + "/".join(segments)


def instrument(app: Starlette, engine: AsyncEngine, *, secret_paths: tuple[str, ...] = ()) -> None:
    """Spans for ``app``'s requests (outermost middleware: it reads ``traceparent`` and writes
    ``traceresponse``) and for ``engine``'s statements; nothing while tracing is off. A path under one
    of ``secret_paths`` (download links) is shown cut at that prefix."""
    if _provider is None:
        return

    def without_secrets(span: Span, scope: dict[str, Any]) -> None:
        if not span.is_recording():
            return
        path = str(scope.get("path", ""))
        shown = next((p + "{token}" for p in secret_paths if path.startswith(p)), path)
        server = scope.get("server") or ("", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
        span.set_attribute("http.target", shown)
        span.set_attribute("http.url", f"{scope.get('scheme', 'http')}://{host}{shown}")
        if "url.query" in (getattr(span, "attributes", None) or {}):
            span.set_attribute("url.query", "")
            span.set_attribute("url.path", shown)

    StarletteInstrumentor.instrument_app(app, server_request_hook=without_secrets, tracer_provider=_provider)
    # the instrumentor's per-engine part (its ``instrument(engine=…)`` runs once per process, and its
    # create_engine patch cannot reach the store's engine, made with a name imported before it)
    connections = get_meter(__name__).create_up_down_counter(
        MetricInstruments.DB_CLIENT_CONNECTIONS_USAGE, unit="connections"
    )
    EngineTracer(
        trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=_provider),
        engine.sync_engine,
        connections,
    )


def current_trace_id() -> str | None:
    """The active trace's id as 32 hex digits (the W3C form), or None outside a trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
