"""The import graph of ``gateway`` and ``adapters`` has no circles, and the layers point one way.

Every import counts, at module level, inside functions and under ``TYPE_CHECKING``: a circle hidden in a
function is still a circle for the next engineer. Layers (DESIGN §5): the adapters and the domain packages
never import the GraphQL layer (``gateway.schema``, ``gateway.resolvers``, ``gateway.context``, ``gateway.app``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "adapters")
GRAPHQL_LAYER = ("gateway.schema", "gateway.resolvers", "gateway.context", "gateway.app", "gateway.errors")
DOMAIN_PACKAGES = (
    "gateway.core",
    "gateway.cases",
    "gateway.documents",
    "gateway.filings",
    "gateway.archive",
    "gateway.tickets",
    "gateway.bindings",
    "gateway.notifications",
    "gateway.work_queue",
    "gateway.oauth",
    "gateway.feeds",
    "gateway.webhooks",
    "gateway.calendar",
    "gateway.store",
    "gateway.adapters",
    "adapters",
)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from a import b`` counts as ``a.b`` when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    assert cycles(graph()) == []


def test_the_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_domains_and_adapters_never_import_the_graphql_layer() -> None:
    edges = graph()
    upward = sorted(
        (module, target)
        for module, targets in edges.items()
        if module.startswith(DOMAIN_PACKAGES)
        for target in targets
        if target.startswith(GRAPHQL_LAYER)
    )
    assert upward == []
