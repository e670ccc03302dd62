"""The static cost of a GraphQL operation, read from its document and variables before anything runs.

The unit is the work one request makes: every object in the answer costs 1 (scalars and enums cost
nothing), every court call costs ``COURT_CALL`` (the courts are the scarce resource: legacy systems
behind a few connections each), every mutation field costs ``WRITE``. Which fields call courts, and how
often per resolution, is the table ``COURT_CALLS`` (code, not schema directives: the contract stays as it
is). Lists multiply everything below them: by their ``first`` argument (its literal, its variable's
value, the variable's default, else the field's default); a connection's lists (``edges``) by the
connection's ``first``; any other list by an assumed size. Nesting multiplies, aliases and repeated
fields add up, named and inline fragments are followed.

Like Apollo Router's static estimate (the IBM cost spec), the figure ignores caches and DataLoader
batching, which only make the real work smaller: it is what the operation may cost, not what it did.

Invariants: the cost depends only on the document, the operation name, the variables whose value is an
integer (any other value falls back to a default) and the assumed list size, so it may be cached on
those. Each fragment is costed once per walk (a document cannot make the walk exponential) and a
fragment met again inside itself counts nothing (validation rejects such cycles before this runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)
from graphql.utilities import get_operation_ast

#: one court call weighs as much as this many objects of the answer
COURT_CALL = 10
#: one mutation field (a store transaction, often an outbox row to deliver)
WRITE = 10
#: the argument that sizes a list, or a connection's lists
SIZE_ARGUMENT = "first"
#: a size asked beyond this counts as this (the resolvers refuse it anyway): the figure stays short
MAX_SIZE = 1000
COURTS = 13
PLATFORMS = 1

#: court calls made each time the field resolves (``Type.field``); fields not named make none
COURT_CALLS: Mapping[str, int] = {
    # one page from every court (one call per court and identity the courts know the person by)
    "Query.myCases": COURTS,
    # the staff member's own court
    "Query.courtCases": 1,
    "Query.case": 1,
    # every court and the national platform: documents are served on several channels
    "Query.documentsToSign": COURTS + PLATFORMS,
    "Query.serviceCertificate": COURTS + PLATFORMS,
    # a served document is looked for on every channel (a case at its court is one call)
    "Query.node": COURTS + PLATFORMS,
    "Case.servedDocuments": 1 + PLATFORMS,
    "Case.caseFile": 1,
    "RelatedCase.case": 1,
    # the case at its court, then its volumes
    "ArchiveApplication.caseFile": 2,
    "Mutation.downloadMaterial": 2,
    "Mutation.applyForArchiveAccess": 1,
    "Mutation.applyForCaseBinding": 1,
}
#: fields that resolve once per element of a list argument, each element costing like ``Query.node``:
#: ``Type.field`` → (the argument, court calls per element); the list's length sizes the answer too
PER_ELEMENT: Mapping[str, tuple[str, int]] = {"Query.nodes": ("ids", COURTS + PLATFORMS)}


@dataclass(frozen=True, slots=True)
class Cost:
    """An operation's estimated cost, and the court calls it counts (reported to clients)."""

    total: int
    court_calls: int


@dataclass(frozen=True, slots=True)
class _Tally:
    objects: int = 0
    calls: int = 0

    def plus(self, other: _Tally) -> _Tally:
        return _Tally(self.objects + other.objects, self.calls + other.calls)

    def times(self, n: int) -> _Tally:
        return _Tally(self.objects * n, self.calls * n)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    assumed_list_size: int,
) -> Cost:
    """The cost of the operation ``operation_name`` names in ``document`` (of its only one without a name);
    zero when there is no such operation (execution will say so)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Cost(0, 0)
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Cost(0, 0)
    walk = _Walk(schema, document, operation, variables or {}, assumed_list_size)
    tally = walk.selections(root, operation.selection_set, None)
    return Cost(tally.objects + COURT_CALL * tally.calls, tally.calls)


class _Walk:
    """One costing of one operation: its variables, and each fragment's cost once computed."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        assumed_list_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or () if d.default_value
        }
        self.variables = variables
        self.assumed = max(assumed_list_size, 0)
        self.memo: dict[tuple[str, int | None], _Tally] = {}
        self.open: set[str] = set()

    def selections(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None, sized: int | None) -> _Tally:
        """What a selection set costs once; ``sized``: the size of the lists directly in it, when the field
        above (a connection) was given one."""
        tally = _Tally()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                tally = tally.plus(self.field(parent, selection, sized))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                tally = tally.plus(self.selections(inner or parent, selection.selection_set, sized))
            elif isinstance(selection, FragmentSpreadNode):
                tally = tally.plus(self.fragment(selection.name.value, sized))
        return tally

    def fragment(self, name: str, sized: int | None) -> _Tally:
        definition = self.fragments.get(name)
        if definition is None or name in self.open:
            return _Tally()
        key = (name, sized)
        if key not in self.memo:
            self.open.add(name)
            inner = self.schema.get_type(definition.type_condition.name.value)
            self.memo[key] = self.selections(inner, definition.selection_set, sized) if inner else _Tally()
            self.open.discard(name)
        return self.memo[key]

    def field(self, parent: GraphQLNamedType, node: FieldNode, sized: int | None) -> _Tally:
        name = node.name.value
        definition: GraphQLField | None = getattr(parent, "fields", {}).get(name)
        if definition is None:  # __typename, introspection, or a field validation has refused
            return _Tally()
        writes = WRITE if parent is self.schema.mutation_type else 0
        own = _Tally(writes, COURT_CALLS.get(f"{parent.name}.{name}", 0))
        per_element = PER_ELEMENT.get(f"{parent.name}.{name}")
        elements = self.length(node, per_element[0]) if per_element else None
        if per_element and elements is not None:
            own = _Tally(writes, elements * per_element[1])
        target = get_named_type(definition.type)
        if not is_composite_type(target):
            return own
        size = elements if elements is not None else self.size(definition, node)
        is_list = is_list_type(get_nullable_type(definition.type))
        items = (size if size is not None else sized if sized is not None else self.assumed) if is_list else 1
        below = self.selections(target, node.selection_set, None if is_list else size)
        return own.plus(_Tally(1, 0).plus(below).times(items))

    def size(self, definition: GraphQLField, node: FieldNode) -> int | None:
        """The field's ``first``: given, from a variable, the variable's default, or the field's default."""
        argument = definition.args.get(SIZE_ARGUMENT)
        if argument is None:
            return None
        given = next((a.value for a in node.arguments or () if a.name.value == SIZE_ARGUMENT), None)
        value = self.value(given) if given is not None else None
        if value is None:
            default = argument.default_value
            value = default if type(default) is int else self.assumed
        return min(max(value, 0), MAX_SIZE)

    def length(self, node: FieldNode, argument: str) -> int | None:
        """How many elements the list ``argument`` holds (a literal list, or a list variable), at most
        ``MAX_SIZE``; None when it cannot be known (validation refuses what is missing)."""
        given = next((a.value for a in node.arguments or () if a.name.value == argument), None)
        if isinstance(given, ListValueNode):
            return min(len(given.values), MAX_SIZE)
        if isinstance(given, VariableNode):
            value = self.variables.get(given.name.value)
            return min(len(value), MAX_SIZE) if isinstance(value, list) else None
        return 1 if given is not None else None

    def value(self, node: ValueNode) -> int | None:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            given = self.variables.get(node.name.value)
            if type(given) is int:
                return given
            default = self.defaults.get(node.name.value)
            return self.value(default) if default is not None and not isinstance(default, VariableNode) else None
        return None
