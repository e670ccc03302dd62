"""The format of cached values, named in their keys so that two versions of the gateway never read each
other's objects.

Cached values are pickles of the canonical model (``gateway.adapters.model``). During a rolling upgrade
old and new replicas share one Redis: a new replica unpickling an old ``Case`` (a field missing, an enum
member renamed) would fail or, worse, hand out a half-built object. So every value key carries
:data:`VALUE_FORMAT`, which changes by itself whenever a model dataclass gains, loses or retypes a field
or an enum changes its members, and by hand (:data:`REVISION`) when the shape of what is cached changes
elsewhere. Invariant: two processes share cached values only if they would pickle them identically.
Generation counters are plain integers and carry no format: a bump made by either version retires the
answers of both.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
from types import ModuleType

from gateway.adapters import model

#: raise when what is cached changes shape outside the canonical model (a tuple gains a member, …)
REVISION = 2  # 2: one case's record is cached with when its court gave it


def fingerprint(module: ModuleType) -> str:
    """A short hash of every dataclass's fields (names and declared types) and every enum's members."""
    parts: list[str] = []
    for name, value in sorted(vars(module).items()):
        if not inspect.isclass(value) or value.__module__ != module.__name__:
            continue
        if dataclasses.is_dataclass(value):
            parts.append(f"{name}({', '.join(f'{f.name}: {f.type}' for f in dataclasses.fields(value))})")
        elif issubclass(value, enum.Enum):
            parts.append(f"{name}{{{', '.join(f'{m.name}={m.value!r}' for m in value)}}}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]


#: ``v<revision>.<fingerprint of the canonical model>``, the second segment of every value key
VALUE_FORMAT = f"v{REVISION}.{fingerprint(model)}"
