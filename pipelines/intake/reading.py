"""Read a partner file into plain rows of cells, whatever its format.

xlsx/xlsm are read with python-calamine (fast; macros never run; formulas are never evaluated,
only cached values read); csv may be UTF-8 (with or without BOM) or Windows-1252, comma- or
semicolon-separated. Anything unreadable raises ``UnreadableFile`` with a plain-English reason.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv"}
ACCEPTED_SUFFIXES = SPREADSHEET_SUFFIXES | CSV_SUFFIXES


class UnreadableFile(ValueError):
    """The file cannot be read at all; the message is shown to the data officer."""


@dataclass
class Sheet:
    name: str
    rows: list[list[object]]  # rows[i] is sheet row i + 1


_ENCRYPTED_STREAM = "EncryptionInfo".encode("utf-16-le")


def _signature_problem(path: Path, head: bytes, suffix: str) -> str | None:
    if not head:
        return "the file is empty"
    if head.startswith(b"%PDF"):
        return f"the file is a PDF document, not a spreadsheet, although its name ends in {suffix}"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        # An encrypted .xlsx is an OLE container holding an EncryptionInfo stream; any other
        # OLE file here is an old binary workbook (.xls) renamed.
        with path.open("rb") as handle:
            if _ENCRYPTED_STREAM in handle.read(1 << 20):
                return "the workbook is password-protected; please remove the password and send it again"
        return "the file is an old-format Excel workbook (.xls); please save it as .xlsx and send it again"
    if suffix in SPREADSHEET_SUFFIXES and not head.startswith(b"PK"):
        return f"the file is not a real Excel workbook, although its name ends in {suffix}"
    return None


def read_file(path: Path) -> list[Sheet]:
    suffix = path.suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise UnreadableFile(
            f"files of type '{suffix or 'none'}' are not accepted: send .xlsx, .xlsm or .csv"
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    problem = _signature_problem(path, head, suffix)
    if problem:
        raise UnreadableFile(problem)
    if suffix in SPREADSHEET_SUFFIXES:
        return _read_workbook(path)
    return [Sheet(name="csv", rows=_read_csv(path))]


def _read_workbook(path: Path) -> list[Sheet]:
    import python_calamine as calamine

    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
        sheets = []
        for meta in workbook.sheets_metadata:
            # hidden and very hidden sheets are skipped (str(meta.visible) is "SheetVisibleEnum.Hidden",
            # which contains "Visible": compare the enum members, not their names)
            if meta.visible != calamine.SheetVisibleEnum.Visible or meta.typ != calamine.SheetTypeEnum.WorkSheet:
                continue
            rows = workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            sheets.append(Sheet(name=meta.name, rows=[list(r) for r in rows]))
    except Exception as exc:  # calamine raises several error types for damaged files
        raise UnreadableFile(f"the workbook is damaged and cannot be opened ({type(exc).__name__})") from None
    finally:
        try:
            workbook.close()
        except Exception:
            pass
    if not sheets:
        raise UnreadableFile("the workbook has no visible worksheets")
    return sheets


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if b"\x00" in data[:4096]:
        raise UnreadableFile("the file is not a text CSV (it contains binary data)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    sample = [line for line in text.splitlines()[:30] if line.strip()]
    best, best_width = ",", 0
    for candidate in (",", ";"):
        widths = Counter(len(row) for row in csv.reader(sample, delimiter=candidate) if len(row) > 1)
        width = widths.most_common(1)[0][0] if widths else 0
        if width > best_width:
            best, best_width = candidate, width
    return best


def _read_csv(path: Path) -> list[list[object]]:
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("the file is empty")
    text = _decode(data)
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))]
    except csv.Error as exc:
        raise UnreadableFile(f"the CSV file is malformed ({exc})") from None
