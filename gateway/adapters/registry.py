"""From configuration to adapters: one adapter per configured backend, each behind resilience.

A protocol family is one adapter module; the map below is the only place that names them. Courts are
never named in code: they come from the court files of ``gateway.config``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

from gateway.adapters.contract import CourtAdapter
from gateway.adapters.resilience import CourtHealth, ResilientAdapter
from gateway.config import CourtConfig

#: protocol family → the adapter class that speaks it
FAMILY_ADAPTERS = {
    "v2-rest": "gateway.adapters.v2rest:V2RestAdapter",
    "soap-gbk": "adapters.basic_courts.soap_gbk:SoapGbkAdapter",
    "jsonrpc-sign": "adapters.basic_courts.jsonrpc_sign:JsonRpcSignAdapter",
    "csv-export": "adapters.basic_courts.csv_export:CsvExportAdapter",
}


def adapter_class(family: str) -> type[CourtAdapter]:
    try:
        module, _, name = FAMILY_ADAPTERS[family].partition(":")
    except KeyError:
        raise ValueError(f"no adapter for protocol family {family!r}") from None
    cls: type[CourtAdapter] = getattr(importlib.import_module(module), name)
    return cls


def build_adapter(court: CourtConfig) -> CourtAdapter:
    """The bare family adapter for one court (no retries, no breaker): what the contract suite tests."""
    return adapter_class(court.family)(court)


class AdapterRegistry:
    """Every configured backend's resilient adapter, by court code; owns their lifetimes."""

    def __init__(self, courts: Iterable[CourtConfig]) -> None:
        self._adapters = {c.code: ResilientAdapter(build_adapter(c)) for c in courts}

    def __getitem__(self, code: str) -> ResilientAdapter:
        return self._adapters[code]

    def __contains__(self, code: object) -> bool:
        return code in self._adapters

    def __iter__(self) -> Iterator[ResilientAdapter]:
        return iter(self._adapters.values())

    def courts(self) -> list[ResilientAdapter]:
        """The courts (not the national platform), in configuration order."""
        return [a for a in self._adapters.values() if a.court.is_court]

    def platforms(self) -> list[ResilientAdapter]:
        return [a for a in self._adapters.values() if not a.court.is_court]

    def health(self) -> dict[str, CourtHealth]:
        return {code: a.health() for code, a in self._adapters.items()}

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()
