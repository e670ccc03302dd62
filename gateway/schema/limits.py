"""What one GraphQL document may cost before it runs: tokens to parse, its shape, depth and aliases.

Invariants: the token limit is enforced while parsing (graphql-core stops lexing at the limit) and the
shape (``shape_errors``: the same field many times over in one selection set, or many fragments spread
in one) is checked in one linear pass before validation, because graphql-core's
OverlappingFieldsCanBeMerged rule is quadratic in exactly those (500 copies of ``courts { code }``
took it 1.7 s); so a document's parse and validation work stays small whatever its size (the HTTP
edge has already bounded its bytes, ``Settings.max_document_bytes``). The validation rules are built
once, at import, so the validation cache key is stable and really hits (strawberry issue #4635). Each
limit's error has a code of its own (``MAX_TOKENS_EXCEEDED`` is given by ``gateway.errors``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    SelectionSetNode,
    ValidationContext,
    Visitor,
    visit,
)
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

#: lexical tokens in one document (the full introspection query has 183; a large real query a few hundred)
MAX_TOKENS = 2000
MAX_DEPTH = 10
MAX_ALIASES = 30
#: one selection set: how often one response name may appear, and how many fragments it may spread
MAX_SAME_FIELD = 10
MAX_SPREADS = 30
#: comparisons graphql-core's OverlappingFieldsCanBeMerged may make before it aborts the validation
#: (its default, 500,000, is about a second of CPU; a large real query makes a few hundred)
OVERLAP_BUDGET = 20_000
MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
SELECTION_TOO_LARGE = "SELECTION_TOO_LARGE"
MAX_SHAPE_ERRORS = 10


class _Shape(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[GraphQLError] = []

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> object:
        names = Counter(s.alias.value if s.alias else s.name.value for s in node.selections if isinstance(s, FieldNode))
        spreads = sum(isinstance(s, FragmentSpreadNode) for s in node.selections)
        name, repeats = names.most_common(1)[0] if names else ("", 0)
        if repeats > MAX_SAME_FIELD:
            message = f"'{name}' is selected {repeats} times in one selection set; at most {MAX_SAME_FIELD}"
        elif spreads > MAX_SPREADS:
            message = f"{spreads} fragments are spread in one selection set; at most {MAX_SPREADS}"
        else:
            return None
        self.errors.append(GraphQLError(message, node, extensions={"code": SELECTION_TOO_LARGE}))
        return BREAK if len(self.errors) >= MAX_SHAPE_ERRORS else None


def shape_errors(document: DocumentNode) -> list[GraphQLError]:
    """What is wrong with the shape of ``document`` (SELECTION_TOO_LARGE), in one pass over it."""
    shape = _Shape()
    visit(document, shape)
    return shape.errors


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


# graphql-core reads this module attribute when a validation starts: assigning it is its documented knob
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = OVERLAP_BUDGET

VALIDATION_RULES: list[type[ASTValidationRule]] = [
    coded_rule(depth_rule(MAX_DEPTH, None), MAX_DEPTH_EXCEEDED),
    coded_rule(max_aliases_rule(MAX_ALIASES), MAX_ALIASES_EXCEEDED),
]
