"""Type a whole column of raw cells at once, with exactly the rules of ``values.py``.

Typing cell by cell in Python was most of an intake's time (issue 8). Here each column is typed
in one pass: date-times in the fixed-width shapes of the source's declared date formats
(``31/01/2024 13:45``, ``2024-01-31``...: ``dateformats.Shape``) are parsed with vectorised
numpy code, and every other distinct value goes once through the ``values.py`` parser, whose
result (or plain-English reason) is reused for every cell with the same value. Anything the fast paths do not recognise falls through to that parser, so the rules and
the receipts' wording are the parser's alone; the fast paths only accept what it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..dateformats import Shape
from ..sources import Column
from .values import MAX_KEY_CHARS, MAX_TEXT_CHARS, InvalidValue, is_blank, parse_value

DATE_KINDS = ("date", "datetime")
_MEMO_LIMIT = 50_000  # distinct values remembered per column (identifiers are not worth it)


@dataclass
class TypedColumn:
    values: Any  # list of Python values (None when blank or unreadable), or datetime64[us] array (NaT)
    blank: np.ndarray  # bool per cell: the cell is blank
    errors: dict[int, str]  # cell index -> why the value could not be read


def type_column(raw: list, column: Column, key: bool = False) -> TypedColumn:
    if column.type in DATE_KINDS:
        return _type_dates(raw, column, key)
    if column.type == "text":
        return _type_text(raw, column, key)
    return _type_by_value(raw, column, key)


class _Invalid(str):
    """A parser's reason, remembered in place of a value."""


_BLANK = object()
_UNSEEN = object()


def _parse_once(value, column: Column, key: bool):
    if is_blank(value):
        return _BLANK
    try:
        return parse_value(value, column, key=key)
    except InvalidValue as exc:
        return _Invalid(str(exc))


def _type_by_value(raw: list, column: Column, key: bool, only=None) -> TypedColumn:
    """Each distinct (type, value) parsed once. ``only``: the indexes to type (others left None)."""
    if only is None and _all_text(raw):
        return _type_text_values(raw, column, key)
    n = len(raw)
    values: list = [None] * n
    blank = np.zeros(n, dtype=bool)
    errors: dict[int, str] = {}
    memo: dict = {}
    memoisable = (str, int, float, bool)  # never a datetime: equal instants can differ in zone
    for i in range(n) if only is None else only:
        value = raw[i]
        if value is None:
            blank[i] = True
            continue
        cls = value.__class__
        if cls in memoisable:
            found = memo.get((cls, value), _UNSEEN)
            if found is _UNSEEN:
                found = _parse_once(value, column, key)
                if len(memo) < _MEMO_LIMIT:
                    memo[(cls, value)] = found
        else:
            found = _parse_once(value, column, key)
        _keep(found, i, values, blank, errors)
    return TypedColumn(values, blank, errors)


def _keep(found, i: int, values: list, blank: np.ndarray, errors: dict[int, str]) -> None:
    """Put one cell's parse (value, blank or reason) in its place."""
    if found is _BLANK:
        blank[i] = True
    elif isinstance(found, _Invalid):
        errors[i] = str(found)
    else:
        values[i] = found


def _all_text(raw: list) -> bool:
    """Only strings and blanks (a csv): equal values are then equal cells, so factorising is safe
    (with numbers mixed in, 1, 1.0 and True would count as one value)."""
    return set(map(type, raw)) <= {str, type(None)}


def _type_text_values(raw: list, column: Column, key: bool) -> TypedColumn:
    """``_type_by_value`` for a column of strings: factorised in C, each distinct value parsed once."""
    codes, uniques = pd.factorize(np.array(raw, dtype=object), use_na_sentinel=True)
    parsed = [_parse_once(u, column, key) for u in uniques]
    blank_of = np.array([p is _BLANK for p in parsed] + [True], dtype=bool)  # the last: None (code -1)
    values_of = np.empty(len(parsed) + 1, dtype=object)
    values_of[:] = [None if p is _BLANK or isinstance(p, _Invalid) else p for p in parsed] + [None]
    invalid = [j for j, p in enumerate(parsed) if isinstance(p, _Invalid)]
    errors: dict[int, str] = {}
    if invalid:
        bad = np.flatnonzero(np.isin(codes, invalid))
        errors = {int(i): str(parsed[codes[i]]) for i in bad}
    return TypedColumn(values_of[codes].tolist(), blank_of[codes], errors)


