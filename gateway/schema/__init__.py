"""The public GraphQL schema: the contract with the AOL frontend, the mini-program and law firms.

Production settings (DESIGN §6): parsed documents and validation results are cached; the depth and
alias limits are validation rules built once at import, so the validation cache key is stable and
really hits (a limiter built per request would defeat it); unexpected errors are masked; court
failures are appended as typed errors beside the partial data.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import strawberry
from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from gateway.errors import is_expected, label_request_error
from gateway.schema.cases import Case
from gateway.schema.courts import Court
from gateway.schema.documents import ServedDocument

MAX_DEPTH = 10
MAX_ALIASES = 30
VALIDATION_RULES: list[type[ASTValidationRule]] = [depth_rule(MAX_DEPTH, None), max_aliases_rule(MAX_ALIASES)]
CACHE_SIZE = 512  # documents; both caches are process-wide LRUs shared by every request


class CourtFailures(SchemaExtension):
    """Appends one error per court that failed during the operation (partial results)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        failures = getattr(context, "failures", None)
        if result is not None and failures:
            result.errors = [*(result.errors or []), *failures]
        for error in (result.errors if result is not None else None) or []:
            label_request_error(error)


#: domain modules of gateway/schema; each may contribute ``Query``, ``Mutation`` and ``Subscription`` fields
DOMAINS = ("query", "filings", "signing", "notifications", "tickets", "work_queue", "bindings", "archive")
ROOT_DESCRIPTIONS = {
    "Query": "Reads across all thirteen courts and the national service platform.",
    "Mutation": "Acts the gateway records before answering, then delivers to the courts exactly once.",
    "Subscription": "Live updates over graphql-transport-ws.",
}


def _root(name: str) -> type | None:
    """One root type merged from every domain's contribution (None when no domain has any)."""
    parts = []
    for domain in DOMAINS:
        module = importlib.import_module(f"gateway.schema.{domain}")
        part = getattr(module, name, None)
        if part is not None:
            parts.append(part)
    if not parts:
        return None
    merged = merge_types(name, tuple(parts))
    merged.__strawberry_definition__.description = ROOT_DESCRIPTIONS[name]  # type: ignore[attr-defined]
    return merged


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=_root("Query"),  # type: ignore[arg-type]
        mutation=_root("Mutation"),
        subscription=_root("Subscription"),
        types=[Case, Court, ServedDocument],
        extensions=[
            lambda: AddValidationRules(VALIDATION_RULES),
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            lambda: MaskErrors(should_mask_error=lambda e: not is_expected(e)),
            CourtFailures,
        ],
    )


schema = build_schema()
