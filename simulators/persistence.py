"""Simulated courts that remember: their records saved to disk after every change and reloaded at start.

A court's system does not forget filings when it restarts, so the demo's courts do not either: what
happened since the seeded world was generated (filings and their receipts, signatures, lawyers entered,
served documents, changed cases, the change feed) is written, one file per backend, after every change,
atomically (a temporary file, then a rename), so even a killed process leaves the last complete record.
The seeded world itself is regenerated from its seed; faults, sessions and request counters are not
records and start afresh, as they would after a real restart.

Records are reloaded all or none: each file names the world it belongs to (seed and size) and its
backend, and only when every backend's file is there and belongs to this world are they loaded. Anything
else (a first run, another seed or size, a file from an older version) starts every backend from its seed
and says so, so that the courts never disagree with one another about what happened.

The files are the simulators' own, written and read only by this code on the operator's disk (never
from the network), so they are pickles of the records' dataclasses.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from simulators.generator import World
from simulators.state import BackendState, CourtState

log = logging.getLogger("simulators")

#: bumped when the saved shape changes: older files are then ignored (the courts start from their seed)
FORMAT = 1
#: the records each kind of backend keeps beyond the seeded world
BACKEND_RECORDS = ("events", "signatures", "extra_documents")
COURT_RECORDS = (*BACKEND_RECORDS, "overrides", "extra_people", "filings", "agent_writes", "receipts_issued")


@dataclass(frozen=True, slots=True)
class Restored:
    """What ``attach`` found: whether the records of an earlier run were reloaded, and if not, why."""

    loaded: bool
    reason: str


def world_key(world: World) -> dict[str, Any]:
    """What a saved state must match to be loaded into ``world``."""
    return {"format": FORMAT, "seed": world.seed, "cases": world.case_count()}


class StateFiles:
    """The saved records of a cluster's backends, in ``directory`` (one ``<slug>.pickle`` each)."""

    def __init__(self, directory: Path, world: World) -> None:
        self.directory = directory
        self.key = world_key(world)

    def path(self, state: BackendState) -> Path:
        return self.directory / f"{state.config.slug}.pickle"

    def attach(self, states: Iterable[BackendState]) -> Restored:
        """Reload every backend's records (all or none), then save each one after every change."""
        states = list(states)
        saved = [self._read(s) for s in states]
        complete = all(records is not None for records in saved)
        if complete:
            for state, records in zip(states, saved, strict=True):
                for name, value in (records or {}).items():
                    setattr(state, name, value)
            reason = f"reloaded the courts' records from {self.directory}"
        else:
            missing = sum(records is None for records in saved)
            reason = (
                f"no saved records in {self.directory} for this world"
                if missing == len(states)
                else f"{missing} of {len(states)} courts have no saved records in {self.directory} for this world"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        for state in states:
            self.save(state)
            state.on_change = partial(self.save, state)
        return Restored(complete, reason)

    def save(self, state: BackendState) -> None:
        path = self.path(state)
        temporary = path.with_suffix(".tmp")
        header = {**self.key, "backend": state.code}
        with temporary.open("wb") as f:
            pickle.dump((header, _records(state)), f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)

    def _read(self, state: BackendState) -> dict[str, Any] | None:
        """The backend's saved records, or None when there are none for this world (or they cannot be read)."""
        path = self.path(state)
        try:
            with path.open("rb") as f:
                header, records = pickle.load(f)  # our own file: see the module docstring
        except FileNotFoundError:
            return None
        except Exception as e:  # an older version's classes, a truncated file: start from the seed
            log.warning("cannot read %s (%s): %s starts from its seed", path, type(e).__name__, state.code)
            return None
        if header != {**self.key, "backend": state.code} or set(records) != set(_names(state)):
            return None
        return dict(records)


def _names(state: BackendState) -> tuple[str, ...]:
    return COURT_RECORDS if isinstance(state, CourtState) else BACKEND_RECORDS


def _records(state: BackendState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _names(state)}
