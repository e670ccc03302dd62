"""Case numbers (案号) per 法〔2015〕137号 as amended by 法〔2018〕335号, and their pre-2016 forms.

A case number alone identifies its court, so it is the routing key of every single-case request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.adapters.model import Procedure

#: type code (类型代字) → procedure. The parser tries longer codes first (执恢 before 执, 破申 before 破).
TYPE_CODES: dict[str, Procedure] = {
    "民初": Procedure.FIRST_INSTANCE,
    "民终": Procedure.SECOND_INSTANCE,
    "民申": Procedure.RETRIAL_REVIEW,
    "民再": Procedure.RETRIAL,
    "民特": Procedure.SPECIAL,
    "民督": Procedure.PAYMENT_ORDER,
    "民撤": Procedure.REVOCATION,
    "刑初": Procedure.FIRST_INSTANCE,
    "刑终": Procedure.SECOND_INSTANCE,
    "行初": Procedure.FIRST_INSTANCE,
    "行终": Procedure.SECOND_INSTANCE,
    "行审": Procedure.NON_LITIGATION_REVIEW,
    "行申": Procedure.RETRIAL_REVIEW,
    "执": Procedure.ENFORCEMENT,
    "执恢": Procedure.ENFORCEMENT_RESUMED,
    "执异": Procedure.ENFORCEMENT_OBJECTION,
    "执复": Procedure.ENFORCEMENT_REVIEW,
    "执保": Procedure.PRESERVATION,
    "财保": Procedure.PRESERVATION,
    "破申": Procedure.BANKRUPTCY_APPLICATION,
    "破": Procedure.BANKRUPTCY,
}


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
    return f"（{year}）{court_code}{special}{type_code}{number}号{suffix}"


#: specialised-trial characters (专门审判代字) that may stand between court code and type code.
#: Only these two: every type code starts with 民/刑/行/执/财/破, so they can never be confused with one.
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

# --- the named parts -------------------------------------------------------------------------------------

_ONES = "一二三四五六七八九"
#: 之一 … 之十, and on to 之九十九 for the rare case that has more than ten related numbers
_SUFFIX = re.compile(rf"之(?:[{_ONES}]|十[{_ONES}]?|[二三四五六七八九]十[{_ONES}]?)")
#: （收案年度） at the very start
_YEAR = re.compile(r"\(([^()]*)\)")
_NUMBER_AT_END = re.compile(r"[0-9]+$")
#: pre-2016 forms end their prefix in 字第 before the number: (2015)穗中法民一终字第506号
_LEGACY_MARK = "字第"
#: division ordinal in pre-2016 forms: 民一 … 民十 (民一庭 … 民十庭)
_DIVISION = "[一二三四五六七八九十]*"
#: tribunal or detachment characters in pre-2016 forms (穗南法南民初字: 南; 穗中法知民终字: 知); lazy, so
#: the first category character (民/刑/行/执/财/破) ends it
_TRIBUNAL = "[\u4e00-\u9fff]{0,3}?"


def _alternation(options: Iterable[str]) -> str:
    """A regex alternation, longest option first, so 执恢 is tried before 执 and 粤0104 before 粤01."""
    return "|".join(re.escape(o) for o in sorted(set(options), key=lambda o: (-len(o), o)))


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A parsed case number: which court, which year, which procedure, and its canonical text."""

    year: int
    court_code: str  # today's code (粤0104), also for pre-2016 numbers
    special: str  # 专门审判代字 such as 知, "" if none
    type_code: str  # a key of TYPE_CODES
    number: int
    suffix: str  # "" or 之一, 之二, …
    legacy: bool  # a pre-2016 …字第…号 form
    text: str  # canonical: full-width brackets, no spaces, half-width digits

    @property
    def procedure(self) -> Procedure:
        """The procedure the type code stands for (民初 → first instance, …)."""
        return TYPE_CODES[self.type_code]

    def __str__(self) -> str:
        return self.text


