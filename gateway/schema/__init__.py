"""The public GraphQL schema: the contract with the AOL frontend, the mini-program and law firms.

Production settings (DESIGN §6): parsed documents and validation results are cached; the depth and
alias limits are validation rules built once at import, so the validation cache key is stable and
really hits (a limiter built per request would defeat it); unexpected errors are masked; court
failures are appended as typed errors beside the partial data.
"""

from __future__ import annotations

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

from gateway.errors import is_expected
from gateway.schema.cases import Case
from gateway.schema.courts import Court
from gateway.schema.documents import ServedDocument
from gateway.schema.query import Query

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


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
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
