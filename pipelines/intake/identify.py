"""Which source a file holds, and where its header row is.

The header row is the first row, within the first 20, that contains every required column of
exactly one source (after alias matching); a subfolder named after a source decides the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..sources import Source, every_type_rules, known_headers, normalise_header
from .inbox import display_name
from .reading import Sheet
from .values import InvalidValue, is_blank, parse_datetime

HEADER_SEARCH_ROWS = 20


class Unidentified(ValueError):
    """No source's header was found; the message lists what was found and what was needed."""


@dataclass(frozen=True)
class Layout:
    source: Source
    sheet: Sheet
    header_index: int  # 0-based index into sheet.rows
    columns: dict[int, str]  # cell position -> canonical column
    mapped: dict[str, str]  # canonical column -> header as sent
    ignored: list[str] = field(default_factory=list)  # headers as sent that matched nothing


def _match(source: Source, row: list[object]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    columns: dict[int, str] = {}
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    for position, cell in enumerate(row):
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        name = source.match_header(text)
        if name is None or name in mapped:
            ignored.append(display_name(text))  # shown in receipts: control characters visible, length bounded
            continue
        columns[position] = name
        mapped[name] = text
    return columns, mapped, ignored


def identify(sheets: Iterable[Sheet], sources: list[Source]) -> Layout:
    """The first sheet, in order, with a header row of exactly one source. ``sheets`` may be read
    lazily (intake streams a workbook a sheet at a time): the search stops at the sheet found."""
    best: tuple[int, Source, list[str]] | None = None  # (columns matched, source, required columns missing)
    seen: list[Sheet] = []
    for sheet in sheets:
        seen.append(Sheet(sheet.name, sheet.rows[: HEADER_SEARCH_ROWS + 10]) if not seen else Sheet(sheet.name, []))
        for index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
            complete = []
            for source in sources:
                columns, mapped, ignored = _match(source, row)
                missing = [c.name for c in source.required if c.name not in mapped]
                if not missing:
                    complete.append(Layout(source, sheet, index, columns, mapped, ignored))
                elif best is None or (len(mapped), -len(missing)) > (best[0], -len(best[2])):
                    # closest: most columns matched, then fewest required columns still missing
                    best = (len(mapped), source, missing)
            if len(complete) == 1:
                return complete[0]
    found = _headers_found(seen)
    message = (
        "no recognised header: no row in the first 20 of any visible sheet holds every required column of one source."
    )
    if found:
        message += f" Headers found: {', '.join(found[:15])}."
    else:
        message += " No row there looks like a header row (a row of column names)."
    if best is not None and best[0] > 0:
        message += f" Closest source: {best[1].name}, which also needs: {', '.join(best[2])}."
    raise Unidentified(message)


def _headers_found(sheets: list[Sheet]) -> list[str]:
    """The headers of the row near the top of the first sheet that is most like a header row,
    or none. Only a real header candidate is ever quoted (``_header_like``); a data row (which may
    hold a child's identifier or name) is never one, so it never reaches a receipt, an email, a
    load record or a log."""
    known = known_headers()
    best: list[str] = []
    best_score = (0, 0)
    for sheet in sheets[:1]:
        top = sheet.rows[:HEADER_SEARCH_ROWS]
        for index, row in enumerate(top):
            cells = [c for c in row if not is_blank(c)]
            if not _header_like(row, cells, sheet.rows[index + 1 : index + 11], known):
                continue
            score = (sum(normalise_header(c) in known for c in cells), len(cells))
            if score > best_score:
                best, best_score = [display_name(str(c).strip()) for c in cells], score
    return best


def _header_like(row: list[object], cells: list[object], below: list[list[object]], known: frozenset[str]) -> bool:
    """A row of text cells that either names at least two known headers of some source (and
    they are at least half of it), or stands over a column of numbers or dates while holding no
    value itself: no cell that reads as a number, a date or a yes/no, and none mixing letters and
    digits as identifiers do. A data row fails: its dates, counts, flags and identifiers are
    values, and the rows under it are of the same kinds as it."""
    if not cells or not all(isinstance(c, str) for c in cells):
        return False
    matches = sum(normalise_header(c) in known for c in cells)
    if matches >= 2 and 2 * matches >= len(cells):
        return True
    if any(_is_value(c) or _IDENTIFIER.search(str(c)) for c in cells):
        return False
    for position, cell in enumerate(row):
        if is_blank(cell):
            continue
        values = [r[position] for r in below if position < len(r) and not is_blank(r[position])]
        if values and sum(_is_value(v) for v in values) * 2 > len(values):
            return True
    return False


_IDENTIFIER = re.compile(r"[A-Za-z][^\s]*\d|\d[^\s]*[A-Za-z]")  # letters and digits in one word: MOS124019


def _is_value(cell: object) -> bool:
    """A number, a date or a yes/no (as a cell, or as text that reads as one in some source's
    type rules: the source is not known yet)."""
    if not isinstance(cell, str):
        return True
    text = cell.strip()
    every = every_type_rules()
    if any(text.lower() in rules.truth for rules in every):
        return True
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        pass
    for rules in every:
        try:
            parse_datetime(text, rules)
            return True
        except InvalidValue:
            pass
    return False
