"""The GraphQL operations series and the access line's GraphQL fields, from one schema extension.

Listed first among the schema's extensions, so its ``on_operation`` finishes last: it sees the result
as the client gets it, errors already made public (masked, typed) and court failures appended. The
outcome is ``ok`` (no errors), ``partial`` (data, and only court failures), ``failed`` (an unexpected
error, INTERNAL_SERVER_ERROR) or ``rejected`` (any other error: the client's, such as a validation or
permission error or a cost refusal).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from gateway.observability import metrics, record

INTERNAL = "INTERNAL_SERVER_ERROR"
COURT_PREFIX = "COURT_"


class ObservedOperations(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        run = self.execution_context
        name = metrics.operation_label(run.operation_name)
        try:
            kind = run.operation_type.value
        except Exception:  # a document that did not parse has no operation type
            kind = "unknown"
        errors = (run.result.errors or []) if run.result is not None else []
        codes = {str((e.extensions or {}).get("code") or "GRAPHQL_ERROR") for e in errors}
        data = run.result.data if run.result is not None else None
        if not codes:
            outcome = "ok"
        elif INTERNAL in codes:
            outcome = "failed"
        elif data is not None and all(c.startswith(COURT_PREFIX) for c in codes):
            outcome = "partial"
        else:
            outcome = "rejected"
        metrics.GRAPHQL_OPERATIONS.labels(name, kind, outcome).inc()
        metrics.GRAPHQL_DURATION.labels(name).observe(time.perf_counter() - started)
        current = record.current()
        if current is not None:
            current.operation, current.operation_type, current.outcome = name, kind, outcome
            current.error_codes |= codes
