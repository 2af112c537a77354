"""Read a partner file a sheet at a time and its rows a chunk at a time, in bounded memory.

Intake never holds a whole file's cells: a csv is decoded and parsed line by line from the
snapshot, and a workbook's rows come one by one from python-calamine (which holds the one sheet
being read, in its own compact form: the checks in ``reading.py`` bound it before it is opened).
Each sheet offers its first ``HEAD_ROWS`` rows for identifying the source and the header row,
then every row after the header, in order, in lists of at most ``chunk_rows()`` rows.

The chunk size is ``CHUNK_ROWS``, a constant; tests set it small (``monkeypatch.setattr``) to
check that chunked intake gives exactly what intake of the whole file in one chunk gives. A file
of any size costs the same memory, save the index of its keys (``checking.KeyIndex``, 12 bytes a
row) that finds a key repeated anywhere in it.

The messages for an unreadable file are the ones ``read_file`` gives, for the same reasons, and a
problem found part way through (a malformed line near the end) rejects the whole file as before.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import DEFAULT_MAX_FILE_MB
from .inbox import display_name
from .reading import (
    CSV_SUFFIXES,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    MB,
    SPREADSHEET_SUFFIXES,
    Sheet,
    UnreadableFile,
    _delimiter,
    _looks_like_utf16,
    _text_only,
    _trimmed,
    checked_before_reading,
)

CHUNK_ROWS = 50_000  # rows checked, pseudonymised and loaded at a time (tests set it small)
HEAD_ROWS = 30  # identification looks at the first 20 rows, and at ten under a header candidate
_BLOCK = 1 << 20
_WHITESPACE = b" \t\n\r\x0b\x0c"


def chunk_rows() -> int:
    """The chunk size in force (read when a file is read, so a test's setting reaches the child)."""
    return max(1, int(CHUNK_ROWS))


def csv_limits(max_file_mb: float) -> tuple[int, int]:
    """(rows, cells) a csv may hold. They were the worksheet's own limits when a csv was read
    whole into memory; streamed, memory no longer needs them, so they grow with the file size
    limit an installation sets (``SCORECARD_MAX_FILE_MB``): at the default 100 MB they are as
    before, and a partnership that allows 1 GB files may send ten times the rows."""
    factor = max(1.0, max_file_mb / DEFAULT_MAX_FILE_MB)
    return int(MAX_ROWS * factor), int(MAX_CELLS * factor)


@dataclass
class SheetRows:
    """One sheet: its first rows (for identification) and a way to read all its rows in order."""

    name: str
    head: list[list[object]]
    _rows: Iterator[list[object]]  # every row from the first (the head's rows again first)
    expected_rows: int | None = None  # the sheet's rows, when known before reading them

    def sheet(self) -> Sheet:
        """The head as a ``Sheet`` (what ``identify`` reads)."""
        return Sheet(name=self.name, rows=self.head)

    def chunks_after(self, index: int, size: int) -> Iterator[tuple[int, list[list[object]]]]:
        """(0-based sheet index of the first row, rows) for the rows after row ``index``, ``size``
        at a time. Only once per sheet."""
        rows = self._rows
        position = 0
        for _ in range(index + 1):
            if next(rows, None) is None:
                return
            position += 1
        while True:
            chunk = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= size:
                    break
            if not chunk:
                return
            yield position, chunk
            position += len(chunk)


class FileRows:
    """A file opened for streaming: ``sheets()`` yields its visible sheets one by one (a csv is
    one), ``finish()`` opens any left unread (a damaged later sheet rejects the file, as when
    every sheet was read whole), ``close()`` lets go of everything."""

    def __init__(self, path: Path, max_file_mb: float, suffix: str):
        self.path, self.max_file_mb, self.suffix = path, max_file_mb, suffix
        self._workbook: Any = None
        self._pending: Iterator[SheetRows] | None = None
        self.bytes_read = 0  # csv: bytes of the file parsed so far (for progress)
        self.size = path.stat().st_size

    def sheets(self) -> Iterator[SheetRows]:
        if self.suffix in SPREADSHEET_SUFFIXES:
            self._pending = self._workbook_sheets()
        else:
            self._pending = iter([self._csv_sheet()])
        return self._pending

    def finish(self) -> None:
        if self._pending is not None:
            for _ in self._pending:
                pass

    def close(self) -> None:
        if self._workbook is not None:
            with contextlib.suppress(Exception):
                self._workbook.close()
            self._workbook = None

    # --- workbooks ---

    def _workbook_sheets(self) -> Iterator[SheetRows]:
        import python_calamine as calamine

        with _calamine_errors():
            self._workbook = calamine.CalamineWorkbook.from_path(str(self.path))
            visible = [
                meta.name
                for meta in self._workbook.sheets_metadata
                if meta.visible == calamine.SheetVisibleEnum.Visible and meta.typ == calamine.SheetTypeEnum.WorkSheet
            ]
        if not visible:
            raise UnreadableFile("the workbook has no visible worksheets")
        for name in visible:
            with _calamine_errors():
                sheet = self._workbook.get_sheet_by_name(name)
                rows = _guarded(_sheet_rows(sheet))
                head = [row for _, row in zip(range(HEAD_ROWS), _sheet_rows(sheet))]
            yield SheetRows(display_name(name), head, rows, expected_rows=sheet.end[0] + 1 if sheet.end else 0)
            del sheet, rows

    # --- csv ---

    def _csv_sheet(self) -> SheetRows:
        encoding, errors = self._csv_encoding()
        csv.field_size_limit(2**31 - 1)
        with self.path.open("rb") as handle:
            start = _text(handle, encoding, errors).read(MB)
        _text_only(start[:65536])
        delimiter = _delimiter(start)
        head = [row for _, row in zip(range(HEAD_ROWS), self._csv_rows(encoding, errors, delimiter))]
        return SheetRows("csv", head, self._csv_rows(encoding, errors, delimiter))

    def _csv_encoding(self) -> tuple[str, str]:
        """The file's encoding, decided as ``read_file`` decides it from the whole file (one pass
        over its bytes, nothing kept): UTF-8 with a BOM, UTF-16 with one, UTF-8, else Windows-1252."""
        with self.path.open("rb") as handle:
            first = handle.read(_BLOCK)
            if first.startswith(b"\xef\xbb\xbf"):
                return "utf-8-sig", "replace"
            if first.startswith((b"\xff\xfe", b"\xfe\xff")):
                return "utf-16", "strict"
            decoder = codecs.getincrementaldecoder("utf-8")()
            utf8, blank, block = True, True, first
            while block:
                blank = blank and not block.strip(_WHITESPACE)
                if b"\x00" in block:
                    if _looks_like_utf16(first):
                        raise UnreadableFile(
                            "the file is UTF-16 text without a byte-order mark; please save it as CSV UTF-8"
                        )
                    raise UnreadableFile("the file is not a text CSV (it contains binary data)")
                if utf8:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError:
                        utf8 = False
                block = handle.read(_BLOCK)
            if utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
        if blank:
            raise UnreadableFile("the file is empty")
        return ("utf-8", "strict") if utf8 else ("cp1252", "replace")

    def _csv_rows(self, encoding: str, errors: str, delimiter: str) -> Iterator[list[object]]:
        max_rows, max_cells = csv_limits(self.max_file_mb)
        rows = cells = 0
        with self.path.open("rb") as handle:
            text = _text(handle, encoding, errors)
            lines = _checked_lines(text) if encoding == "utf-16" else text
            try:
                for line in csv.reader(lines, delimiter=delimiter):
                    row: list[Any] = _trimmed(line)
                    cells += len(row)
                    if len(row) > MAX_COLUMNS or rows >= max_rows or cells > max_cells:
                        raise UnreadableFile(_csv_too_large(rows + 1, len(row), max_rows, max_cells))
                    rows += 1
                    if not rows % 4096:
                        self.bytes_read = handle.tell()
                    yield row
            except csv.Error as exc:
                raise UnreadableFile(f"the CSV file is malformed ({exc})") from None
            except UnicodeDecodeError:
                raise UnreadableFile(
                    "the file says it is UTF-16 text but is not; please save it as CSV UTF-8"
                ) from None
            self.bytes_read = self.size


def _text(handle, encoding: str, errors: str) -> io.TextIOWrapper:
    """The bytes decoded as they are read; lines end only at \\r, \\n or \\r\\n, as in a csv file."""
    return io.TextIOWrapper(handle, encoding=encoding, errors=errors, newline="")


def _checked_lines(text) -> Iterator[str]:
    """UTF-16 lines, refusing a NUL character (binary data) wherever it is."""
    for line in text:
        if "\x00" in line:
            raise UnreadableFile("the file is not a text CSV (it contains binary data)")
        yield line


def _csv_too_large(row: int, width: int, max_rows: int, max_cells: int) -> str:
    if width > MAX_COLUMNS:
        return (
            f"row {row:,} of the file has {width:,} columns, far more than any partner extract "
            f"(the limit is {MAX_COLUMNS}); the file was not read"
        )
    return (
        f"the file has more than {min(row - 1, max_rows):,} rows or {max_cells:,} cells, more than any partner extract; "
        "the file was not read"
    )


def _sheet_rows(sheet) -> Iterator[list[object]]:
    """The sheet's rows from row 1 and column A, as ``to_python(skip_empty_area=False)`` gives
    them (calamine's own iterator starts at the first column holding a cell)."""
    pad = [""] * (sheet.start[1] if sheet.start else 0)
    for row in sheet.iter_rows():
        yield pad + list(row) if pad else list(row)


def _guarded(rows: Iterator[list[object]]) -> Iterator[list[object]]:
    with _calamine_errors():
        yield from rows


@contextlib.contextmanager
def _calamine_errors():
    """calamine raises several error types for damaged files, and pyo3's PanicException, which
    is not an Exception, when its Rust code panics: each rejects the file as damaged."""
    try:
        yield
    except UnreadableFile:
        raise
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise UnreadableFile(f"the workbook is damaged and cannot be opened ({type(exc).__name__})") from None


def open_file(path: Path, max_file_mb: float, suffix: str | None = None) -> FileRows:
    """The file ready to stream, or ``UnreadableFile`` saying why not: the same checks, in the
    same order, as ``read_file`` makes before it reads a cell."""
    suffix = checked_before_reading(path, max_file_mb, suffix)
    assert suffix in SPREADSHEET_SUFFIXES or suffix in CSV_SUFFIXES
    return FileRows(path, max_file_mb, suffix)
