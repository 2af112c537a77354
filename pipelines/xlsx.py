"""Writing cells safely with openpyxl: partner text never becomes a formula."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"
CELL_LIMIT = 32_767  # characters Excel holds in a cell; a longer one makes it "repair" the file


def safe_text(value: object) -> str:
    """Text that Excel will never read as a formula (a visible leading apostrophe), with the
    control characters an xlsx file cannot hold removed, cut to what a cell can hold."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    text = GUARD + text if text.startswith(FORMULA_PREFIXES) else text
    if len(text) > CELL_LIMIT:
        note = f" [cut: {len(text):,} characters in all]"
        text = text[: CELL_LIMIT - len(note)] + note
    return text


def cell_value(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, datetime, date)):
        return value
    return safe_text(str(value))


def write_rows(path: Path, title: str, header: list[str], rows: Iterable[Iterable[object]]) -> Path:
    """A one-sheet workbook (streamed, so large rejects files stay cheap)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"

    def cells(values):
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=cell_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"
            out.append(cell)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    workbook.save(path)
    return path