def _type_text(raw: list, column: Column, key: bool) -> TypedColumn:
    """Text: the stripped string (identifiers are mostly distinct, so no memo); anything but a
    plain short string goes through the parser."""
    limit = MAX_KEY_CHARS if key else MAX_TEXT_CHARS
    n = len(raw)
    values: list = [None] * n
    blank = np.zeros(n, dtype=bool)
    errors: dict[int, str] = {}
    for i, value in enumerate(raw):
        if value.__class__ is str:
            text = value.strip()
            if text and len(text) <= limit and "\x00" not in value:
                values[i] = text
                continue
        _keep(_parse_once(value, column, key), i, values, blank, errors)
    return TypedColumn(values, blank, errors)


def _type_dates(raw: list, column: Column, key: bool) -> TypedColumn:
    n = len(raw)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    types = set(map(type, raw))
    shapes = column.rules.dates.shapes if column.rules is not None else ()
    done = _fixed_shapes(raw, out, shapes, only_text=types == {str}) if str in types else np.zeros(n, dtype=bool)
    # Spreadsheet date cells arrive as datetime (or date) objects: converted in one step, to
    # the second, as the parser does.
    cells = []
    if datetime in types or date in types:
        cells = [i for i, v in enumerate(raw) if (v.__class__ is datetime and v.tzinfo is None) or v.__class__ is date]
    if cells:
        stamps = _stamps([raw[i] for i in cells]).astype("datetime64[s]")
        out[cells] = stamps
        done[cells] = True
    rest = np.flatnonzero(~done)
    typed = _type_by_value(raw, column, key, only=rest.tolist())
    if rest.size:
        parsed = [typed.values[i] for i in rest]
        present = [j for j, v in enumerate(parsed) if v is not None]
        if present:
            out[rest[present]] = np.array([np.datetime64(parsed[j], "us") for j in present], dtype="datetime64[us]")
    if column.type == "date":
        out = out.astype("datetime64[D]").astype("datetime64[us]")
    return TypedColumn(out, typed.blank, typed.errors)


def _stamps(cells: list) -> np.ndarray:
    """Spreadsheet date cells (naive ``datetime`` or ``date`` objects) as ``datetime64[us]``.
    pandas converts them in C, twenty times faster than numpy's one call per object; numpy is
    kept for anything pandas will not take."""
    try:
        return pd.DatetimeIndex(cells).to_numpy("datetime64[us]")
    except (ValueError, TypeError, OverflowError):
        return np.array(cells, dtype="datetime64[us]")


def _fixed_shapes(raw: list, out: np.ndarray, shapes: tuple[Shape, ...], only_text: bool) -> np.ndarray:
    """Parse the cells that are plain strings in one of ``shapes`` into ``out``; which were.
    Each shape is a fixed-width reading of a declared format (two-digit days, months and hours),
    so whatever it accepts the parser reads the same; anything else is left to the parser."""
    n = len(raw)
    done = np.zeros(n, dtype=bool)
    if not shapes:
        return done
    if only_text:  # a column of nothing but strings (a csv): lengths in C
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=n)
    else:  # blanks, numbers or spreadsheet dates among them
        lengths = np.fromiter((len(v) if v.__class__ is str else 0 for v in raw), dtype=np.int64, count=n)
    for length in sorted({s.width for s in shapes}):
        index = np.flatnonzero(lengths == length)
        if not index.size:
            continue
        text = np.array(raw if index.size == n else [raw[i] for i in index], dtype=f"<U{length}")
        codes = text.view(np.uint32).reshape(-1, length)
        left = np.ones(index.size, dtype=bool)
        for shape in (s for s in shapes if s.width == length):
            if not left.any():
                break
            ok = left.copy()
            for position, letter in enumerate(shape.positions):
                if not ok.any():
                    break
                column = codes[:, position]
                if letter is not None:
                    ok &= (column >= 48) & (column <= 57)
                else:
                    ok &= column == ord(shape.literals[position])
            if not ok.any():
                continue
            rows = codes[ok] - 48

            def field(letter: str, rows=rows, shape=shape) -> np.ndarray:
                places = [p for p, c in enumerate(shape.positions) if c == letter]
                number = np.zeros(len(rows), dtype=np.int64)
                for p in places:
                    number = number * 10 + rows[:, p]
                return number

            year = field("Y") + shape.century
            hour, minute, second = field("h"), field("m"), field("s")
            stamps = pd.to_datetime(
                pd.DataFrame({"year": year, "month": field("M"), "day": field("D")}), errors="coerce"
            ).to_numpy("datetime64[us]")
            stamps = stamps + (hour * 3600 + minute * 60 + second).astype("timedelta64[s]")
            # Out-of-range days and times ("31/02/2024", "25:00") are left to the parser, which says why.
            good = ~np.isnat(stamps) & (year >= 1) & (hour < 24) & (minute < 60) & (second < 60)
            where = index[ok][good]
            out[where] = stamps[good]
            done[where] = True
            left[np.flatnonzero(ok)[good]] = False
    return done
