"""Case numbers (案号) per 法〔2015〕137号 as amended by 法〔2018〕335号, and their pre-2016 forms.

A case number alone identifies its court, so it is the routing key of every single-case request.

Invariants:
- The type codes come from data, ``casenumber_codes.toml`` (the published 类型代字 table with its sources);
  ``TYPE_CODES`` maps each code to its procedure stage, ``TYPE_TABLE`` adds category and name.
- The court decides: a number whose court is configured parses even when its type code is not in the table
  (``type_known`` is False, the procedure ``UNKNOWN``), so a real number is never refused for a code the
  table lacks. Each such code is logged once. A type code must still look like one (1-4 汉字).
- Parsing is linear in the input: anything longer than ``MAX_LENGTH`` after trimming is refused before any
  regex runs, and no regex has nested or overlapping quantifiers.
- No message quotes more than ``QUOTE_LENGTH`` characters of the input.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Protocol

from gateway.adapters.model import Procedure

log = logging.getLogger("gateway.casenumber")


@dataclass(frozen=True, slots=True)
class TypeCode:
    """One row of 人民法院案件类型及其代字标准."""

    code: str  # 民辖终
    category: str  # 管辖 (the 大类; 国家赔偿 and 司法救助 kept apart)
    stage: Procedure  # what the court does in such a case
    name: str  # 民事管辖上诉案件 (the 小类 names, joined by ； when the code stands for several)
    standard: tuple[str, ...]  # the 小类 classification numbers: ("0109",)


def _load_table() -> dict[str, TypeCode]:
    """The table shipped beside this module; a broken file fails at import, not on some request."""
    text = resources.files("gateway").joinpath("casenumber_codes.toml").read_text(encoding="utf-8")
    return {
        code: TypeCode(code, row["category"], Procedure(row["stage"]), row["name"], tuple(row["standard"]))
        for code, row in tomllib.loads(text)["codes"].items()
    }


#: type code (类型代字) → its row of the standard
TYPE_TABLE: Mapping[str, TypeCode] = MappingProxyType(_load_table())
#: type code → procedure stage (民初 → first instance, …); what adapters and simulators look up
TYPE_CODES: dict[str, Procedure] = {code: row.stage for code, row in TYPE_TABLE.items()}
#: the categories, in the standard's order
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(row.category for row in TYPE_TABLE.values()))

#: the longest input considered, after trimming; real numbers are at most about 25 characters
MAX_LENGTH = 64
#: how much of the input a message may quote
QUOTE_LENGTH = 32
#: distinct unknown type codes remembered (and logged) per parser; bounded so input cannot grow memory
MAX_UNKNOWN_NOTED = 256


def format_case_number(
    year: int,
    court_code: str,
    type_code: str,
    number: int,
    *,
    special: str = "",
    suffix: str = "",
) -> str:
    """The canonical form: full-width brackets, e.g. （2023）粤0104民初12345号 or …号之一."""
    if type_code not in TYPE_CODES:
        raise ValueError(f"unknown type code {type_code!r}")
    return _canonical(year, court_code, special, type_code, number, suffix)


def _canonical(year: int, court_code: str, special: str, type_code: str, number: int, suffix: str) -> str:
    return f"（{year}）{court_code}{special}{type_code}{number}号{suffix}"


#: specialised-trial characters (专门审判代字) that may stand between court code and type code.
#: No type code starts with one of them (the parser checks), so they can never be confused with one.
SPECIAL_CHARS: tuple[str, ...] = ("知", "金")

#: year range accepted in 收案年度 (the People's Republic's courts onward, with headroom).
MIN_YEAR, MAX_YEAR = 1949, 2100

# --- normalisation: what people and legacy systems actually type ----------------------------------------

_TRANSLATE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},  # ０-９ → 0-9
        **dict.fromkeys("（〔[［", "("),
        **dict.fromkeys("）〕]］", ")"),
    }
)
#: every kind of whitespace (incl. the ideographic space U+3000) and invisible zero-width characters
_NOISE = re.compile(r"[\s\u200b\u200c\u200d\ufeff]+")
_DIGITS = "0123456789"
_DIGIT_SET = frozenset(_DIGITS)

# --- the named parts -------------------------------------------------------------------------------------

_ONES = "一二三四五六七八九"
#: 之一 … 之十, and on to 之九十九 for the rare case that has more than ten related numbers
_SUFFIX = re.compile(rf"之(?:[{_ONES}]|十[{_ONES}]?|[二三四五六七八九]十[{_ONES}]?)")
#: （收案年度） at the very start
_YEAR = re.compile(r"\(([^()]*)\)")
#: pre-2016 forms end their prefix in 字第 before the number: (2015)穗中法民一终字第506号
_LEGACY_MARK = "字第"
#: division ordinal in pre-2016 forms: 民一 … 民十 (民一庭 … 民十庭); no type code uses these characters
_DIVISION = "[一二三四五六七八九十]*"
#: tribunal or detachment characters in pre-2016 forms (穗南法南民初字: 南; 穗中法知民终字: 知); lazy, so
#: the first category character ends it
_TRIBUNAL = "[\u4e00-\u9fff]{0,3}?"
#: what a type code the table does not know may look like: 1-4 汉字 (第七条 says 3 at most; 民诉前调 has 4)
_UNKNOWN_TYPE = re.compile("[\u4e00-\u9fff]{1,4}")
#: characters of the number's own frame, never part of a type code
_FRAME = frozenset("号字第之")


def _clip(text: str) -> str:
    """At most QUOTE_LENGTH characters of input, marked with … when cut."""
    text = text.strip()
    return text if len(text) <= QUOTE_LENGTH else text[:QUOTE_LENGTH] + "…"


def _quote(text: str) -> str:
    return repr(_clip(text))


def _alternation(options: Iterable[str]) -> str:
    """A regex alternation, longest option first."""
    return "|".join(re.escape(o) for o in sorted(set(options), key=lambda o: (-len(o), o)))


def _split_number(head: str) -> tuple[str, str]:
    """(what precedes the trailing digits, the trailing digits), in one linear pass."""
    rest = head.rstrip(_DIGITS)
    return rest, head[len(rest) :]


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A parsed case number: which court, which year, which procedure, and its canonical text."""

    year: int
    court_code: str  # today's code (粤0104), also for pre-2016 numbers
    special: str  # 专门审判代字 such as 知, "" if none
    type_code: str  # a key of TYPE_TABLE, unless type_known is False
    number: int
    suffix: str  # "" or 之一, 之二, …
    legacy: bool  # a pre-2016 …字第…号 form
    text: str  # canonical: full-width brackets, no spaces, half-width digits

    @property
    def type_known(self) -> bool:
        """False for a type code the table lacks; the number still names its court."""
        return self.type_code in TYPE_TABLE

    @property
    def procedure(self) -> Procedure:
        """The procedure the type code stands for (民初 → first instance, …), UNKNOWN if not in the table."""
        return TYPE_CODES.get(self.type_code, Procedure.UNKNOWN)

    @property
    def category(self) -> str | None:
        """The type code's category (民事, 管辖, 司法救助 …), None if not in the table."""
        row = TYPE_TABLE.get(self.type_code)
        return row.category if row is not None else None

    def __str__(self) -> str:
        return self.text


