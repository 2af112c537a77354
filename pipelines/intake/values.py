"""Type rules for partner values (sources.md "Types").

Each parser takes a raw cell (str, number, date or datetime from the reader) and returns the
typed value, ``None`` for blank, or raises ``InvalidValue`` with a plain-English reason that
never quotes the value: it is said of the column ("Date Reported is not a real date"), and the
value itself is shown only in the rejects workbook, which stays on the partnership's server.
Dates are day-first, always: ``05/01/2024`` is 5 January. Which spellings mean yes and no, and
which date formats and month names are read, are the column's source's type rules
(``definitions/types.yaml``, ``pipelines/typerules.py``), never constants here.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time

from ..dateformats import UnknownMonth
from ..sources import Column, normalise_header
from ..typerules import TypeRules


class InvalidValue(ValueError):
    pass


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


def parse_bool(raw: object, rules: TypeRules) -> bool | None:
    """A spelling of yes or no in ``rules`` (any case); a yes/no cell; a number cell 1 or 0 when
    the rules spell yes or no so."""
    if is_blank(raw):
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        raw = str(int(raw))
    found = rules.truth.get(str(raw).strip().lower())
    if found is None:
        raise InvalidValue(f"is not yes or no (use {rules.yes_no_hint()})")
    return found


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
    text = (
        str(raw).strip().replace(",", "")
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", str(raw).strip())
        else str(raw).strip()
    )
    try:
        value = float(text)
    except ValueError:
        raise InvalidValue("is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise InvalidValue("is not a number")
    return value


_EXAMPLE = date(2024, 1, 31)


def _not_real(rules: TypeRules) -> InvalidValue:
    example = rules.dates.day_first_example(_EXAMPLE)
    if example is None:
        return InvalidValue("is not a real date")
    return InvalidValue(f"is not a real date (dates are read day first, as {example})")


def parse_datetime(raw: object, rules: TypeRules) -> datetime | None:
    """A date cell, or text in one of the date formats of ``rules`` (with an optional time)."""
    if is_blank(raw):
        return None
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=None, microsecond=0)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raise InvalidValue("is a number, not a date")
    try:
        found = rules.dates.read(str(raw).strip())
    except UnknownMonth:
        raise InvalidValue("has a month name we do not recognise") from None
    if found is None:
        examples = rules.dates.examples(_EXAMPLE, 3)
        listed = examples[0] if len(examples) == 1 else ", ".join(examples[:-1]) + " or " + examples[-1]
        raise InvalidValue(f"is not a date we recognise (use {listed})")
    year, month, day, hour, minute, second = found
    try:
        return datetime.combine(date(year, month, day), time(hour, minute, second))
    except ValueError:
        raise _not_real(rules) from None


def parse_date(raw: object, rules: TypeRules) -> date | None:
    value = parse_datetime(raw, rules)
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


def _rules(column: Column) -> TypeRules:
    if column.rules is None:
        raise ValueError(f"column {column.name} has no type rules (a Column made outside load_sources)")
    return column.rules


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
        return parse_bool(raw, _rules(column))
    if kind == "date":
        return parse_date(raw, _rules(column))
    if kind == "datetime":
        return parse_datetime(raw, _rules(column))
    if kind == "enum":
        return parse_enum(raw, column)
    raise ValueError(f"unknown type {kind}")
