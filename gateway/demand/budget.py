"""The cost budget: an operation whose static cost (``gateway.demand.cost``) is over the configured
budget never runs; it is refused with COST_LIMIT_EXCEEDED, its cost and the budget in the error's
``extensions``. A client that wants the cost of what it sends asks in the request's own extensions,
``{"query": …, "extensions": {"cost": true}}`` (for GET, the ``extensions`` query parameter), and finds
``extensions.cost`` (``estimated``, ``courtCalls``, ``budget``) in the response.

The check is an ``on_execute`` hook: after parsing and validation (both cached, and left untouched so the
validation cache keeps hitting) and before any resolver, so a refused operation makes no court call and
writes nothing. Costs are cached process-wide in a small LRU keyed on all a cost depends on, so a
client's usual operations are costed once. Subscriptions (one field, no court calls) are costed, never
refused: a refusal is a result, and a subscription's results are its events.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.demand.cost import Cost, operation_cost
from gateway.errors import GatewayError
from gateway.observability import metrics

#: the request extension a client sets to get the cost back
ASK = "cost"


class CostLimitExceeded(GatewayError):
    code = "COST_LIMIT_EXCEEDED"


class CostCache:
    """The most recently used costs, at most ``maxsize`` of them (an LRU shared by every request)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Cost] = OrderedDict()
        self.hits = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Cost]) -> Cost:
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found
        cost = self._entries[key] = compute()
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return cost


class DemandControl(SchemaExtension):
    """Costs each operation before it executes; refuses it over the budget (``Settings.cost_budget``)."""

    def __init__(self, cache: CostCache) -> None:
        super().__init__()
        self.cache = cache
        self.cost: Cost | None = None
        self.budget = 0

    def on_execute(self) -> Iterator[None]:
        run = self.execution_context
        settings = getattr(getattr(run.context, "services", None), "settings", None)
        if settings is not None and run.graphql_document is not None:
            self.budget = settings.cost_budget
            self.cost = self._cost(settings.cost_assumed_list_size)
            if self.cost.total > self.budget and run.result is None:
                metrics.COST_REFUSED.inc()
                run.result = GraphQLExecutionResult(data=None, errors=[self._refusal(self.cost)])
        yield

    def _cost(self, assumed_list_size: int) -> Cost:
        run = self.execution_context
        document = run.graphql_document
        assert document is not None
        variables = run.variables or {}
        # what a cost reads from variables: integers (list sizes) and the lengths of lists (``nodes(ids:)``)
        sizes = tuple(sorted((k, _size_of(v)) for k, v in variables.items() if type(v) is int or isinstance(v, list)))
        key = (run.query, run.operation_name, sizes, assumed_list_size) if run.query else None

        def compute() -> Cost:
            schema = run.schema._schema
            return operation_cost(schema, document, run.operation_name, variables, assumed_list_size=assumed_list_size)

        return self.cache.get_or_compute(key, compute) if key else compute()

    def _refusal(self, cost: Cost) -> CostLimitExceeded:
        return CostLimitExceeded(
            f"this operation's estimated cost {cost.total} is over the budget of {self.budget}: ask for fewer "
            "items (first), fewer aliases or fewer nested lists, or split it into several requests",
            cost=cost.total,
            budget=self.budget,
            courtCalls=cost.court_calls,
        )

    def get_results(self) -> dict[str, Any]:
        asked = (self.execution_context.operation_extensions or {}).get(ASK) is True
        if not asked or self.cost is None:
            return {}
        return {"cost": {"estimated": self.cost.total, "courtCalls": self.cost.court_calls, "budget": self.budget}}


def _size_of(value: int | list[Any]) -> int:
    return value if isinstance(value, int) else len(value)
