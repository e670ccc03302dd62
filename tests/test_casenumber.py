"""Case numbers (案号): every court, every type code, the pre-2016 forms, sloppy input and garbage.

The parser is built from the configured courts, exactly as the gateway builds it, so these tests also
check that the court files carry every code and old abbreviation a real number may use.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.adapters.model import Procedure
from gateway.casenumber import (
    TYPE_CODES,
    CaseNumber,
    CaseNumberParser,
    InvalidCaseNumber,
    format_case_number,
)
from gateway.config import Settings
from tests.test_casenumber_hostile import EVERY_CODE, ORIGINAL_21

COURTS = Settings().courts
COURT_CODES = sorted(c.code for c in COURTS if c.is_court)
OLD_ABBREVIATIONS = {a: c.code for c in COURTS if c.is_court for a in c.old_abbreviations}
#: the thirteen courts of DESIGN.md §2; the configuration must carry exactly these
EXPECTED_CODES = {
    "粤01", "粤0103", "粤0104", "粤0105", "粤0106", "粤0111", "粤0112",
    "粤0113", "粤0114", "粤0115", "粤0117", "粤0118", "粤0192",
}  # fmt: skip


@pytest.fixture(scope="module")
def parser() -> CaseNumberParser:
    return CaseNumberParser(Settings().courts)


# --- modern numbers (法〔2015〕137号): text, year, court, special, type, number, suffix -------------------

MODERN: list[tuple[str, int, str, str, str, int, str]] = [
    # every type code once
    ("（2023）粤0104民初12345号", 2023, "粤0104", "", "民初", 12345, ""),
    ("（2024）粤01民终28497号", 2024, "粤01", "", "民终", 28497, ""),
    ("（2022）粤01民申1024号", 2022, "粤01", "", "民申", 1024, ""),
    ("（2021）粤01民再77号", 2021, "粤01", "", "民再", 77, ""),
    ("（2023）粤0106民特301号", 2023, "粤0106", "", "民特", 301, ""),
    ("（2023）粤0111民督15号", 2023, "粤0111", "", "民督", 15, ""),
    ("（2020）粤0192民撤2号", 2020, "粤0192", "", "民撤", 2, ""),
    ("（2023）粤0103刑初456号", 2023, "粤0103", "", "刑初", 456, ""),
    ("（2023）粤01刑终789号", 2023, "粤01", "", "刑终", 789, ""),
    ("（2022）粤0105行初88号", 2022, "粤0105", "", "行初", 88, ""),
    ("（2023）粤01行终1200号", 2023, "粤01", "", "行终", 1200, ""),
    ("（2023）粤0112行审5号", 2023, "粤0112", "", "行审", 5, ""),
    ("（2021）粤01行申42号", 2021, "粤01", "", "行申", 42, ""),
    ("（2023）粤0113执9876号", 2023, "粤0113", "", "执", 9876, ""),
    ("（2023）粤0114执恢30号", 2023, "粤0114", "", "执恢", 30, ""),
    ("（2023）粤0115执异12号", 2023, "粤0115", "", "执异", 12, ""),
    ("（2022）粤01执复66号", 2022, "粤01", "", "执复", 66, ""),
    ("（2023）粤0117执保401号", 2023, "粤0117", "", "执保", 401, ""),
    ("（2023）粤0118财保23号", 2023, "粤0118", "", "财保", 23, ""),
    ("（2023）粤01破申7号", 2023, "粤01", "", "破申", 7, ""),
    ("（2019）粤01破3号", 2019, "粤01", "", "破", 3, ""),
    # every court again, with other type codes
    ("（2023）粤0103民初1号", 2023, "粤0103", "", "民初", 1, ""),
    ("（2023）粤0103执异2号", 2023, "粤0103", "", "执异", 2, ""),
    ("（2023）粤0104破申1号", 2023, "粤0104", "", "破申", 1, ""),
    ("（2023）粤0104执恢1号", 2023, "粤0104", "", "执恢", 1, ""),
    ("（2023）粤0105民初99999号", 2023, "粤0105", "", "民初", 99999, ""),
    ("（2023）粤0105执保18号", 2023, "粤0105", "", "执保", 18, ""),
    ("（2023）粤0106刑初12号", 2023, "粤0106", "", "刑初", 12, ""),
    ("（2023）粤0111执恢4号", 2023, "粤0111", "", "执恢", 4, ""),
    ("（2023）粤0111民初1234567号", 2023, "粤0111", "", "民初", 1234567, ""),
    ("（2023）粤0112民初650号", 2023, "粤0112", "", "民初", 650, ""),
    ("（2023）粤0112执1号", 2023, "粤0112", "", "执", 1, ""),
    ("（2023）粤0113民特14号", 2023, "粤0113", "", "民特", 14, ""),
    ("（2023）粤0114财保2号", 2023, "粤0114", "", "财保", 2, ""),
    ("（2023）粤0114民特7号", 2023, "粤0114", "", "民特", 7, ""),
    ("（2023）粤0115民初3321号", 2023, "粤0115", "", "民初", 3321, ""),
    ("（2023）粤0115刑初100号", 2023, "粤0115", "", "刑初", 100, ""),
    ("（2023）粤0117刑初73号", 2023, "粤0117", "", "刑初", 73, ""),
    ("（2023）粤0117民撤1号", 2023, "粤0117", "", "民撤", 1, ""),
    ("（2023）粤0118民督9号", 2023, "粤0118", "", "民督", 9, ""),
    ("（2023）粤0118行初3号", 2023, "粤0118", "", "行初", 3, ""),
    ("（2023）粤0192民初8801号", 2023, "粤0192", "", "民初", 8801, ""),
    ("（2023）粤0192执1号", 2023, "粤0192", "", "执", 1, ""),
    ("（2023）粤01刑初5号", 2023, "粤01", "", "刑初", 5, ""),
    ("（2023）粤01执恢88号", 2023, "粤01", "", "执恢", 88, ""),
    ("（2023）粤01民初1号", 2023, "粤01", "", "民初", 1, ""),
    ("（2023）粤01行初10号", 2023, "粤01", "", "行初", 10, ""),
    # 粤01 must not swallow the digits of 粤0104, nor 粤0104 those of the number
    ("（2023）粤01民初104号", 2023, "粤01", "", "民初", 104, ""),
    ("（2023）粤0104民初104号", 2023, "粤0104", "", "民初", 104, ""),
    # years: first of the new format, modern form before it, the accepted bounds
    ("（2016）粤0104民初1号", 2016, "粤0104", "", "民初", 1, ""),
    ("（2015）粤0106民初10号", 2015, "粤0106", "", "民初", 10, ""),
    ("（1949）粤01民初1号", 1949, "粤01", "", "民初", 1, ""),
    ("（2100）粤01民初1号", 2100, "粤01", "", "民初", 1, ""),
    # suffixes
    ("（2023）粤0104民初123号之一", 2023, "粤0104", "", "民初", 123, "之一"),
    ("（2023）粤01民终5000号之二", 2023, "粤01", "", "民终", 5000, "之二"),
    ("（2022）粤0106执10号之三", 2022, "粤0106", "", "执", 10, "之三"),
    ("（2021）粤0111民初7号之十", 2021, "粤0111", "", "民初", 7, "之十"),
    ("（2020）粤0113民初7号之十一", 2020, "粤0113", "", "民初", 7, "之十一"),
    ("（2020）粤0113民初8号之二十", 2020, "粤0113", "", "民初", 8, "之二十"),
    # specialised-trial characters
    ("（2023）粤01知民初12号", 2023, "粤01", "知", "民初", 12, ""),
    ("（2023）粤01知民终345号", 2023, "粤01", "知", "民终", 345, ""),
    ("（2023）粤0192知民初1000号", 2023, "粤0192", "知", "民初", 1000, ""),
    ("（2023）粤01金民初88号", 2023, "粤01", "金", "民初", 88, ""),
    ("（2023）粤01金民终6号之一", 2023, "粤01", "金", "民终", 6, "之一"),
    ("（2023）粤01知破申2号", 2023, "粤01", "知", "破申", 2, ""),
    # codes of the full table that the first table lacked (every other code: tests/test_casenumber_hostile.py)
    ("（2023）粤0104民辖1号", 2023, "粤0104", "", "民辖", 1, ""),
    ("（2023）粤01民辖终123号", 2023, "粤01", "", "民辖终", 123, ""),
]


@pytest.mark.parametrize(("text", "year", "court", "special", "type_code", "number", "suffix"), MODERN)
def test_modern(
    parser: CaseNumberParser, text: str, year: int, court: str, special: str, type_code: str, number: int, suffix: str
) -> None:
    parsed = parser.parse(text)
    assert parsed == CaseNumber(
        year=year,
        court_code=court,
        special=special,
        type_code=type_code,
        number=number,
        suffix=suffix,
        legacy=False,
        text=text,
    )
    assert parsed.text == format_case_number(year, court, type_code, number, special=special, suffix=suffix)
    assert parsed.procedure is TYPE_CODES[type_code]
    assert str(parsed) == text


# --- pre-2016 forms: text, year, today's court, special, type, number, suffix ------------------------------

LEGACY: list[tuple[str, int, str, str, str, int, str]] = [
    # the forms named in DESIGN.md and the brief
    ("(2015)穗中法民一终字第506号", 2015, "粤01", "", "民终", 506, ""),
    ("(2013)穗南法南民初字第44号", 2013, "粤0115", "", "民初", 44, ""),
    ("(2014)穗越法民四初字第1234号", 2014, "粤0104", "", "民初", 1234, ""),
    ("(2012)穗中法刑一终字第88号", 2012, "粤01", "", "刑终", 88, ""),
    ("(2015)穗天法执字第77号", 2015, "粤0106", "", "执", 77, ""),
    ("(2014)穗海法行初字第12号", 2014, "粤0105", "", "行初", 12, ""),
    ("(2015)穗中法民申字第3号", 2015, "粤01", "", "民申", 3, ""),
    # every other configured old abbreviation
    ("(2013)穗荔法民一初字第321号", 2013, "粤0103", "", "民初", 321, ""),
    ("(2014)穗云法民二初字第15号", 2014, "粤0111", "", "民初", 15, ""),
    ("(2012)穗黄法民初字第9号", 2012, "粤0112", "", "民初", 9, ""),
    ("(2013)穗萝法民初字第567号", 2013, "粤0112", "", "民初", 567, ""),
    ("(2014)穗番法执恢字第3号", 2014, "粤0113", "", "执恢", 3, ""),
    ("(2015)穗花法执异字第20号", 2015, "粤0114", "", "执异", 20, ""),
    ("(2014)穗从法刑初字第45号", 2014, "粤0117", "", "刑初", 45, ""),
    ("(2015)穗增法民督字第8号", 2015, "粤0118", "", "民督", 8, ""),
    # every category + stage
    ("(2014)穗中法执复字第11号", 2014, "粤01", "", "执复", 11, ""),
    ("(2013)穗中法民再字第2号", 2013, "粤01", "", "民再", 2, ""),
    ("(2015)穗中法民特字第101号", 2015, "粤01", "", "民特", 101, ""),
    ("(2013)穗海法民撤字第1号", 2013, "粤0105", "", "民撤", 1, ""),
    ("(2015)穗中法破申字第1号", 2015, "粤01", "", "破申", 1, ""),
    ("(2014)穗中法破字第2号", 2014, "粤01", "", "破", 2, ""),
    ("(2015)穗越法执保字第5号", 2015, "粤0104", "", "执保", 5, ""),
    ("(2015)穗天法财保字第9号", 2015, "粤0106", "", "财保", 9, ""),
    ("(2014)穗中法行终字第300号", 2014, "粤01", "", "行终", 300, ""),
    ("(2015)穗中法行审字第12号", 2015, "粤01", "", "行审", 12, ""),
    ("(2015)穗中法行申字第4号", 2015, "粤01", "", "行申", 4, ""),
    ("(2011)穗萝法刑初字第30号", 2011, "粤0112", "", "刑初", 30, ""),
    # tribunals, divisions, suffixes, years
    ("(2014)穗中法知民终字第123号", 2014, "粤01", "知", "民终", 123, ""),
    ("(2015)穗中法金民终字第456号", 2015, "粤01", "金", "民终", 456, ""),
    ("(2014)穗中法立民终字第7号", 2014, "粤01", "", "民终", 7, ""),
    ("(2015)穗中法民十终字第10号", 2015, "粤01", "", "民终", 10, ""),
    ("(2015)穗中法民一终字第506号之一", 2015, "粤01", "", "民终", 506, "之一"),
    ("(2016)穗中法民一终字第1号", 2016, "粤01", "", "民终", 1, ""),
    ("(2010)穗天法民一初字第2345号", 2010, "粤0106", "", "民初", 2345, ""),
    # codes of the full table in the old form
    ("(2015)穗中法刑申字第1号", 2015, "粤01", "", "刑申", 1, ""),
    ("(2014)穗中法民辖终字第12号", 2014, "粤01", "", "民辖终", 12, ""),
]


@pytest.mark.parametrize(("text", "year", "court", "special", "type_code", "number", "suffix"), LEGACY)
def test_legacy(
    parser: CaseNumberParser, text: str, year: int, court: str, special: str, type_code: str, number: int, suffix: str
) -> None:
    parsed = parser.parse(text)
    canonical = text.replace("(", "（").replace(")", "）")
    assert parsed == CaseNumber(
        year=year,
        court_code=court,
        special=special,
        type_code=type_code,
        number=number,
        suffix=suffix,
        legacy=True,
        text=canonical,
    )
    assert parsed.procedure is TYPE_CODES[type_code]
    assert parser.parse(canonical) == parsed  # the canonical text is itself accepted


def test_tables_cover_every_court_type_code_and_old_abbreviation() -> None:
    assert set(COURT_CODES) == EXPECTED_CODES
    assert {row[2] for row in MODERN} == EXPECTED_CODES
    # every type code is tested: the first 21 here, in both forms; the whole table in test_casenumber_hostile
    assert {row[4] for row in MODERN} | {code for code, _, _ in EVERY_CODE} == set(TYPE_CODES)
    assert {row[4] for row in MODERN} >= set(ORIGINAL_21)
    assert {row[4] for row in LEGACY} >= set(ORIGINAL_21)
    assert len({row[0] for row in MODERN + LEGACY}) == len(MODERN) + len(LEGACY) >= 60
    legacy_abbreviations = {a for row in LEGACY for a in OLD_ABBREVIATIONS if row[0].startswith(f"({row[1]}){a}")}
    assert legacy_abbreviations == set(OLD_ABBREVIATIONS)
    assert OLD_ABBREVIATIONS["穗萝法"] == "粤0112"


# --- sloppy input normalises to the canonical text --------------------------------------------------------

VARIANTS: list[tuple[str, str]] = [
    ("(2023)粤0104民初123号", "（2023）粤0104民初123号"),
    ("〔2023〕粤0104民初123号", "（2023）粤0104民初123号"),
    ("[2023]粤0104民初123号", "（2023）粤0104民初123号"),
    ("［2023］粤0104民初123号", "（2023）粤0104民初123号"),
    ("(2023）粤0104民初123号", "（2023）粤0104民初123号"),
    ("  （2023）粤0104民初123号  ", "（2023）粤0104民初123号"),
    ("（2023） 粤0104 民初 123 号", "（2023）粤0104民初123号"),
    ("\u3000（2023）粤0104民初123号\u3000", "（2023）粤0104民初123号"),
    ("（2023）粤0104民初123号\n", "（2023）粤0104民初123号"),
    ("（2023）\t粤0104民初\u200b123号", "（2023）粤0104民初123号"),
    ("（２０２３）粤０１０４民初１２３号", "（2023）粤0104民初123号"),
    ("(２０２３)粤0104民初12３号", "（2023）粤0104民初123号"),
    ("（2023）粤0104民初0123号", "（2023）粤0104民初123号"),
    ("(2023) 粤0104民初123 号 之一", "（2023）粤0104民初123号之一"),
    ("[２０２４]粤01 知 民终 ２８４９７ 号", "（2024）粤01知民终28497号"),
    ("(2015) 穗中法 民一终字 第506号", "（2015）穗中法民一终字第506号"),
    ("〔２０１５〕穗中法民一终字第５０６号", "（2015）穗中法民一终字第506号"),
    ("[2013]穗南法南民初字第44号之二", "（2013）穗南法南民初字第44号之二"),
    ("（2023）粤0104民初123", "（2023）粤0104民初123号"),  # 号 left out
]


@pytest.mark.parametrize(("variant", "canonical"), VARIANTS)
def test_variants_normalise(parser: CaseNumberParser, variant: str, canonical: str) -> None:
    parsed = parser.parse(variant)
    assert parsed.text == canonical
    assert parsed == parser.parse(canonical)


# --- round trip: format_case_number → parse ---------------------------------------------------------------

SUFFIXES = ["", "之一", "之二", "之三", "之四", "之五", "之六", "之七", "之八", "之九", "之十"]
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
BRACKETS = [("（", "）"), ("(", ")"), ("〔", "〕"), ("[", "]")]

case_numbers = st.builds(
    CaseNumber,
    year=st.integers(1949, 2100),
    court_code=st.sampled_from(COURT_CODES),
    special=st.sampled_from(["", "知", "金"]),
    type_code=st.sampled_from(sorted(TYPE_CODES)),
    number=st.integers(1, 10**7),
    suffix=st.sampled_from(SUFFIXES),
    legacy=st.just(False),
    text=st.just(""),
).map(
    lambda n: dataclasses.replace(
        n,
        text=format_case_number(n.year, n.court_code, n.type_code, n.number, special=n.special, suffix=n.suffix),
    )
)


@settings(max_examples=300, deadline=None)
@given(expected=case_numbers)
def test_round_trip(parser: CaseNumberParser, expected: CaseNumber) -> None:
    assert parser.parse(expected.text) == expected


@settings(max_examples=300, deadline=None)
@given(
    expected=case_numbers,
    brackets=st.sampled_from(BRACKETS),
    full_width=st.booleans(),
    spaces=st.lists(st.sampled_from([" ", "\u3000", "\t"]), min_size=0, max_size=3),
    data=st.data(),
)
def test_round_trip_through_sloppy_rendering(
    parser: CaseNumberParser,
    expected: CaseNumber,
    brackets: tuple[str, str],
    full_width: bool,
    spaces: list[str],
    data: st.DataObject,
) -> None:
    text = expected.text.replace("（", brackets[0]).replace("）", brackets[1])
    if full_width:
        text = text.translate(FULL_WIDTH_DIGITS)
    for space in spaces:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + space + text[at:]
    assert parser.parse(text) == expected


# --- garbage ----------------------------------------------------------------------------------------------

GARBAGE: list[tuple[str, str]] = [
    ("hello", "missing year in brackets"),
    ("", "empty"),
    ("   ", "empty"),
    ("粤0104民初123号", "missing year in brackets"),
    ("(2023粤0104民初1号", "missing year in brackets"),
    ("（23）粤0104民初1号", "year must be four digits"),
    ("（二〇二三）粤0104民初1号", "year must be four digits"),
    ("（1948）粤0104民初1号", "out of range"),
    ("（2101）粤0104民初1号", "out of range"),
    ("（2023）粤9999民初1号", "unknown court code '粤9999'"),
    ("（2023）北京民初1号", "unknown court code '北京'"),
    ("（2023）全国送达平台民初1号", "unknown court code '全国送达平台'"),  # a platform, not a court
    ("（2023）民初1号", "missing court code"),
    ("（2023）粤0104民X1号", "unknown type code '民X'"),
    ("（2023）粤0104ABC1号", "unknown type code 'ABC'"),
    ("（2023）粤0104海民初一二1号", "unknown type code '海民初一二'"),
    ("（2023）粤0104123号", "missing type code"),
    ("（2023）粤0104知1号", "missing type code"),
    ("（2023）粤0104民初123附件", "missing the number (and 号)"),
    ("（2023）粤0104民初号", "missing the number"),
    ("（2023）粤0104民初0号", "number must be positive"),
    ("（2023）粤0104民初1号之", "unexpected '之' after 号"),
    ("（2023）粤0104民初1号附件", "unexpected '附件' after 号"),
    ("（2015）穗X法民终字第1号", "unknown old court abbreviation"),
    ("（2015）穗中法刑申X字第1号", "unknown type code in old form"),
    ("（2015）穗中法民X字第1号", "unknown type code in old form"),
    ("（2015）穗中法民一终506号", "without 字第"),
]


@pytest.mark.parametrize(("text", "reason"), GARBAGE)
def test_garbage_is_rejected_with_a_reason(parser: CaseNumberParser, text: str, reason: str) -> None:
    with pytest.raises(InvalidCaseNumber) as caught:
        parser.parse(text)
    message = str(caught.value)
    assert message.startswith("不是有效的案号 / not a case number: ")
    assert reason in message
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from("（）()〔〕[]0123456789０１２ 号之一字第粤穗中法民刑执恢破申知金X"), max_size=30
    )
)
def test_anything_else_fails_only_as_invalid_case_number(parser: CaseNumberParser, text: str) -> None:
    """Fuzzing: whatever the input, the parser answers a CaseNumber or InvalidCaseNumber, nothing else."""
    try:
        parsed = parser.parse(text)
    except InvalidCaseNumber:
        return
    assert parser.parse(parsed.text) == parsed


# --- the parts around parsing -----------------------------------------------------------------------------


def test_case_number_is_a_frozen_value(parser: CaseNumberParser) -> None:
    parsed = parser.parse("（2024）粤01民终28497号")
    assert parsed.procedure is Procedure.SECOND_INSTANCE
    assert str(parsed) == "（2024）粤01民终28497号"
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.number = 1  # type: ignore[misc]
    assert {parsed, parser.parse("(2024)粤01民终28497号")} == {parsed}


def test_a_new_court_is_one_config_entry() -> None:
    financial = SimpleNamespace(code="粤71", old_abbreviations=("穗金法",), is_court=True)
    parser = CaseNumberParser([*COURTS, financial])
    assert parser.parse("（2023）粤71民初1号").court_code == "粤71"
    assert parser.parse("（2015）穗金法民初字第2号").court_code == "粤71"
    assert parser.parse("（2023）粤0104民初1号").court_code == "粤0104"


def test_courts_that_are_not_courts_are_skipped() -> None:
    platform = SimpleNamespace(code="粤0104", old_abbreviations=("穗越法",), is_court=False)
    only = SimpleNamespace(code="粤01", old_abbreviations=(), is_court=True)
    parser = CaseNumberParser([only, platform])
    assert parser.parse("（2023）粤01民初1号").court_code == "粤01"
    with pytest.raises(InvalidCaseNumber, match="unknown court code"):
        parser.parse("（2023）粤0104民初1号")
    with pytest.raises(InvalidCaseNumber, match="unknown old court abbreviation"):
        parser.parse("（2015）穗越法民初字第1号")


def test_misconfiguration_is_refused() -> None:
    a = SimpleNamespace(code="粤01", old_abbreviations=("穗中法",), is_court=True)
    b = SimpleNamespace(code="粤0104", old_abbreviations=("穗中法",), is_court=True)
    with pytest.raises(ValueError, match="穗中法"):
        CaseNumberParser([a, b])
    with pytest.raises(ValueError, match="粤01"):
        CaseNumberParser([a, a])
    with pytest.raises(ValueError, match="no courts"):
        CaseNumberParser([])


def test_format_case_number_still_refuses_unknown_type_codes() -> None:
    with pytest.raises(ValueError, match="民X"):
        format_case_number(2023, "粤0104", "民X", 1)
