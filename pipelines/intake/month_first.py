"""Month-first (US) dates in a file that should hold day-first ones, seen in the whole file.

Why: a spreadsheet program set to US dates that opens a day-first file reads every date it can
month first, swapping day and month (``05/01/2024`` becomes 1 May), and leaves the rest as text
(``25/01/2024``). Saved again, the file's dates mostly still read, in the wrong month, so neither
the row checks nor the 10% rule see it: only the file as a whole shows it. This module looks at
the raw cells of every mapped date column, before typing, for two fingerprints:

- **mixed**: date cells that all fall on the 1st to the 12th of a month while every date written
  as text (``d/m/y``) has a first number over 12: what the program leaves behind;
- **month-first text**: dates written as text that can only be read month first
  (``01/25/2024``), or with a 12-hour time and AM/PM as US programs write them, while no date
  written the same way (separator, digits of the year, AM/PM, zero-padding) can only be read day
  first.

A genuine day-first file has dates spread over the month, so either pattern is taken as US only
when a day-first file would show it by chance less often than ``MAX_CHANCE`` (or
``MAX_CHANCE_WITH_EVIDENCE``, when some dates can only be month first); a file of one reporting
period has too few distinct dates for chance to tell, and there the mixed pattern counts when
swapping day and month back draws the file's dates together (``SPAN_SHRINK``).

The verdict is a plain-English reason naming the columns (headers as sent) and counts, never a
cell's value: partner cell content must not reach receipts, emails, logs or load records.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from .inbox import display_name

# The rules, as data.
EARLY = 12 / 30.44  # the share of a month's days that are the 1st to the 12th
MAX_CHANCE = 1 / 1000  # mixed: how rarely a day-first file may show the pattern by chance
MAX_CHANCE_WITH_EVIDENCE = 1 / 100  # month-first text: the same, when some dates are month first only
SPAN_SHRINK = 0.5  # mixed, few dates: swapping back must at least halve the span of the file's dates
ADVICE = "nothing was loaded; please send dates day first (31/01/2024) or as ISO dates (2024-01-31)"

# A numeric date written as text, a/b/y with one separator, read from the first 10 characters of
# a cell (enough for dd/mm/yyyy): the year ends there or before a space, "T" or a comma.
_NUMERIC = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?=$|[ T,])")
_CLOCK = re.compile(r"[ T,]\s*\d{1,2}:\d{2}")
_AM_PM = ("AM", "PM", ".M")  # the last two characters of "10:30 AM", "10:30 pm", "10:30 a.m."


@dataclass(frozen=True)
class _Style:
    """How a text date is written. ``padded`` is None when it cannot tell (both numbers >= 10)."""

    separator: str
    year_digits: int
    am_pm: bool
    padded: bool | None

    def compatible(self, other: _Style) -> bool:
        return (self.separator, self.year_digits, self.am_pm) == (other.separator, other.year_digits, other.am_pm) and (
            self.padded is None or other.padded is None or self.padded == other.padded
        )


@dataclass
class _Written:
    """The text dates written one way (one ``_Style``) in one column."""

    month_only: int = 0  # cells that can only be read month first (a <= 12 < b)
    day_only: int = 0  # ...only day first (b <= 12 < a)
    am_pm: int = 0  # cells with a 12-hour time
    either: set = field(default_factory=set)  # distinct real dates that read either way, day first


@dataclass(eq=False)
class _Column:
    key: str  # the header as sent
    header: str  # ...as shown in the reason
    cells: int = 0  # date cells (spreadsheet dates)
    cell_dates: set = field(default_factory=set)  # their distinct calendar dates, while all are early
    late_cell: bool = False  # a date cell on the 13th or later: a day-first workbook
    found: Counter = field(default_factory=Counter)  # its numeric text dates (``_text_dates``), when needed
    surveyed: bool = False  # the text dates below are filled in (only when a fingerprint needs them)
    texts: int = 0  # numeric text dates
    late_texts: set = field(default_factory=set)  # distinct real dates of those whose first number is over 12
    early_text: bool = False  # a numeric text date whose first number is 12 or less
    written: dict = field(default_factory=dict)  # _Style -> _Written


class Survey:
    """The fingerprints gathered a part of the file at a time (intake reads a big file in chunks).

    ``add`` takes each part's raw date cells (and the positions of those that did not read);
    when ``needs_texts()`` says a fingerprint depends on the text dates, each part's cells go
    through ``add_texts`` too (a second reading of the file: rarely needed, as a csv's dates all
    read or a workbook has a date after the 12th); ``verdict()`` then says what the whole file
    shows, exactly as ``month_first`` would on all of its cells at once."""

    def __init__(self) -> None:
        self.columns: dict[str, _Column] = {}
        self.unreadable_known = True
        self.us_unreadable = False  # a cell that failed to read is month-first text

    def add(self, columns: dict[str, list], unreadable: dict[str, Iterable[int]] | None = None) -> None:
        for header, raw in columns.items():
            column = self.columns.get(header)
            if column is None:
                column = self.columns[header] = _Column(header, display_name(header, 60))
            _add_date_cells(column, raw)
        if unreadable is None:
            self.unreadable_known = False
        elif not self.us_unreadable:
            self.us_unreadable = any(
                a <= 12 < b <= 31 or style.am_pm
                for header, raw in columns.items()
                for style, a, b, _ in _text_dates(raw[i] for i in unreadable.get(header, ()))
            )

    def needs_texts(self) -> bool:
        if not self.unreadable_known or self.us_unreadable:
            return True
        return any(_mixed_candidate(group) for group in _groups(list(self.columns.values())))

    def add_texts(self, columns: dict[str, list]) -> None:
        for header, raw in columns.items():
            self.columns[header].found.update(_text_dates(raw))

    def verdict(self) -> str | None:
        seen = list(self.columns.values())
        return _mixed(seen) or _month_first_text(seen, self.unreadable_known and not self.us_unreadable)


def month_first(columns: dict[str, list], unreadable: dict[str, Iterable[int]] | None = None) -> str | None:
    """Why the file's dates look month-first (US style), or None. ``columns``: header as sent ->
    the raw cells of a mapped date or datetime column (any values; blanks and numbers ignored).
    ``unreadable``: header -> positions of the cells that did not read as day-first dates. Only
    those can be month-first text, so a file whose dates all read costs one pass over its date
    cells; without it every text cell is looked at."""
    survey = Survey()
    survey.add(columns, unreadable)
    if survey.needs_texts():
        survey.add_texts(columns)
    return survey.verdict()


def _add_date_cells(column: _Column, raw: list) -> None:
    """The column's spreadsheet date cells, stopping at the first one after the 12th."""
    if column.late_cell or not {datetime, date} & set(map(type, raw)):
        return
    for value in raw:
        kind = value.__class__
        if kind is datetime or kind is date:
            if value.day > 12:
                column.late_cell = True
                column.cell_dates.clear()
                break
            column.cells += 1
            column.cell_dates.add(date(value.year, value.month, value.day))


