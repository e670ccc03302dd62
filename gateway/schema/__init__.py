"""The public GraphQL schema: the contract with the AOL frontend, the mini-program and law firms.

Production settings (DESIGN §6): parsing stops at a token limit; parsed documents and validation
results are cached, in a cache bounded in memory (``document_cache``); the depth and alias limits are
validation rules built once at import (``limits``), so the validation cache key is stable and really
hits (a limiter built per request would defeat it); every operation is costed after validation and
refused over the budget before it executes (``gateway.demand.budget``: its cost cache is built once here
too); introspection is open to the callers the policy names (``introspection``); every error is typed and quotes little of the input (``gateway.errors.public_form``); unexpected
errors are masked; court failures are appended as typed errors beside the partial data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from gateway.demand.budget import CostCache, DemandControl
from gateway.errors import is_expected, public_form
from gateway.observability.operations import ObservedOperations
from gateway.schema.archive import ArchiveMutation, ArchiveQuery
from gateway.schema.bindings import BindingsMutation, BindingsQuery
from gateway.schema.cases import Case, CasesQuery
from gateway.schema.courts import Court, CourtsQuery
from gateway.schema.document_cache import CachedDocuments, DocumentCache
from gateway.schema.documents import DocumentsQuery, ServedDocument, SigningMutation, SigningQuery
from gateway.schema.filings import FilingsMutation, FilingsQuery
from gateway.schema.firm import FirmMutation, FirmQuery
from gateway.schema.introspection import IntrospectionControl
from gateway.schema.limits import MAX_TOKENS, VALIDATION_RULES
from gateway.schema.node import NodeQuery
from gateway.schema.notifications import NotificationsMutation, NotificationsQuery, NotificationsSubscription
from gateway.schema.oauth import OAuthMutation, OAuthQuery
from gateway.schema.tickets import TicketsMutation, TicketsQuery
from gateway.schema.viewer import ViewerQuery
from gateway.schema.work_queue import WorkQueueQuery

CACHE_SIZE = 512  # documents; one process-wide LRU shared by every request
#: parsed and validated documents: only those up to 8 KiB of text, 256 KiB in all (about 32 MB)
DOCUMENTS = DocumentCache(max_entries=CACHE_SIZE, max_chars=8 * 1024, max_total_chars=256 * 1024)
COST_CACHE = CostCache(maxsize=CACHE_SIZE)
log = logging.getLogger("gateway.graphql")


class PublicErrors(MaskErrors):
    """Every error a client sees is typed: what the services raise is mapped by ``public_error`` (the one
    map), anything else is masked as INTERNAL_SERVER_ERROR (its traceback went to the log)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not is_expected(e))

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return super()._process_errors([public_form(e) for e in errors])

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


class GatewaySchema(strawberry.Schema):
    """Logs what clients got wrong as one line, and keeps tracebacks for what the gateway got wrong."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            public = public_form(error)
            if is_expected(public):
                code = (public.extensions or {}).get("code", "GRAPHQL")
                log.info("refused %s at %s: %.200s", code, public.path, public.message)
            else:
                StrawberryLogger.error(error, execution_context)


class CourtFailures(SchemaExtension):
    """Appends one error per court that failed during the operation (partial results)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        failures = getattr(context, "failures", None)
        if result is not None and failures:
            result.errors = [*(result.errors or []), *failures]


ROOT_DESCRIPTIONS = {
    "Query": "Reads across all thirteen courts and the national service platform.",
    "Mutation": "Acts the gateway records before answering, then delivers to the courts exactly once.",
    "Subscription": "Live updates over graphql-transport-ws.",
}


def _root(name: str, parts: tuple[type, ...]) -> type:
    """One root type from each domain's contribution, fields in the order given (the public contract's)."""
    merged = merge_types(name, parts)
    merged.__strawberry_definition__.description = ROOT_DESCRIPTIONS[name]  # type: ignore[attr-defined]
    return merged


Query = _root(
    "Query",
    (
        ViewerQuery,
        CourtsQuery,
        CasesQuery,
        DocumentsQuery,
        NodeQuery,
        FilingsQuery,
        SigningQuery,
        NotificationsQuery,
        TicketsQuery,
        WorkQueueQuery,
        BindingsQuery,
        ArchiveQuery,
        OAuthQuery,
        FirmQuery,
    ),
)
Mutation = _root(
    "Mutation",
    (
        FilingsMutation,
        SigningMutation,
        NotificationsMutation,
        TicketsMutation,
        BindingsMutation,
        ArchiveMutation,
        OAuthMutation,
        FirmMutation,
    ),
)
Subscription = _root("Subscription", (NotificationsSubscription,))


def build_schema() -> strawberry.Schema:
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Case, Court, ServedDocument],
        extensions=[
            ObservedOperations,  # first: it sees the result last, as the client gets it
            lambda: AddValidationRules(VALIDATION_RULES),
            lambda: MaxTokensLimiter(MAX_TOKENS),
            lambda: CachedDocuments(DOCUMENTS),
            IntrospectionControl,  # before the cost: a refused introspection is not costed
            lambda: DemandControl(COST_CACHE),
            PublicErrors,
            CourtFailures,
        ],
    )


schema = build_schema()
