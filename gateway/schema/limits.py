"""What one GraphQL document may cost before it runs: tokens to parse, depth and aliases to validate.

Invariants: the token limit is enforced while parsing (graphql-core stops lexing at the limit), so a
document's parse and validation work is bounded whatever its size (the HTTP edge has already bounded
its bytes, ``Settings.max_document_bytes``); the validation rules are built once, at import, so the
validation cache key is stable and really hits (strawberry issue #4635); and each limit's error has
a code of its own (``MAX_TOKENS_EXCEEDED`` is given by ``gateway.errors``, from the parse error).
"""

from __future__ import annotations

from typing import Any

from graphql import ASTValidationRule, GraphQLError, ValidationContext
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

#: lexical tokens in one document (a large real query has a few hundred)
MAX_TOKENS = 5000
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"


class _CodingContext:
    """A validation context whose reported errors carry ``extensions.code``; all else is the context's."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def coded_rule(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """``rule``, its errors typed with ``code`` (Strawberry's limit rules report through the context)."""

    class Coded(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodingContext(context, code))

    Coded.__name__ = f"Coded{rule.__name__}"
    return Coded


VALIDATION_RULES: list[type[ASTValidationRule]] = [
    coded_rule(depth_rule(MAX_DEPTH, None), MAX_DEPTH_EXCEEDED),
    coded_rule(max_aliases_rule(MAX_ALIASES), MAX_ALIASES_EXCEEDED),
]