def _survey(column: _Column) -> _Column:
    """Fill in the column's numeric text dates: how many, which, and each way of writing them."""
    if column.surveyed:
        return column
    column.surveyed = True
    for (style, a, b, year), count in column.found.items():
        column.texts += count
        written = column.written.setdefault(style, _Written())
        if a <= 12 < b <= 31:
            written.month_only += count
        elif b <= 12 < a <= 31:
            written.day_only += count
        elif a <= 12 and b <= 12 and _real(year, b, a):
            written.either.add(date(year, b, a))
        if style.am_pm:
            written.am_pm += count
        if a <= 12:
            column.early_text = True
        elif b <= 12 and _real(year, b, a):
            column.late_texts.add(date(year, b, a))
    return column


def _text_dates(cells: Iterable) -> Counter:
    """(style, a, b, year) -> cells, for the numeric text dates among ``cells``; each distinct
    text is matched once."""
    found: Counter = Counter()
    for text, count in Counter(value for value in cells if value.__class__ is str).items():
        text = text.strip()
        match = _NUMERIC.match(text[:10])
        if not match:
            continue
        a_text, separator, b_text, year_text = match.groups()
        padded = False if min(len(a_text), len(b_text)) == 1 else True if "0" in (a_text[0], b_text[0]) else None
        am_pm = bool(_CLOCK.match(text, match.end())) and text[-2:].upper() in _AM_PM
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        found[(_Style(separator, len(year_text), am_pm, padded), int(a_text), int(b_text), year)] += count
    return found


