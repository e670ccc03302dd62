"""An operator's file of State Council holiday schedules newer than (or correcting) the holiday library.

The State Council publishes each year's schedule (国务院办公厅关于XXXX年部分节假日安排的通知) late in the
year before; until a release of ``chinese-calendar`` carries it, the operator copies it into a TOML file
named by the ``calendar_override_file`` setting, one table per year::

    # 国务院办公厅关于2027年部分节假日安排的通知
    [2027]
    holidays = [2027-01-01, 2027-02-05, 2027-02-06]   # days off (statutory and bridge days)
    workdays = [2027-02-20]                           # make-up working days (调休)

Invariants: a listed day is off (``holidays``) or working (``workdays``) whatever else says so; a year
with a table counts as published (its unlisted days follow the holiday library, else the statutory
holidays and the weekend); a day is never both. A schedule may reach into the year before (the 2019
schedule made 2018-12-29 a working day), so a table's days lie in its year or the one before it.
Anything else in the file is refused with the file, the table and the value named: a calendar that
silently ignores half of what an operator wrote is worse than one that does not start.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: a year's schedule is a few dozen lines; anything near this is not one
MAX_FILE_BYTES = 256 * 1024
#: what a year's table may hold: days off, and working days
KINDS = {"holidays": False, "workdays": True}


class ScheduleFileError(ValueError):
    """The override file cannot be read or is not a schedule (the message names the file and what is wrong)."""


@dataclass(frozen=True, slots=True)
class ScheduleOverrides:
    """Published schedules by the operator: which years they cover and, per day, whether it is worked."""

    #: where they came from, for messages
    source: str = ""
    years: frozenset[int] = frozenset()
    #: day → True (a working day) or False (a day off)
    days: Mapping[date, bool] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def load(cls, path: Path) -> ScheduleOverrides:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ScheduleFileError(f"{path}: {size} bytes; a schedule file holds at most {MAX_FILE_BYTES}")
            with path.open("rb") as f:
                raw = tomllib.load(f)
        except OSError as e:
            raise ScheduleFileError(f"{path}: cannot read it ({e.strerror})") from e
        except tomllib.TOMLDecodeError as e:
            raise ScheduleFileError(f"{path}: not TOML ({e})") from e
        return cls.parse(raw, source=str(path))

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, source: str) -> ScheduleOverrides:
        years: set[int] = set()
        days: dict[date, bool] = {}
        for key, table in raw.items():
            year = _year(key, source)
            if not isinstance(table, dict):
                raise ScheduleFileError(f"{source}: [{key}] must be a table with holidays and workdays")
            unknown = sorted(set(table) - set(KINDS))
            if unknown:
                raise ScheduleFileError(f"{source}: [{key}] has {', '.join(unknown)}; only holidays and workdays")
            for kind, working in KINDS.items():
                for day in _days(table.get(kind, []), year, f"{source}: [{key}] {kind}"):
                    if days.setdefault(day, working) != working:
                        raise ScheduleFileError(f"{source}: {day} is listed both as a holiday and as a workday")
            years.add(year)
        return cls(source=source, years=frozenset(years), days=MappingProxyType(days))


def _year(key: str, source: str) -> int:
    if not (key.isascii() and key.isdigit() and len(key) == 4):
        raise ScheduleFileError(f"{source}: [{key[:20]}] is not a year; tables are named by year, e.g. [2027]")
    return int(key)


def _days(values: Any, year: int, where: str) -> list[date]:
    if not isinstance(values, list):
        raise ScheduleFileError(f"{where} must be a list of dates, e.g. [{year}-01-01]")
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise ScheduleFileError(f"{where}: {str(value)[:40]!r} is not a date (write it bare: {year}-01-01)")
        if value.year not in (year - 1, year):
            raise ScheduleFileError(f"{where}: {value} lies neither in {year} nor in {year - 1}")
    return values
