"""What may go into a spreadsheet cell, and how: formula injection, illegal characters, size, widths.

Values in our workbooks come from AWS (tags, names, policies) and can be chosen by whoever controls the
resource. Spreadsheet programs treat text starting with ``=``, ``+``, ``-`` or ``@`` as a formula, and a
leading tab or carriage return is used to slip past naive filters (OWASP "CSV injection"). openpyxl turns
any ``str`` starting with ``=`` into a formula cell, and the others become formulas as soon as someone
edits the cell in Excel. So every such *string* is written as a text cell with Excel's quote prefix
(the leading apostrophe), never as a formula. Genuine numbers (``-1`` as an ``int``) stay numbers: they are
not text a user typed and sort and sum as numbers.

Pure Python: the report writer asks :func:`safe_cell` and applies the answer with openpyxl.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from drift_repair.core.models import display_value

#: A string starting with one of these is written as text with the quote prefix.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Excel refuses cells longer than this (the full value stays in the JSON evidence).
MAX_CELL_CHARS = 32_767

# XML 1.0 cannot carry these control characters; openpyxl raises IllegalCharacterError on them.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_TRUNCATED = "…(truncated: {n} characters; the full value is in the JSON evidence)"


@dataclass(frozen=True, slots=True)
class SafeCell:
    """The value to store and whether it must be a text cell with the quote prefix."""

    value: Any
    as_text: bool = False


def needs_text(value: Any) -> bool:
    """True for a string a spreadsheet would read as a formula (see :data:`FORMULA_TRIGGERS`)."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def clean_text(text: str) -> str:
    """Make any string storable: illegal control characters shown as ``\\xNN``, over-long text cut."""
    text = _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > MAX_CELL_CHARS:
        note = _TRUNCATED.format(n=len(text))
        text = text[: MAX_CELL_CHARS - len(note)] + note
    return text


def _naive_utc(value: datetime) -> datetime:
    """Excel has no time zones: aware datetimes are stored as UTC wall time (headers say "UTC")."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def safe_cell(value: Any) -> SafeCell:
    """Decide how ``value`` is stored.

    * ``None`` stays empty; ``bool``, finite ``int`` / ``float`` / ``Decimal`` stay native numbers;
    * datetimes become naive UTC, dates and times stay native;
    * everything else becomes text through :func:`display_value` (so the unknown / sensitive sentinels read
      ``(known after apply)`` / ``(sensitive)``), cleaned, and marked ``as_text`` when it starts like a formula.
    """
    if value is None:
        return SafeCell(None)
    if isinstance(value, bool):
        return SafeCell(value)
    if isinstance(value, int):
        return SafeCell(value)
    if isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:  # Excel has no NaN / infinity: store the words ("-inf" starts like a formula)
            text = str(value)
            return SafeCell(text, as_text=needs_text(text))
        return SafeCell(value)
    if isinstance(value, datetime):
        return SafeCell(_naive_utc(value))
    if isinstance(value, date | time):
        return SafeCell(value)
    shown = display_value(value)
    if shown is None:
        return SafeCell(None)
    shown = clean_text(shown)
    return SafeCell(shown, as_text=needs_text(shown))


def display_width(value: Any) -> int:
    """Width of a value as Excel shows it, in 'character units': East Asian wide characters count double.

    Used to fit column widths; multi-line text counts its longest line.
    """
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    text = value if isinstance(value, str) else str(value)
    if text.isascii():  # the common case, and the hot path on a large estate
        return max((len(line) for line in text.splitlines()), default=0)
    widest = 0
    for line in text.splitlines() or [""]:
        width = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)
        widest = max(widest, width)
    return widest
