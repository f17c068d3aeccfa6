"""Errors: how a user's input is quoted, and which class each kind of mistake raises."""

import pytest

import kpitree as kt
from kpitree.errors import quoted


@pytest.mark.parametrize(
    ("value", "as_repr", "shown"),
    [
        ("1 dya", False, '"1 dya"'),
        ("1 dya", True, "'1 dya'"),
        (3.5, False, "3.5"),
        (None, False, "None"),
        ("x" * 58, False, '"' + "x" * 58 + '"'),
        ("x" * 59, False, '"' + "x" * 56 + "..."),
    ],
)
def test_quoted_input(value: object, as_repr: bool, shown: str) -> None:
    """Text is double-quoted (or repr'd on request), others repr'd, all cut to 60 characters."""
    assert quoted(value, text_as_repr=as_repr) == shown
    assert len(shown) <= 60


def test_quoted_input_that_cannot_be_printed() -> None:
    """An int too long to print is shown by its type, not an error of its own."""
    import sys

    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        assert quoted(10**700) == "<int>"
    finally:
        sys.set_int_max_str_digits(limit)


def test_kinds_of_bad_arguments_are_told_apart() -> None:
    """A bounds violation, a wrong node kind and a bad option are ValueErrors, not TypeErrors."""
    from kpitree.examples import qualified_leads

    tree = qualified_leads()
    cases = [
        (lambda: tree.whatif({"lead_to_ql": 1.5}), kt.BoundsError),
        (lambda: tree.whatif({"qualified_leads": 1}), kt.KindError),
        (lambda: tree.attribute("qualified_leads", {}, {}, method="magic"), kt.ArgumentError),
        (
            lambda: kt.Tree(kt.KPI("a", owner="x", horizon="1 day"), kt.Input("a")),
            kt.DuplicateNameError,
        ),
    ]
    for call, error in cases:
        with pytest.raises(error) as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, kt.ArgumentError)
        assert not isinstance(info.value, TypeError)
    with pytest.raises(kt.ValueTypeError) as info:
        tree.evaluate({"leads": "many"})
    assert isinstance(info.value, TypeError)
