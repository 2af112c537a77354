"""Type rules for partner values (sources.md "Types").

Each parser takes a raw cell (str, number, date or datetime from the reader) and returns the
typed value, ``None`` for blank, or raises ``InvalidValue`` with a plain-English reason that
never quotes the value: it is said of the column ("Date Reported is not a real date"), and the
value itself is shown only in the rejects workbook, which stays on the partnership's server.
Dates are day-first, always: ``05/01/2024`` is 5 January.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time

from ..sources import Column, normalise_header


class InvalidValue(ValueError):
    pass


TRUE = {"y", "yes", "true", "t", "1"}
FALSE = {"n", "no", "false", "f", "0"}

_MONTHS = {
    name: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}

_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + r"$")
_UK = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})" + _TIME + r"$")
_NAMED = re.compile(r"^(\d{1,2})[ -]([A-Za-z]{3,9})[ -](\d{4}|\d{2})" + _TIME + r"$")


def is_blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    return isinstance(raw, str) and raw.strip() == ""


def parse_text(raw: object) -> str | None:
    if is_blank(raw):
        return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.isoformat(sep=" ")
    return str(raw).strip()


def parse_bool(raw: object) -> bool | None:
    if is_blank(raw):
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise InvalidValue("is not yes or no (use Y/N, Yes/No, True/False or 1/0)")


_INT_LIMIT = 2**63 - 1  # the warehouse's BIGINT


def parse_int(raw: object) -> int | None:
    value = _parse_int(raw)
    if value is not None and abs(value) > _INT_LIMIT:
        raise InvalidValue("is too large to be a count")
    return value


_DIGITS_LIMIT = 19  # more digits than a BIGINT holds (and Python refuses int() over 4,300)


def _parse_int(raw: object) -> int | None:
    if is_blank(raw):
        return None
    if isinstance(raw, bool):
        raise InvalidValue("is not a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise InvalidValue("is not a whole number")
    text = str(raw).strip()
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        digits = text.split(".")[0]
        if len(digits.lstrip("+-").lstrip("0")) > _DIGITS_LIMIT:
            raise InvalidValue("is too large to be a count")
        return int(digits)
    raise InvalidValue("is not a whole number")


def parse_number(raw: object) -> float | None:
    if is_blank(raw):
        return None
    if isinstance(raw, bool):
        raise InvalidValue("is not a number")
    if isinstance(raw, (int, float)):
        return float(raw)
    text = str(raw).strip().replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", str(raw).strip()) else str(raw).strip()
    try:
        value = float(text)
    except ValueError:
        raise InvalidValue("is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise InvalidValue("is not a number")
    return value


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _build(y: int, m: int, d: int, hh, mm, ss) -> datetime:
    try:
        day = date(y, m, d)
        t = time(int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        raise InvalidValue("is not a real date (dates are read day first, as 31/01/2024)") from None
    return datetime.combine(day, t)


def parse_datetime(raw: object) -> datetime | None:
    if is_blank(raw):
        return None
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=None, microsecond=0)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raise InvalidValue("is a number, not a date")
    text = str(raw).strip()
    m = _ISO.match(text)
    if m:
        return _build(int(m.group(1)), int(m.group(2)), int(m.group(3)), *m.group(4, 5, 6))
    m = _UK.match(text)
    if m:
        return _build(_year(m.group(3)), int(m.group(2)), int(m.group(1)), *m.group(4, 5, 6))
    m = _NAMED.match(text)
    if m:
        month = _MONTHS.get(m.group(2).lower())
        if month is None:
            raise InvalidValue("has a month name we do not recognise")
        return _build(_year(m.group(3)), month, int(m.group(1)), *m.group(4, 5, 6))
    raise InvalidValue("is not a date we recognise (use 31/01/2024, 2024-01-31 or 31 Jan 2024)")


def parse_date(raw: object) -> date | None:
    value = parse_datetime(raw)
    return None if value is None else value.date()


def parse_enum(raw: object, column: Column) -> str | None:
    """The canonical value, or the cleaned text when unknown (the GX suite then rejects it)."""
    if is_blank(raw):
        return None
    text = parse_text(raw)
    return column.enum_lookup.get(normalise_header(text), text)


MAX_TEXT_CHARS = 10_000  # far beyond any real value; keeps receipts, rejects and the warehouse sane
MAX_KEY_CHARS = 255  # a key is indexed: PostgreSQL refuses index entries over about 2,700 bytes


def check_text(raw: str, limit: int) -> None:
    """Refuse text no column should hold: longer than ``limit``, or with NUL characters (binary
    data, which PostgreSQL cannot store)."""
    length = len(raw.strip())
    if length > limit:
        raise InvalidValue(f"is {length:,} characters long, more than the {limit:,} allowed")
    if "\x00" in raw:
        raise InvalidValue("contains a NUL character (binary data), which cannot be stored")


def parse_value(raw: object, column: Column, key: bool = False):
    if isinstance(raw, str) and not is_blank(raw):
        check_text(raw, MAX_KEY_CHARS if key else MAX_TEXT_CHARS)
    kind = column.type
    if kind == "text":
        return parse_text(raw)
    if kind == "int":
        return parse_int(raw)
    if kind == "number":
        return parse_number(raw)
    if kind == "bool":
        return parse_bool(raw)
    if kind == "date":
        return parse_date(raw)
    if kind == "datetime":
        return parse_datetime(raw)
    if kind == "enum":
        return parse_enum(raw, column)
    raise ValueError(f"unknown type {kind}")