def category_of(type_code: str) -> str | None:
    """The category of a type code, None for one the table lacks."""
    row = TYPE_TABLE.get(type_code)
    return row.category if row is not None else None


class InvalidCaseNumber(ValueError):
    """Input that is not a case number; the message says why, in Chinese and English, for the client.

    ``text`` keeps the raw input for the caller's own use; never echo it: the message quotes a short prefix.
    """

    def __init__(self, text: str, zh: str, en: str) -> None:
        self.text = text
        self.reason = en
        super().__init__(f"不是有效的案号 / not a case number: {zh} / {en} ({_quote(text)})")


class CourtLike(Protocol):
    """What the parser needs of a court's configuration (gateway.config.CourtConfig fits)."""

    @property
    def code(self) -> str: ...

    @property
    def old_abbreviations(self) -> tuple[str, ...]: ...

    @property
    def is_court(self) -> bool: ...


class CaseNumberParser:
    """Parses case numbers of the configured courts, modern and pre-2016, into CaseNumber.

    Courts come from configuration only, so a 14th court's numbers parse once it is configured.
    Parsing runs in stages (year, number and 号, then the middle) so that a failure can say exactly
    which part is wrong instead of a bare "no match".
    """

    def __init__(self, courts: Iterable[CourtLike], *, special_chars: Iterable[str] = SPECIAL_CHARS) -> None:
        codes: set[str] = set()
        self._old: dict[str, str] = {}  # old abbreviation (穗中法) → today's code (粤01)
        for court in courts:
            if not court.is_court:
                continue
            if court.code in codes:
                raise ValueError(f"court code configured twice: {court.code}")
            codes.add(court.code)
            for abbreviation in court.old_abbreviations:
                if self._old.get(abbreviation, court.code) != court.code:
                    raise ValueError(f"old abbreviation {abbreviation} configured for two courts")
                self._old[abbreviation] = court.code
        if not codes:
            raise ValueError("no courts configured")
        self._codes = tuple(sorted(codes, key=len, reverse=True))  # longest first: 粤0104 before 粤01
        self._specials = frozenset(special_chars)
        if clash := sorted(code for code in TYPE_TABLE if code[0] in self._specials):
            raise ValueError(f"type codes start with a specialised-trial character: {clash}")
        self._unknown_noted: set[str] = set()
        # pre-2016 middle part (before 字第): 穗中法 + tribunal? + 民 + 一? + 终
        categories = "".join(sorted({t[0] for t in TYPE_TABLE}))
        stages = "".join(sorted({c for t in TYPE_TABLE for c in t[1:]}))
        self._legacy = (
            re.compile(
                rf"(?P<abbr>{_alternation(self._old)})(?P<tribunal>{_TRIBUNAL})"
                rf"(?P<category>[{categories}]){_DIVISION}(?P<stage>[{stages}]*)"
            )
            if self._old
            else None
        )

    def parse(self, text: str) -> CaseNumber:
        """The structured case number; raises InvalidCaseNumber saying what is wrong."""
        trimmed = text.strip()
        if len(trimmed) > MAX_LENGTH:
            raise InvalidCaseNumber(text, "过长", f"too long: more than {MAX_LENGTH} characters")
        s = _NOISE.sub("", trimmed).translate(_TRANSLATE)
        if not s:
            raise InvalidCaseNumber(text, "空", "empty")
        year_match = _YEAR.match(s)
        if year_match is None:
            raise InvalidCaseNumber(text, "缺少括号中的收案年度", "missing year in brackets")
        year_text = year_match.group(1)
        if not (len(year_text) == 4 and year_text.isascii() and year_text.isdigit()):
            raise InvalidCaseNumber(text, "年度应为四位数字", f"year must be four digits, got {_quote(year_text)}")
        year = int(year_text)
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidCaseNumber(text, "年度超出范围", f"year {year} out of range {MIN_YEAR}-{MAX_YEAR}")

        head, marked, suffix = self._number_and_suffix(s[year_match.end() :])
        if suffix and not _SUFFIX.fullmatch(suffix):
            raise InvalidCaseNumber(
                text, "“号”后有多余内容", f"unexpected {_quote(suffix)} after 号 (only 之一, 之二, …)"
            )
        middle, digits = _split_number(head)
        if not digits:
            if marked:
                raise InvalidCaseNumber(text, "缺少案件序号", "missing the number before 号")
            raise InvalidCaseNumber(text, "缺少案件序号和“号”", "missing the number (and 号) at the end")
        number = int(digits)
        if number <= 0:
            raise InvalidCaseNumber(text, "案件序号应为正数", "number must be positive")

        if middle.endswith(_LEGACY_MARK):
            return self._parse_legacy(text, year, middle.removesuffix(_LEGACY_MARK), number, suffix)
        return self._parse_modern(text, year, middle, number, digits, suffix)

    @staticmethod
    def _number_and_suffix(rest: str) -> tuple[str, bool, str]:
        """Split off 号 and what follows it: (head, whether 号 was there, suffix).

        People leave out 号 (（2023）粤0104民初123); without it the number still ends the text, or a
        之一 suffix follows the number directly.
        """
        head, sep, suffix = rest.rpartition("号")
        if sep:
            return head, True, suffix
        before, of, ordinal = rest.rpartition("之")
        if of and before[-1:] in _DIGIT_SET and _SUFFIX.fullmatch(of + ordinal):
            return before, False, of + ordinal
        return rest, False, ""

    def _parse_modern(self, text: str, year: int, middle: str, number: int, digits: str, suffix: str) -> CaseNumber:
        """（2023）粤0104民初123号之一: court code, special character, type code."""
        court = self._court_at(middle)
        if court is None:
            raise self._court_failure(text, middle, digits)
        rest = middle[len(court) :]
        special = ""
        if rest[:1] in self._specials:
            special, rest = rest[0], rest[1:]
        if not rest:
            raise InvalidCaseNumber(text, "缺少类型代字", f"missing type code after court code {court}")
        self._check_type(text, rest, f"after court code {court}")
        canonical = _canonical(year, court, special, rest, number, suffix)
        return CaseNumber(year, court, special, rest, number, suffix, False, canonical)

    def _court_at(self, middle: str) -> str | None:
        """The longest configured code that starts the middle, unless more digits follow (粤01 in 粤0199)."""
        for code in self._codes:
            if middle.startswith(code) and middle[len(code) : len(code) + 1] not in _DIGIT_SET:
                return code
        return None

    def _court_failure(self, text: str, middle: str, digits: str) -> InvalidCaseNumber:
        """Say why no configured court starts a modern number's middle."""
        # the code's own digits ran into the number: （2023）粤0104123号
        if any(code.startswith(middle) and (middle + digits).startswith(code) for code in self._codes):
            return InvalidCaseNumber(text, "缺少类型代字", "missing type code (民初, 执, …)")
        if any(middle.startswith(abbreviation) for abbreviation in self._old):
            return InvalidCaseNumber(text, "旧式案号缺少“字第”", "old-style court abbreviation without 字第")
        court = self._without_type_code(middle)
        if not court:
            return InvalidCaseNumber(text, "缺少法院代字", "missing court code")
        return InvalidCaseNumber(text, f"未知的法院代字 {_clip(court)}", f"unknown court code {_quote(court)}")

    def _without_type_code(self, middle: str) -> str:
        """The middle without a known type code (and special character) at its end: what names the court."""
        for length in (3, 2, 1):
            if len(middle) >= length and middle[-length:] in TYPE_TABLE:
                court = middle[:-length]
                return court[:-1] if court[-1:] in self._specials else court
        return middle

    def _check_type(self, text: str, type_code: str, where: str) -> None:
        """A known type code passes; an unknown one that looks like a type code passes and is noted once."""
        if type_code in TYPE_TABLE:
            return
        if not _UNKNOWN_TYPE.fullmatch(type_code) or not _FRAME.isdisjoint(type_code):
            raise InvalidCaseNumber(
                text, f"未知的类型代字 {_clip(type_code)}", f"unknown type code {_quote(type_code)} {where}"
            )
        if type_code in self._unknown_noted or len(self._unknown_noted) >= MAX_UNKNOWN_NOTED:
            return
        self._unknown_noted.add(type_code)
        log.warning(
            "unknown type code %s: routed by its court code; add it to casenumber_codes.toml if the standard has it",
            type_code,
        )

    def _parse_legacy(self, text: str, year: int, middle: str, number: int, suffix: str) -> CaseNumber:
        """(2015)穗中法民一终字第506号: old abbreviation, tribunal, category, division, stage."""
        m = self._legacy.fullmatch(middle) if self._legacy is not None else None
        if m is None:
            if not any(middle.startswith(abbreviation) for abbreviation in self._old):
                raise InvalidCaseNumber(
                    text, "未知的旧式法院简称", f"unknown old court abbreviation in {_quote(middle)}"
                )
            raise InvalidCaseNumber(
                text, "无法识别旧式案号的类型", f"unknown type code in old form {_quote(middle + _LEGACY_MARK)}"
            )
        type_code = m.group("category") + m.group("stage")
        self._check_type(text, type_code, f"in old form {_quote(middle + _LEGACY_MARK)}")
        tribunal = m.group("tribunal")
        special = tribunal if tribunal in self._specials else ""
        canonical = f"（{year}）{middle}{_LEGACY_MARK}{number}号{suffix}"
        return CaseNumber(year, self._old[m.group("abbr")], special, type_code, number, suffix, True, canonical)
