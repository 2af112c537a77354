"""Date and time formats as an analyst writes them in ``definitions/types.yaml``, compiled once.

A format is made of letters standing for numbers (``d/M/y``, ``yyyy-M-d``, ``d MMM y``,
``H:mm``) and literal characters; the same declaration gives the cell parser its regular
expressions (``values.py``) and the whole-column typing its fixed-width shapes
(``columns.py``), so the fast path can only ever accept what the parser accepts.

Letters (a run of one letter is one field):

- ``yyyy`` four-digit year; ``yy`` two-digit year, meaning 20YY; ``y`` either
- ``M`` month, one or two digits; ``MM`` exactly two; ``MMM`` a month name (``month_names``, any case)
- ``d`` / ``dd`` day; ``H`` / ``HH`` hour (0-23); ``m`` / ``mm`` minute; ``s`` / ``ss`` second
- ``S`` (any run) a fraction of a second, read and dropped (dates are kept to the second)

Anything else is literal; letters are literal only inside single quotes (``'T'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

DATE_FIELDS = ("year", "month", "day")
TIME_FIELDS = ("hour", "minute", "second")


class FormatError(ValueError):
    """A date or time format that cannot be read; the message names the format."""


@dataclass(frozen=True)
class _Token:
    field: str  # year, month, month_name, day, hour, minute, second, fraction
    pattern: str  # regular expression for the digits (month_name: filled in per set of names)
    width: int | None  # fixed number of digits; None when it varies
    fixed: tuple[int, ...]  # the widths the fast path reads it at (none: not read there)


_TOKENS = {
    "yyyy": _Token("year", r"\d{4}", 4, (4,)),
    "yy": _Token("year", r"\d{2}", 2, (2,)),
    "y": _Token("year", r"\d{4}|\d{2}", None, (4, 2)),
    "MMM": _Token("month_name", "", None, ()),
    "MM": _Token("month", r"\d{2}", 2, (2,)),
    "M": _Token("month", r"\d{1,2}", None, (2,)),
    "dd": _Token("day", r"\d{2}", 2, (2,)),
    "d": _Token("day", r"\d{1,2}", None, (2,)),
    "HH": _Token("hour", r"\d{2}", 2, (2,)),
    "H": _Token("hour", r"\d{1,2}", None, (2,)),
    "mm": _Token("minute", r"\d{2}", 2, (2,)),
    "m": _Token("minute", r"\d{1,2}", None, (2,)),
    "ss": _Token("second", r"\d{2}", 2, (2,)),
    "s": _Token("second", r"\d{1,2}", None, (2,)),
}
_FRACTION = _Token("fraction", r"\d+", None, ())

# One format, parsed: each part a literal string or a token.
_Part = str | _Token


def _parts(text: str) -> list[_Part]:
    if not isinstance(text, str) or not text:
        raise FormatError(f"a format must be text, not {text!r}")
    parts: list[_Part] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise FormatError(f"format {text!r} opens a quote (') it does not close")
            parts.append(text[i + 1 : end] or "'")
            i = end + 1
        elif char.isascii() and char.isalpha():
            run = len(text) - i - len(text[i:].lstrip(char))
            letters = text[i : i + run]
            token = _FRACTION if char == "S" else _TOKENS.get(letters)
            if token is None:
                raise FormatError(
                    f"format {text!r}: {letters!r} is not a date or time field "
                    "(put letters meant literally in single quotes, as 'T')"
                )
            parts.append(token)
            i += run
        else:
            parts.append(char)
            i += 1
    return parts


def _fields(parts: list[_Part]) -> list[str]:
    return [p.field for p in parts if isinstance(p, _Token)]


def _checked(text: str, wanted: tuple[str, ...], kind: str) -> list[_Part]:
    parts = _parts(text)
    fields = ["month" if f == "month_name" else f for f in _fields(parts) if f != "fraction"]
    if sorted(fields) != sorted(set(fields)):
        raise FormatError(f"{kind} format {text!r} names a field twice")
    allowed = set(DATE_FIELDS if kind == "date" else TIME_FIELDS)
    if not set(fields) <= allowed:
        raise FormatError(
            f"{kind} format {text!r} has fields that belong in a {'time' if kind == 'date' else 'date'} format"
        )
    needed = DATE_FIELDS if kind == "date" else ("hour", "minute")
    if not set(needed) <= set(fields):
        raise FormatError(f"{kind} format {text!r} needs {', '.join(needed)}")
    if "fraction" in _fields(parts) and "second" not in fields:
        raise FormatError(f"{kind} format {text!r} has a fraction of a second without seconds")
    return parts


@dataclass(frozen=True)
class Shape:
    """A fixed-width way of writing a date-time: ``positions[i]`` is a field letter (``Y``, ``M``,
    ``D``, ``h``, ``m``, ``s``: a digit of that field) or ``None``, with the literal character
    in ``literals[i]``. ``century`` is added to the year (two-digit years)."""

    positions: tuple[str | None, ...]
    literals: tuple[str, ...]
    century: int

    @property
    def width(self) -> int:
        return len(self.positions)


_LETTER = {"year": "Y", "month": "M", "day": "D", "hour": "h", "minute": "m", "second": "s", "name": "N"}


def _shapes_of(parts: list[_Part]) -> list[tuple[list[str | None], list[str], bool]]:
    """Every fixed-width reading of a format: one per choice of width for each variable field;
    none when a part has no fixed width (a month name, a fraction of a second)."""
    shapes: list[tuple[list[str | None], list[str], bool]] = [([], [], False)]
    for part in parts:
        if isinstance(part, str):
            shapes = [(p + [None] * len(part), lit + list(part), two) for p, lit, two in shapes]
            continue
        if not part.fixed:
            return []
        shapes = [
            (p + [_LETTER[part.field]] * width, lit + [""] * width, two or (part.field == "year" and width == 2))
            for p, lit, two in shapes
            for width in part.fixed
        ]
    return shapes


@dataclass(frozen=True)
class DateReader:
    """A set of date formats, each optionally followed by a separator and one of the time formats."""

    date_formats: tuple[str, ...]
    time_formats: tuple[str, ...]
    time_separators: tuple[str, ...]
    month_names: tuple[tuple[str, ...], ...]  # month_names[0]: January's spellings
    shapes: tuple[Shape, ...] = field(init=False, repr=False, compare=False)  # for ``columns.py``
    _months: dict[str, int] = field(init=False, repr=False, compare=False)
    _regexes: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _dates: tuple[list[_Part], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.date_formats:
            raise FormatError("at least one date format is needed")
        if len(self.month_names) != 12 or not all(self.month_names):
            raise FormatError("month_names must list twelve months, each with at least one name")
        if self.time_formats and not self.time_separators:
            raise FormatError("time formats need at least one time separator (the text between date and time)")
        months: dict[str, int] = {}
        for number, names in enumerate(self.month_names, start=1):
            for name in names:
                if not (isinstance(name, str) and name.isascii() and name.isalpha()):
                    raise FormatError(f"month name {name!r} must be letters only")
                if months.setdefault(name.lower(), number) != number:
                    raise FormatError(f"month name {name!r} is given for two months")
        lengths = sorted(len(n) for n in months)
        name_pattern = rf"[A-Za-z]{{{lengths[0]},{lengths[-1]}}}"
        dates = [_checked(f, DATE_FIELDS, "date") for f in self.date_formats]
        times = [_checked(f, TIME_FIELDS, "time") for f in self.time_formats]
        time_pattern = ""
        if times:
            separators = "|".join(re.escape(s) for s in self.time_separators)
            alternatives = "|".join(_regex(t, f"t{i}_", name_pattern) for i, t in enumerate(times))
            time_pattern = f"(?:(?:{separators})(?:{alternatives}))?"
        compiled = tuple(re.compile(_regex(d, "", name_pattern) + time_pattern) for d in dates)
        shapes: list[Shape] = []
        for k, d in enumerate(dates):
            endings: list[list[_Part]] = [[]] + [[s, *t] for t in times for s in self.time_separators]
            for ending in endings:
                for positions, literals, two_digit in _shapes_of(d + ending):
                    shape = Shape(tuple(positions), tuple(literals), 2000 if two_digit else 0)
                    if shape not in shapes and _read_alike(shape, compiled[:k], compiled[k]):
                        shapes.append(shape)
        object.__setattr__(self, "_months", months)
        object.__setattr__(self, "_regexes", compiled)
        object.__setattr__(self, "shapes", tuple(shapes))
        object.__setattr__(self, "_dates", tuple(dates))

    def read(self, text: str) -> tuple[int, int, int, int, int, int] | None:
        """(year, month, day, hour, minute, second) of the first format ``text`` is written in,
        or None if it is written in none. Raises ``UnknownMonth`` for a month name not listed;
        the numbers are not checked (31 February is the caller's to refuse)."""
        for regex in self._regexes:
            match = regex.fullmatch(text)
            if match is None:
                continue
            found = {name.rpartition("_")[2]: value for name, value in match.groupdict().items() if value is not None}
            if "name" in found:
                month = self._months.get(found["name"].lower())
                if month is None:
                    raise UnknownMonth(text)
            else:
                month = int(found["month"])
            year = found["year"]
            return (
                int(year) + (2000 if len(year) == 2 else 0),
                month,
                int(found["day"]),
                int(found.get("hour", 0)),
                int(found.get("minute", 0)),
                int(found.get("second", 0)),
            )
        return None

    def examples(self, when: date, count: int) -> list[str]:
        """``when`` written in the first ``count`` date formats (for a reason's "use ...")."""
        return [_render(parts, when, self.month_names) for parts in self._dates[:count]]

    def day_first_example(self, when: date) -> str | None:
        """``when`` in the first format with the day before the month, if any."""
        for parts in self._dates:
            fields = _fields(parts)
            month = "month" if "month" in fields else "month_name"
            if fields.index("day") < fields.index(month):
                return _render(parts, when, self.month_names)
        return None


def _read_alike(shape: Shape, earlier: tuple[re.Pattern[str], ...], own: re.Pattern[str]) -> bool:
    """Whether the parser reads every text of ``shape`` by the shape's own format, each field
    from the shape's places: no earlier format takes it, and the format's expression puts each
    field where the shape does. Every field is digits and the rest literal, so the expressions
    match all texts of one shape alike: one text of ones stands for them all."""
    text = "".join("1" if letter else literal for letter, literal in zip(shape.positions, shape.literals))
    if any(regex.fullmatch(text) for regex in earlier):
        return False
    match = own.fullmatch(text)
    if match is None:
        return False
    found: dict[str, set[int]] = {}
    for name, value in match.groupdict().items():
        if value is not None:
            found.setdefault(_LETTER[name.rpartition("_")[2]], set()).update(range(*match.span(name)))
    wanted: dict[str, set[int]] = {}
    for position, letter in enumerate(shape.positions):
        if letter:
            wanted.setdefault(letter, set()).add(position)
    return found == wanted


class UnknownMonth(ValueError):
    """The text is in a format with a month name, but not one listed."""


def _regex(parts: list[_Part], prefix: str, name_pattern: str) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(re.escape(part))
        elif part.field == "fraction":
            out.append(f"(?:{part.pattern})")
        elif part.field == "month_name":
            out.append(f"(?P<{prefix}name>{name_pattern})")
        else:
            out.append(f"(?P<{prefix}{part.field}>{part.pattern})")
    return "".join(out)


def _render(parts: list[_Part], when: date, month_names: tuple[tuple[str, ...], ...]) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.field == "month_name":
            out.append(month_names[when.month - 1][0].title())
        elif part.field == "year":
            out.append(f"{when.year % 100:02d}" if part.width == 2 else f"{when.year:04d}")
        else:
            out.append(f"{getattr(when, part.field):02d}")
    return "".join(out)
