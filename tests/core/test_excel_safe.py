"""Which values become quote-prefixed text cells, and which stay numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from drift_repair.core.excel_safe import MAX_CELL_CHARS, display_width, safe_cell
from drift_repair.core.models import SENSITIVE_VALUE, UNKNOWN_VALUE

INJECTIONS = ["=cmd|' /C calc'!A0", "+1", "-1+2", "@SUM(1)", "\t=1", "\r=1", "=1+1", "-", "@"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_strings_that_start_like_a_formula_become_text(value: str) -> None:
    cell = safe_cell(value)
    assert cell.value == value
    assert cell.as_text


@pytest.mark.parametrize("value", [-1, 0, 3.5, -2.25, True, False])
def test_genuine_numbers_and_booleans_stay_native(value: object) -> None:
    cell = safe_cell(value)
    assert cell.value == value and type(cell.value) is type(value)
    assert not cell.as_text


def test_ordinary_text_and_structures_are_plain_text() -> None:
    assert safe_cell("AES256").as_text is False
    assert safe_cell(" =1").as_text is False  # a leading space is not a formula in any spreadsheet
    assert safe_cell(frozenset({"b", "a"})).value == '["a","b"]'
    assert safe_cell(UNKNOWN_VALUE).value == "(known after apply)"
    assert safe_cell(SENSITIVE_VALUE).value == "(sensitive)"
    assert safe_cell(None).value is None


def test_non_finite_floats_are_words_and_negative_infinity_is_text() -> None:
    assert safe_cell(float("nan")).value == "nan"
    assert safe_cell(float("-inf")) == safe_cell("-inf")
    assert safe_cell(float("-inf")).as_text


def test_control_characters_and_oversized_text_are_made_storable() -> None:
    assert safe_cell("a\x01b").value == "a\\x01b"
    long = safe_cell("x" * (MAX_CELL_CHARS + 10)).value
    assert len(long) == MAX_CELL_CHARS and "truncated" in long


def test_aware_datetimes_are_stored_as_utc_wall_time() -> None:
    jst = timezone(timedelta(hours=9))
    assert safe_cell(datetime(2026, 11, 3, 9, 0, tzinfo=jst)).value == datetime(2026, 11, 3, 0, 0)
    assert safe_cell(datetime(2026, 11, 3, 0, 0, tzinfo=UTC)).value.tzinfo is None


def test_wide_characters_count_double_for_column_widths() -> None:
    assert display_width("abc") == 3
    assert display_width("期待値") == 6
    assert display_width("short\nmuch longer line") == 16
