"""Who may introspect the schema (``__schema``, ``__type``): everyone, signed-in callers, or nobody.

The policy is ``gateway.security.introspection_policy`` (``GATEWAY_INTROSPECTION``; production: signed-in
callers only). It is decided per request after validation, not by a validation rule: validation results
are cached per document and shared by every caller (``document_cache``), so a rule cannot depend on who
asks. ``__typename`` is not introspection here: clients' caches need it. A refused operation runs nothing
and answers ``INTROSPECTION_DISABLED``.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import BREAK, DocumentNode, FieldNode, Visitor, visit
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.errors import IntrospectionDisabled
from gateway.security import introspection_policy

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class _Finder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: object) -> object:
        if node.name.value in INTROSPECTION_FIELDS:
            self.found = True
            return BREAK
        return None


def introspects(document: DocumentNode) -> bool:
    """Whether any operation or fragment of ``document`` selects ``__schema`` or ``__type``."""
    finder = _Finder()
    visit(document, finder)
    return finder.found


class IntrospectionControl(SchemaExtension):
    """Refuses introspection to callers the policy leaves out, before the operation executes."""

    def on_execute(self) -> Iterator[None]:
        run = self.execution_context
        settings = getattr(getattr(run.context, "services", None), "settings", None)
        if settings is not None and run.graphql_document is not None and run.result is None:
            policy = introspection_policy(settings)
            signed_in = getattr(run.context, "viewer", None) is not None
            allowed = policy == "all" or (policy == "authenticated" and signed_in)
            if not allowed and introspects(run.graphql_document):
                who = "signed-in callers" if policy == "authenticated" else "nobody"
                error = IntrospectionDisabled(f"schema introspection is open to {who} here")
                run.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
