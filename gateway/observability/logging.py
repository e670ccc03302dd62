"""Logs as JSON lines (python-json-logger), and the one access line each HTTP request ends with.

Every line is one JSON object with ``time``, ``level``, ``logger`` and ``message``; a line logged while
a request is served also has its ``request_id`` and ``trace_id``, so any line leads to its request and
its trace. The access line (logger ``gateway.access``, message ``request``) adds: ``method``, ``route``
(the route's template: a download link's token never reaches the log), ``status``, ``duration_ms``, the
GraphQL ``operation`` (its bounded label, ``metrics.operation_label``), ``operation_type`` and
``outcome``, ``principal`` (a keyed hash of the token's subject, null when anonymous), ``courts`` touched
(slugs) and the ``error_codes`` the client got. Never a name, an ID number, a phone number, a token, an
address or a query's variables.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from gateway.observability import record, tracing

ACCESS = logging.getLogger("gateway.access")
_HANDLER_NAME = "gateway-json"


class RequestFields(logging.Filter):
    """Adds the current request's id and trace id to every line logged while it is served."""

    def filter(self, entry: logging.LogRecord) -> bool:
        current = record.current()
        if current is not None and not hasattr(entry, "request_id"):
            entry.request_id = current.request_id
            entry.trace_id = tracing.current_trace_id()
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def configure_logging(level: str) -> None:
    """JSON lines on stderr from the root logger at ``level``; idempotent (a second app replaces the
    handler the first one installed, and leaves everyone else's alone)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestFields())
    root.addHandler(handler)
    root.setLevel(level.upper())


def access_line(current: record.RequestRecord, *, method: str, route: str, status: int, duration_s: float) -> None:
    """The request's one access line (see the module docstring for its fields)."""
    fields: dict[str, Any] = {
        "request_id": current.request_id,
        "trace_id": tracing.current_trace_id(),
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration_s * 1000, 2),
        "operation": current.operation,
        "operation_type": current.operation_type,
        "outcome": current.outcome,
        "principal": current.principal,
        "courts": sorted(current.courts),
        "error_codes": sorted(current.error_codes),
    }
    ACCESS.info("request", extra=fields)
