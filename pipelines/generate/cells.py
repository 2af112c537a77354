"""How partners spell values: the same fact arrives as a date cell, `01/05/2024 13:45` or
`01-May-2024`, and a yes as `Y`, `Yes` or `1`. Each function returns a formatter (value -> cell)
so a file picks its house style once and applies it to every row.

Only spellings that sources.md accepts are produced here; bad spellings live in ``bad_files``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

Formatter = Callable[[Any], Any]

BOOL_STYLES: dict[str, tuple[object, object]] = {
    "YN": ("Y", "N"),
    "YesNo": ("Yes", "No"),
    "10": (1, 0),
    "TF": ("True", "False"),
}

DATETIME_TEXT = {
    "uk": "%d/%m/%Y %H:%M",
    "uk_seconds": "%d/%m/%Y %H:%M:%S",
    "iso": "%Y-%m-%d %H:%M:%S",
    "iso_t": "%Y-%m-%dT%H:%M",
}

DATE_TEXT = {
    "uk": "%d/%m/%Y",
    "uk_dash": "%d-%m-%Y",
    "iso": "%Y-%m-%d",
    "named": "%d-%b-%Y",
}


def as_is(value: object) -> object:
    return value


def boolean(style: str, *, text: bool = False) -> Formatter:
    """Y/N, Yes/No, 1/0 or True/False; ``text`` writes 1/0 as strings (csv)."""
    yes, no = BOOL_STYLES[style]
    if text:
        yes, no = str(yes), str(no)

    def fmt(value: Any) -> Any:
        if value is None:
            return None
        return yes if value else no

    return fmt


def uk_short_date(d: date) -> str:
    """`1/5/2024`: day-first without leading zeros, as Excel users often type it."""
    return f"{d.day}/{d.month}/{d.year}"


def date_text(d: date, style: str) -> str:
    if style == "uk_short":
        return uk_short_date(d)
    return d.strftime(DATE_TEXT[style])


def datetime_cell(rng: random.Random, text_share: float, style: str = "uk") -> Formatter:
    """A real date cell, or (in ``text_share`` of rows) UK text such as `01/05/2024 13:45`."""
    pattern = DATETIME_TEXT[style]

    def fmt(value: Any) -> Any:
        if value is None:
            return None
        if text_share and rng.random() < text_share:
            return value.strftime(pattern)
        return value

    return fmt


def datetime_text(style: str) -> Formatter:
    pattern = DATETIME_TEXT[style]
    return lambda value: None if value is None else value.strftime(pattern)


def date_cell(rng: random.Random, styles: dict[str, float]) -> Formatter:
    """A date written in one of several styles by weight; "cell" means a real Excel date."""
    names, weights = list(styles), list(styles.values())

    def fmt(value: Any) -> Any:
        if value is None:
            return None
        style = names[0] if len(names) == 1 else rng.choices(names, weights)[0]
        if style == "cell":
            return value
        return date_text(value, style)

    return fmt


def integer(thousands: bool = False) -> Formatter:
    """Whole numbers; ``thousands`` writes 1234 as the text `1,234`, as Excel's csv export does."""
    if not thousands:
        return as_is
    return lambda value: None if value is None else (f"{value:,}" if value >= 1000 else value)


def enum(spellings: dict[str, str], case: str = "as_is") -> Formatter:
    """Canonical value -> a partner's spelling (a synonym from the source yaml), in a case style."""
    changes: dict[str, Callable[[str], str]] = {"as_is": str, "upper": str.upper, "lower": str.lower}
    change = changes[case]
    table = {k: change(v) for k, v in spellings.items()}
    return lambda value: None if value is None else table[value]