class InvalidCaseNumber(ValueError):
    """Input that is not a case number; the message says why, in Chinese and English, for the client."""

    def __init__(self, text: str, zh: str, en: str) -> None:
        self.text = text
        self.reason = en
        super().__init__(f"不是有效的案号 / not a case number: {zh} / {en} ({text!r})")


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
        self._codes = frozenset(codes)
        specials = tuple(special_chars)
        special = f"(?P<special>{_alternation(specials)})?" if specials else "(?P<special>)"
        self._specials = frozenset(specials)
        # modern middle part: 粤0104 + 知? + 民初
        types = f"(?P<type>{_alternation(TYPE_CODES)})"
        self._modern = re.compile(rf"(?P<court>{_alternation(codes)}){special}{types}")
        self._modern_tail = re.compile(f"{special}{types}$")  # to name an unknown court code in errors
        # pre-2016 middle part (before 字第): 穗中法 + tribunal? + 民 + 一? + 终
        categories = "".join(sorted({t[0] for t in TYPE_CODES}))
        stages = "".join(sorted({c for t in TYPE_CODES for c in t[1:]}))
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
        s = _NOISE.sub("", text).translate(_TRANSLATE)
        if not s:
            raise InvalidCaseNumber(text, "空", "empty")
        year_match = _YEAR.match(s)
        if year_match is None:
            raise InvalidCaseNumber(text, "缺少括号中的收案年度", "missing year in brackets")
        year_text = year_match.group(1)
        if not (len(year_text) == 4 and year_text.isascii() and year_text.isdigit()):
            raise InvalidCaseNumber(text, "年度应为四位数字", f"year must be four digits, got {year_text!r}")
        year = int(year_text)
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidCaseNumber(text, "年度超出范围", f"year {year} out of range {MIN_YEAR}-{MAX_YEAR}")

        head, sep, suffix = s[year_match.end() :].rpartition("号")
        if not sep:
            raise InvalidCaseNumber(text, "缺少“号”", "missing 号 after the number")
        if suffix and not _SUFFIX.fullmatch(suffix):
            raise InvalidCaseNumber(text, "“号”后有多余内容", f"unexpected {suffix!r} after 号 (only 之一, 之二, …)")
        number_match = _NUMBER_AT_END.search(head)
        if number_match is None:
            raise InvalidCaseNumber(text, "缺少案件序号", "missing the number before 号")
        number = int(number_match.group())
        if number <= 0:
            raise InvalidCaseNumber(text, "案件序号应为正数", "number must be positive")
        middle = head[: number_match.start()]

        if middle.endswith(_LEGACY_MARK):
            return self._parse_legacy(text, year, middle.removesuffix(_LEGACY_MARK), number, suffix)
        return self._parse_modern(text, year, middle, number, number_match.group(), suffix)

    def _parse_modern(self, text: str, year: int, middle: str, number: int, digits: str, suffix: str) -> CaseNumber:
        """（2023）粤0104民初123号之一: court code, special character, type code."""
        m = self._modern.fullmatch(middle)
        if m is None:
            raise self._modern_failure(text, middle, digits)
        court, special, type_code = m.group("court"), m.group("special") or "", m.group("type")
        canonical = format_case_number(year, court, type_code, number, special=special, suffix=suffix)
        return CaseNumber(year, court, special, type_code, number, suffix, False, canonical)

    def _modern_failure(self, text: str, middle: str, digits: str) -> InvalidCaseNumber:
        """Say which part of a modern number's middle is wrong: the court code or the type code."""
        # a configured code followed by another digit is the start of an unknown longer code (粤01 in 粤0199)
        known = [c for c in self._codes if middle.startswith(c) and not middle[len(c) : len(c) + 1].isdigit()]
        if not known:
            # the code's own digits ran into the number: （2023）粤0104123号
            if any(code.startswith(middle) and (middle + digits).startswith(code) for code in self._codes):
                return InvalidCaseNumber(text, "缺少类型代字", "missing type code (民初, 执, …)")
            if any(middle.startswith(abbreviation) for abbreviation in self._old):
                return InvalidCaseNumber(text, "旧式案号缺少“字第”", "old-style court abbreviation without 字第")
            tail = self._modern_tail.search(middle)
            court = middle[: tail.start()] if tail is not None else middle
            if not court:
                return InvalidCaseNumber(text, "缺少法院代字", "missing court code")
            return InvalidCaseNumber(text, f"未知的法院代字 {court}", f"unknown court code {court!r}")
        court = max(known, key=len)
        rest = middle[len(court) :]
        if rest[:1] in self._specials:
            rest = rest[1:]
        if not rest:
            return InvalidCaseNumber(text, "缺少类型代字", f"missing type code after court code {court}")
        return InvalidCaseNumber(text, f"未知的类型代字 {rest}", f"unknown type code {rest!r} after court code {court}")

    def _parse_legacy(self, text: str, year: int, middle: str, number: int, suffix: str) -> CaseNumber:
        """(2015)穗中法民一终字第506号: old abbreviation, tribunal, category, division, stage."""
        m = self._legacy.fullmatch(middle) if self._legacy is not None else None
        if m is None:
            if not any(middle.startswith(abbreviation) for abbreviation in self._old):
                raise InvalidCaseNumber(text, "未知的旧式法院简称", f"unknown old court abbreviation in {middle!r}")
            raise InvalidCaseNumber(text, "无法识别旧式案号的类型", f"unknown type code in old form {middle}字第")
        type_code = m.group("category") + m.group("stage")
        if type_code not in TYPE_CODES:
            raise InvalidCaseNumber(
                text, f"未知的类型代字 {type_code}", f"unknown type code {type_code!r} in old form {middle}字第"
            )
        tribunal = m.group("tribunal")
        special = tribunal if tribunal in self._specials else ""
        canonical = f"（{year}）{middle}{_LEGACY_MARK}{number}号{suffix}"
        return CaseNumber(year, self._old[m.group("abbr")], special, type_code, number, suffix, True, canonical)
