"""Observability: Prometheus metrics, OpenTelemetry traces and one JSON access line per request.

Invariants: nothing here ever fails or slows a request (every hook is a counter, a span or a field on
this request's record); no label or log field carries personal data (principals are keyed hashes,
operation names are bounded, courts are their configured slugs); tracing is off unless configured.
The modules: ``record`` (this request's facts, in a context variable), ``metrics`` (the series),
``courts`` (the one hook around every court call), ``operations`` (the GraphQL extension), ``tracing``,
``logging`` (the JSON formatter and the access line), ``middleware`` (request id, access line) and
``exposition`` (``/metrics``: the scrape, its state gauges and who may read it).
"""