def _real(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _chance(early: int, late: int = 0) -> float:
    """How often a day-first file's distinct dates fall so: ``early`` on the 1st to 12th, ``late`` after."""
    return EARLY**early * (1 - EARLY) ** late


# --- the mixed fingerprint: date cells all early in the month, text dates all late ---


def _mixed(columns: list[_Column]) -> str | None:
    """Each column alone, then all together (a program converts every column alike, and a file of
    one period may hold its date cells in one column and its text dates in another)."""
    for group in _groups(columns):
        if not _mixed_candidate(group):
            continue
        if _shows_mixed([_survey(c) for c in group]):
            headers = _headers([c for c in group if c.cells or c.texts])
            cells, texts = sum(c.cells for c in group), sum(c.texts for c in group)
            return (
                f"dates look month-first (US style): in {headers}, all {_count(cells, 'date cell')} fall on the "
                f"1st to the 12th of a month while all {_count(texts, 'date')} written as text fall after the 12th, "
                "which is what a spreadsheet program set to US dates leaves when it opens a day-first file "
                "(it swaps day and month in every date it can read month first and leaves the rest as text); " + ADVICE
            )
    return None


def _groups(columns: list[_Column]) -> list[list[_Column]]:
    return [[c] for c in columns] + ([columns] if len(columns) > 1 else [])


def _mixed_candidate(group: list[_Column]) -> bool:
    return not any(c.late_cell for c in group) and any(c.cells for c in group)


def _shows_mixed(group: list[_Column]) -> bool:
    if any(c.early_text for c in group):
        return False
    cell_dates = set().union(*(c.cell_dates for c in group))
    text_dates = set().union(*(c.late_texts for c in group))
    if not cell_dates or not text_dates:
        return False
    if _chance(len(cell_dates), len(text_dates)) <= MAX_CHANCE:
        return True
    swapped = {date(d.year, d.day, d.month) for d in cell_dates}
    as_is = _span(cell_dates | text_dates)
    return as_is > 0 and _span(swapped | text_dates) <= SPAN_SHRINK * as_is


def _span(dates: set[date]) -> int:
    return (max(dates) - min(dates)).days


# --- the month-first text fingerprint ---


def _month_first_text(columns: list[_Column], none_unreadable_us: bool) -> str | None:
    """A way of writing dates (``_Style``) that has cells only month first, or AM/PM times, none
    only day first, and enough distinct dates reading either way that a day-first file would
    rarely have none after the 12th (a slip or two in a day-first file is not enough)."""
    if none_unreadable_us:
        return None  # no cell that failed to read is month-first text: the rest cannot be
    written: dict[_Style, _Written] = {}
    where: dict[_Style, list[_Column]] = {}
    for column in columns:
        for style, found in _survey(column).written.items():
            total = written.setdefault(style, _Written())
            total.month_only += found.month_only
            total.day_only += found.day_only
            total.am_pm += found.am_pm
            total.either |= found.either
            where.setdefault(style, []).append(column)
    day_first = [s for s, w in written.items() if w.day_only]
    us = []
    for style, found in written.items():
        if not (found.month_only or found.am_pm) or any(style.compatible(t) for t in day_first):
            continue
        either = set().union(*(w.either for s, w in written.items() if style.compatible(s)))
        if _chance(len(either)) <= MAX_CHANCE_WITH_EVIDENCE:
            us.append(style)
    if not us:
        return None
    month_only, am_pm = sum(written[s].month_only for s in us), sum(written[s].am_pm for s in us)
    headers = _headers([c for c in columns if any(c in where[s] for s in us)])
    evidence = []
    if month_only:
        evidence.append(f"{_count(month_only, 'date')} can only be read month first (the second number is over 12)")
    if am_pm:
        evidence.append(
            f"{_count(am_pm, 'date')} {'has' if am_pm == 1 else 'have'} a 12-hour time with AM or PM, "
            "as US programs write them"
        )
    return (
        f"dates look month-first (US style): in {headers}, {' and '.join(evidence)}, "
        "and no date written the same way can only be read day first; " + ADVICE
    )


def _headers(columns: list[_Column]) -> str:
    names = list(dict.fromkeys(c.header for c in columns))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
