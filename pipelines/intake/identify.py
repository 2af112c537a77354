"""Which source a file holds, and where its header row is.

The header row is the first row, within the first 20, that contains every required column of
exactly one source (after alias matching); a subfolder named after a source decides the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sources import Source, load_sources, normalise_header
from .inbox import display_name
from .reading import Sheet

HEADER_SEARCH_ROWS = 20


class Unidentified(ValueError):
    """No source's header was found; the message lists what was found and what was needed."""


@dataclass
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


def identify(sheets: list[Sheet], sources: list[Source]) -> Layout:
    best: tuple[int, Source, list[str]] | None = None  # (columns matched, source, required columns missing)
    for sheet in sheets:
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
    found = _headers_found(sheets)
    message = "no recognised header: no row in the first 20 of any visible sheet holds every required column of one source."
    if found:
        message += f" Headers found: {', '.join(found[:15])}."
    if best is not None and best[0] > 0:
        message += f" Closest source: {best[1].name}, which also needs: {', '.join(best[2])}."
    raise Unidentified(message)


def _headers_found(sheets: list[Sheet]) -> list[str]:
    """The most header-like row near the top of the first sheet: the one with most cells that are
    known headers of any source, then most text cells. Ranking known headers first keeps a data
    row (which may hold child identifiers or names) out of the receipt and its email."""
    known = {key for source in load_sources().values() for column in source.columns for key in column.header_keys}
    best: list[str] = []
    best_score = (0, 0)
    for sheet in sheets[:1]:
        for row in sheet.rows[:HEADER_SEARCH_ROWS]:
            texts = [display_name(c.strip()) for c in row if isinstance(c, str) and c.strip()]
            score = (sum(normalise_header(t) in known for t in texts), len(texts))
            if score > best_score:
                best, best_score = texts, score
    return best
