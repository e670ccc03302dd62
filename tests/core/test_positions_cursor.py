"""The merged lists' cursor codec: compact, lossless for any keys and court page tokens, and a tampered
cursor is bad input (InvalidCursor), never a court call."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.cursors import InvalidCursor, Positions, encode_cursor

positions = st.dictionaries(
    st.text(min_size=1, max_size=20),
    st.none() | st.tuples(st.none() | st.text(max_size=30), st.integers(min_value=0, max_value=10**9)),
    max_size=30,
)


@given(positions, st.none() | st.integers(min_value=0, max_value=10**9))
def test_every_position_comes_back_as_it_was_written(found: dict, total: int | None) -> None:  # type: ignore[type-arg]
    written = Positions(found, total)
    assert Positions.decode("myCases", written.encode("myCases")) == written


def test_thirteen_courts_fit_in_a_short_cursor() -> None:
    codes = ["粤01", "粤0192", *(f"粤01{n:02d}" for n in (3, 4, 5, 6, 11, 12, 13, 14, 15, 17, 18))]
    mid_list = Positions({f"{c}:0": ("page-3", 7) for c in codes}, 12)
    old_form = encode_cursor("myCases", {"s": {f"{c}:0": ["page-3", 7] for c in codes}})
    assert len(mid_list.encode("myCases")) < len(old_form) * 0.6  # 266 against 459 characters


@pytest.mark.parametrize(
    "text",
    [
        "courtCases||0a:0=1",  # another list's cursor
        "myCases|x|0a:0=1",  # a total that is not a count
        "myCases||0a:0=-1",  # a negative skip
        "myCases||0a:0=1;9b",  # shares more than the key before it has
        "myCases||0a:0=99999999999999999999",  # a number past any list
        "myCases||",
    ],
)
def test_a_tampered_cursor_is_refused(text: str) -> None:
    cursor = base64.urlsafe_b64encode(text.encode()).decode()
    if text == "myCases||":
        assert Positions.decode("myCases", cursor) == Positions({}, None)
        return
    with pytest.raises(InvalidCursor):
        Positions.decode("myCases", cursor)


def test_garbage_is_refused() -> None:
    for cursor in ("", "!!!", "bm90LWEtY3Vyc29y", base64.urlsafe_b64encode(b"\xff\xfe").decode()):
        with pytest.raises(InvalidCursor):
            Positions.decode("myCases", cursor)


def test_cursors_encoded_on_demand_read_as_the_eager_ones() -> None:
    """A page's cursors are encoded only when read (most clients read one or none); each reads exactly as
    encoding its positions would, and indexes behave as a list's."""
    from gateway.core.cursors import PositionCursors

    snapshots = [Positions({"粤0103:0": ("t|1;x=y", i), "粤0104:0": None}, i) for i in range(3)]
    lazy = PositionCursors("myCases")
    for snapshot in snapshots:
        lazy.add(snapshot)
    eager = [p.encode("myCases") for p in snapshots]
    assert len(lazy) == 3 and lazy[-1] == eager[-1] and list(lazy) == eager and lazy[1:] == eager[1:]
    assert Positions.decode("myCases", lazy[0]) == snapshots[0]
    with pytest.raises(IndexError):
        lazy[3]
