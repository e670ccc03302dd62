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

Spans leave the process only through an exporter: OTLP over HTTP when ``tracing_otlp_endpoint`` is set,
none otherwise (trace ids still tie logs, answers and watermarks together). Tests add an in-memory one.
"""

from __future__ import annotations

import logging

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
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from gateway.config import Settings

log = logging.getLogger("gateway.tracing")

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
        AioHttpClientInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
        log.info("tracing on; spans exported to %s", settings.tracing_otlp_endpoint or "nowhere (no exporter set)")
    return _provider


def instrument(app: Starlette, engine: AsyncEngine) -> None:
    """Spans for ``app``'s requests (outermost middleware: it reads ``traceparent`` and writes
    ``traceresponse``) and for ``engine``'s statements; nothing while tracing is off."""
    if _provider is None:
        return
    StarletteInstrumentor.instrument_app(app, tracer_provider=_provider)
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
