"""Read a partner file into plain rows of cells, whatever its format.

xlsx/xlsm are read with python-calamine (fast; macros never run; formulas are never evaluated:
only the value the spreadsheet program cached when it saved the file is read, and a formula
saved without one, as some programs write them, reads as a blank cell). csv may be UTF-8 (with or
without BOM), UTF-16 with a byte-order mark (Excel's "Unicode text") or Windows-1252, comma- or
semicolon-separated. Anything unreadable raises ``UnreadableFile`` with a plain-English reason.

A hostile or broken file must never take the run down, and calamine cannot be handed one: when a
sheet's cells span more memory than it can allocate it aborts the whole process (no exception to
catch), and it decompresses whatever the zip directory declares. So every file is first checked
against the size limit, and every workbook's zip directory and cell references are checked before
calamine opens it (``_check_workbook``).
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import DEFAULT_MAX_FILE_MB
from ..sources import known_headers, normalise_header
from .inbox import display_name

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv"}
ACCEPTED_SUFFIXES = SPREADSHEET_SUFFIXES | CSV_SUFFIXES

MB = 1 << 20
EXPANSION_FACTOR = 10  # a workbook may expand to ten times the file size limit when opened...
EXPANSION_CAP = 2048 * MB  # ...and never beyond 2 GB, whatever the limit
MAX_RATIO = 100  # real sheet XML compresses about 15 to 1; zip bombs 400 to 1000 to 1
RATIO_FLOOR = 1 * MB  # parts smaller than this expanded are harmless whatever their ratio
MAX_PARTS = 10_000  # a workbook with a thousand sheets has about two thousand parts
MAX_COLUMNS = 500
MAX_ROWS = 1_048_576  # a worksheet's own limit
MAX_CELLS = 10_000_000  # calamine holds every cell from A1 to the furthest one, 32 bytes each
_HUGE = 10**10  # stands for any row or column number too long to be worth converting


class UnreadableFile(ValueError):
    """The file cannot be read at all; the message is shown to the data officer."""


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[object]]  # rows[i] is sheet row i + 1


_ENCRYPTED_STREAM = "EncryptionInfo".encode("utf-16-le")
_OTHER_FORMATS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a zip archive (perhaps an Excel workbook: if so, name it .xlsx)",
}


OLD_EXCEL = "the file is an old-format Excel workbook (.xls); please save it as .xlsx and send it again"
PASSWORD = "the workbook is password-protected; please remove the password and send it again"
OPEN_DOCUMENT = (
    "the file is an OpenDocument file (from LibreOffice or similar), not an Excel workbook; please save it as .xlsx"
)
_OLE = b"\xd0\xcf\x11\xe0"
_OLD_EXCEL_SUFFIXES = {".xls", ".xlt"}  # an OLE file named so is an old workbook (or an encrypted one)
# An OpenDocument file is a zip whose first part is "mimetype", stored uncompressed (the format
# requires it), so a spreadsheet's type is readable from its first bytes.
_ODF_SPREADSHEET = re.compile(
    rb"PK\x03\x04.{26}mimetype.{0,32}?application/vnd\.oasis\.opendocument\.spreadsheet", re.DOTALL
)


def _other_spreadsheet(path: Path, suffix: str) -> str | None:
    """For a file whose name is not accepted: the specific reason when it is a spreadsheet in a
    format we do not read (a real .xls, an OpenDocument file), so the sender learns what to do
    rather than only that the type is refused. Reads the first bytes, and up to 1 MB of an OLE
    file (to tell a password-protected workbook)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(128)
    except OSError:
        return None
    if _ODF_SPREADSHEET.match(head):
        return OPEN_DOCUMENT
    if head.startswith(_OLE) and suffix in _OLD_EXCEL_SUFFIXES:
        return _ole_problem(path)
    return None


def _ole_problem(path: Path) -> str:
    """An encrypted .xlsx is an OLE container holding an EncryptionInfo stream; any other OLE
    file is an old binary workbook (.xls)."""
    with path.open("rb") as handle:
        if _ENCRYPTED_STREAM in handle.read(1 << 20):
            return PASSWORD
    return OLD_EXCEL


def _signature_problem(path: Path, head: bytes, suffix: str) -> str | None:
    if not head:
        return "the file is empty"
    if head.startswith(b"%PDF"):
        return f"the file is a PDF document, not a spreadsheet, although its name ends in {suffix}"
    if head.startswith(_OLE):
        return _ole_problem(path)
    if suffix in SPREADSHEET_SUFFIXES and not head.startswith(b"PK"):
        return f"the file is not a real Excel workbook, although its name ends in {suffix}"
    if suffix in CSV_SUFFIXES:
        for signature, kind in _OTHER_FORMATS.items():
            if head.startswith(signature):
                return f"the file is {kind}, not a CSV file, although its name ends in {suffix}"
    return None


def read_file(path: Path, max_file_mb: float = DEFAULT_MAX_FILE_MB, suffix: str | None = None) -> list[Sheet]:
    """The file's visible sheets (a csv is one), or ``UnreadableFile`` saying why not; nothing
    is opened before the size and, for a workbook, the zip and cell checks pass. ``suffix``: the
    extension of the file's name as sent, when ``path`` is a private copy under another name."""
    suffix = checked_before_reading(path, max_file_mb, suffix)
    if suffix in SPREADSHEET_SUFFIXES:
        return _read_workbook(path)
    return [Sheet(name="csv", rows=_read_csv(path))]


def checked_before_reading(path: Path, max_file_mb: float, suffix: str | None = None) -> str:
    """The checks made before a cell is read, in order: the type, the size, the signature and,
    for a workbook, the zip and cell checks. Returns the file's suffix (lower-case), or raises
    ``UnreadableFile`` saying why not. Whole-file reading and streaming both start here."""
    suffix = (path.suffix if suffix is None else suffix).lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise UnreadableFile(
            _other_spreadsheet(path, suffix)
            or f"files of type '{display_name(suffix, 20) or 'none'}' are not accepted: send .xlsx, .xlsm or .csv"
        )
    _check_size(path, max_file_mb)
    with path.open("rb") as handle:
        head = handle.read(8)
    problem = _signature_problem(path, head, suffix)
    if problem:
        raise UnreadableFile(problem)
    if suffix in SPREADSHEET_SUFFIXES:
        _check_workbook(path, max_file_mb)
    return suffix


def _size(n: float) -> str:
    """2.1 GB, 300 MB, 10 KB, 512 bytes."""
    if n < 1024:
        return f"{n:,.0f} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1024
        if n < 1024 or unit == "TB":
            break
    return f"{n:,.1f} {unit}".replace(".0 ", " ") if n < 10 else f"{n:,.0f} {unit}"


def too_large(size: int, max_file_mb: float) -> str:
    return (
        f"the file is {_size(size)}, more than the {_size(max_file_mb * MB)} limit for partner files, so it was not opened; "
        "please send a smaller extract (the limit is set by SCORECARD_MAX_FILE_MB)"
    )


def _check_size(path: Path, max_file_mb: float) -> None:
    """Refuse a file over SCORECARD_MAX_FILE_MB before anything reads it."""
    size = path.stat().st_size
    if size > max_file_mb * MB:
        raise UnreadableFile(too_large(size, max_file_mb))


# --- workbooks: checked from the zip directory and the cell references, before calamine ---


def _check_workbook(path: Path, max_file_mb: float) -> None:
    """Refuse, before calamine opens it, a workbook that is damaged, not a workbook, a zip bomb,
    or whose cells span more than any partner extract."""
    _check_part_count(path)
    try:
        archive = zipfile.ZipFile(path)
    except Exception:  # BadZipFile, and OSError/ValueError for directories pointing nowhere
        raise UnreadableFile(
            "the workbook is damaged or incomplete (perhaps cut short while being copied or emailed); please send it again"
        ) from None
    with archive:
        parts = archive.infolist()
        _check_part_names(parts)
        _check_is_workbook({p.filename for p in parts}, path.suffix.lower())
        _check_expansion(parts, max_file_mb)
        cells = 0
        for part in parts:
            cells += _check_extent(archive, part, MAX_CELLS - cells)


def _check_part_count(path: Path) -> None:
    """Refuse a zip directory listing more parts than any workbook has, from its end record,
    before Python's zipfile builds an object for each (100 MB of directory lists two million)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - (1 << 16) - 22)
        handle.seek(start)
        tail = handle.read()
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or end + 22 > len(tail):
            return  # no end record here: zipfile will call the file damaged
        (count,) = struct.unpack_from("<H", tail, end + 10)
        locator = end - 20
        if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
            (offset,) = struct.unpack_from("<Q", tail, locator + 8)  # the zip64 end record holds the count
            handle.seek(min(offset, size))
            record = handle.read(40)
            if len(record) == 40 and record[:4] == b"PK\x06\x06":
                (count,) = struct.unpack_from("<Q", record, 32)
    if count > MAX_PARTS:
        raise UnreadableFile(
            f"the workbook is a zip archive of {count:,} parts, far more than any spreadsheet; refused as unsafe"
        )


def _check_part_names(parts: list[zipfile.ZipInfo]) -> None:
    """A part named to climb out of the archive (``../``), absolute, or holding control characters
    is an attack on whatever unpacks it; no spreadsheet program writes one."""
    for part in parts:
        name = part.filename
        pieces = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in pieces or ":" in pieces[0] or any(ord(ch) < 32 for ch in name):
            raise UnreadableFile(
                f"the workbook contains a part named '{display_name(name, 60)}', which no spreadsheet program writes; "
                "refused as unsafe"
            )


def _check_is_workbook(names: set[str], suffix: str) -> None:
    """Say what kind of zip file came instead of a workbook; refuse a workbook missing the parts
    every Excel file has."""
    if "word/document.xml" in names:
        raise UnreadableFile(
            f"the file is a Word document (.docx), not a spreadsheet, although its name ends in {suffix}"
        )
    if "ppt/presentation.xml" in names:
        raise UnreadableFile(
            f"the file is a PowerPoint presentation, not a spreadsheet, although its name ends in {suffix}"
        )
    if "mimetype" in names and "content.xml" in names:
        raise UnreadableFile(OPEN_DOCUMENT)
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(
            f"the file is damaged or not an Excel workbook: it is a zip archive with no workbook inside, "
            f"although its name ends in {suffix}"
        )
    if "[Content_Types].xml" not in names:
        raise UnreadableFile(
            "the workbook is incomplete: it lacks the [Content_Types].xml part every Excel file has; "
            "please open it in Excel, save it and send it again"
        )


def _expansion_limit(max_file_mb: float) -> float:
    return min(EXPANSION_FACTOR * max_file_mb * MB, EXPANSION_CAP)


def _check_expansion(parts: list[zipfile.ZipInfo], max_file_mb: float) -> None:
    """Refuse a zip bomb from the directory alone, nothing decompressed: calamine reads a part
    only up to the size the directory declares (a part that turns out larger is an error), so the
    declared sizes bound what opening the workbook costs."""
    total, limit = sum(p.file_size for p in parts), _expansion_limit(max_file_mb)
    if total > limit:
        raise UnreadableFile(
            f"the workbook would expand to {_size(total)} when opened, far more than any partner extract "
            f"(the limit is {_size(limit)}); refused as unsafe"
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise UnreadableFile(
                f"part of the workbook is compressed {ratio:,.0f} to 1 (real spreadsheets compress about 15 to 1), "
                "so it would expand enormously when opened, like a 'zip bomb'; refused as unsafe"
            )


# Cells written the usual way (Excel, LibreOffice, openpyxl) start ``<c r="B7"``; any other
# cell tag (no reference, a lower-case or zero-padded one, a namespace prefix) is "unusual".
_UNUSUAL_CELL = re.compile(rb'<c(?! r="[A-Z]{1,3}[1-9][0-9]{0,6}")[\s/>]')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_COLUMN_LETTERS = re.compile(rb'<c r="([A-Z]+)')
_ROW_DIGITS = re.compile(rb'<c r="[A-Z]+([0-9]+)')
# Any cell or row tag, however written, for the exact (slower) reading of unusual sheets.
_TAG_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:c|row)[\s/>]")
_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?(c|row)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_R_ATTRIBUTE = re.compile(rb"""\sr\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(rb"([A-Za-z]+)(\d+)")
_CHUNK = 1 << 20


def _check_extent(archive: zipfile.ZipFile, part: zipfile.ZipInfo, cells_left: int) -> int:
    """Refuse a worksheet whose cells span more than any partner extract, or that takes the
    workbook's sheets together past ``MAX_CELLS`` (``cells_left`` is what the parts before it
    left); returns the cells this part spans. calamine allocates the rectangle from A1 to the
    furthest cell of each sheet (32 bytes a cell) and aborts the process when it cannot, so one
    cell at XFD1048576 would end the run, and 64 sheets each reaching row 150,000 would ask for
    18 GB. Every part is scanned, as any part can be named a worksheet; ``<dimension>`` is not
    consulted, as calamine ignores it too."""
    rows, columns = _plain_extent(archive, part)
    if rows is None:  # cells written some other way: follow calamine's rules tag by tag
        rows, columns = _exact_extent(archive, part)
    if columns > MAX_COLUMNS or rows > MAX_ROWS or rows * columns > MAX_CELLS:
        raise UnreadableFile(
            f"a worksheet reaches {_count(columns, 'column')} and {_count(rows, 'row')}, far larger than any partner extract "
            f"(the limit is {MAX_COLUMNS} columns and {MAX_CELLS:,} cells); refused as unsafe"
        )
    if rows * columns > cells_left:
        raise UnreadableFile(
            f"the workbook's sheets together span more than {MAX_CELLS:,} cells, far more than any partner extract "
            "(the limit is for the whole file); refused as unsafe"
        )
    return rows * columns


def _count(n: int, noun: str) -> str:
    return f"billions of {noun}s" if n >= _HUGE else f"{n:,} {noun}" + ("" if n == 1 else "s")


def _column_number(letters: bytes) -> int:
    if len(letters) > 4:
        return _HUGE
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _row_number(digits: bytes) -> int:
    digits = digits.lstrip(b"0") or b"0"
    return int(digits) if len(digits) <= 9 else _HUGE


def _chunks(archive: zipfile.ZipFile, part: zipfile.ZipInfo):
    """The part's bytes in pieces that never split a tag: an unfinished tag at the end of a
    piece is held over for the next. zipfile stops at the declared size and checks the CRC, so
    a part cannot expand beyond what its directory entry says."""
    try:
        with archive.open(part) as stream:
            held = b""
            while block := stream.read(_CHUNK):
                data = held + block
                cut = data.rfind(b"<")
                if cut < 0 or data.find(b">", cut) >= 0:
                    cut = len(data)
                elif len(data) - cut > _CHUNK:
                    raise UnreadableFile("the workbook is damaged: it holds a tag over 1 MB long")
                held = data[cut:]
                yield data[:cut]
            yield held
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError):
        # wrong CRC, unsupported compression or encryption, truncated data
        raise UnreadableFile("the workbook is damaged and cannot be opened") from None


def _plain_extent(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> tuple[int | None, int]:
    """(rows, columns) the cells reach when every cell tag is written the usual way; (None, 0)
    when any is not. Fast: regular expressions over each piece, no Python code per cell. The
    furthest row and column so far are first taken from the piece's last cell (where a sheet
    written in order has them); one search then looks for any reference beyond them, and only
    when one is found is every reference of the piece read (``findall``)."""
    rows, columns = 0, 0
    for piece in _chunks(archive, part):
        if _UNUSUAL_CELL.search(piece) or _PREFIXED_CELL.search(piece):
            return None, 0
        last = _CELL_REFERENCE.match(piece, max(piece.rfind(b'<c r="'), 0))
        if last is None:  # no cell in this piece
            continue
        columns = max(columns, _column_number(last.group(1)))
        rows = max(rows, int(last.group(2)))
        if _beyond(columns, rows).search(piece):
            columns = max(columns, max(map(_column_number, set(_COLUMN_LETTERS.findall(piece)))))
            rows = max(rows, max(map(int, _ROW_DIGITS.findall(piece))))
    return rows, columns


_CELL_REFERENCE = re.compile(rb'<c r="([A-Z]+)([0-9]+)"')


def _beyond(columns: int, rows: int) -> re.Pattern[bytes]:
    """Any usual cell reference with a column beyond ``columns`` or a row beyond ``rows``."""
    return re.compile(
        rb'<c r="' + _greater(_letters(columns), b"A", b"Z") + rb"[0-9]"
        rb'|<c r="[A-Z]+' + _greater(str(rows).encode(), b"0", b"9") + rb'"'
    )


def _letters(column: int) -> bytes:
    """A column's letters (1 is A, 27 is AA): the inverse of ``_column_number``."""
    letters = b""
    while column > 0:
        column, remainder = divmod(column - 1, 26)
        letters = bytes([65 + remainder]) + letters
    return letters


def _greater(token: bytes, low: bytes, high: bytes) -> bytes:
    """A pattern for a run of characters from ``low`` to ``high`` further than ``token``: longer,
    or as long and greater at the first place they differ (column letters, and row digits
    without leading zeros, as usual references write them, are in that order). A run with
    leading zeros may match without being further: that only costs the slower exact reading."""
    alternatives = [b"[%s-%s]{%d,}" % (low, high, len(token) + 1)]
    for i, character in enumerate(token):
        if character < high[0]:
            alternatives.append(
                re.escape(token[:i])
                + b"[%s-%s]" % (bytes([character + 1]), high)
                + b"[%s-%s]{%d}" % (low, high, len(token) - i - 1)
            )
    return b"(?:" + b"|".join(alternatives) + b")"


def _exact_extent(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) the cells reach, read as calamine does: a row without ``r`` follows the one
    before, a cell without ``r`` the cell before it in its row. Stops at the end of the piece
    that went past a limit (so a hostile part costs at most one more piece)."""
    row = max_row = max_column = column = 0
    for piece in _chunks(archive, part):
        position = 0
        while start := _TAG_START.search(piece, position):
            tag = _TAG.match(piece, start.start())
            if tag is None:
                raise UnreadableFile("the workbook is damaged: a worksheet holds a malformed cell")
            position = tag.end()
            attribute = _R_ATTRIBUTE.search(tag.group(2))
            value = (
                None
                if attribute is None
                else (attribute.group(1) if attribute.group(1) is not None else attribute.group(2))
            )
            if tag.group(1) == b"row":
                if value is not None and not value.isdigit():
                    raise UnreadableFile("the workbook is damaged: a worksheet has a malformed row number")
                row, column = (row + 1 if value is None else _row_number(value)), 0
                continue
            if value is None:
                column, cell_row = column + 1, row
            else:
                reference = _REFERENCE.fullmatch(value)
                if reference is None:
                    raise UnreadableFile("the workbook is damaged: a worksheet has a malformed cell reference")
                column, cell_row = _column_number(reference.group(1)), _row_number(reference.group(2))
            max_row, max_column = max(max_row, cell_row), max(max_column, column)
        if max_column > MAX_COLUMNS or max_row > MAX_ROWS or max_row * max_column > MAX_CELLS:
            break
    return max_row, max_column


def _read_workbook(path: Path) -> list[Sheet]:
    import python_calamine as calamine

    workbook = None
    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
        sheets = []
        for meta in workbook.sheets_metadata:
            # hidden and very hidden sheets are skipped (str(meta.visible) is "SheetVisibleEnum.Hidden",
            # which contains "Visible": compare the enum members, not their names)
            if meta.visible != calamine.SheetVisibleEnum.Visible or meta.typ != calamine.SheetTypeEnum.WorkSheet:
                continue
            rows = workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            sheets.append(Sheet(name=display_name(meta.name), rows=[list(r) for r in rows]))
    except BaseException as exc:  # calamine raises several error types for damaged files, and
        # pyo3's PanicException, which is not an Exception, when its Rust code panics
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise UnreadableFile(f"the workbook is damaged and cannot be opened ({type(exc).__name__})") from None
    finally:
        if workbook is not None:
            try:
                workbook.close()
            except Exception:
                pass
    if not sheets:
        raise UnreadableFile("the workbook has no visible worksheets")
    return sheets


# --- csv ---

_CONTROL = [chr(c) for c in range(32) if chr(c) not in "\t\n\r"]


def _looks_like_utf16(data: bytes) -> bool:
    """Every other byte zero: UTF-16 text saved without its byte-order mark."""
    sample = data[:4096]
    odd, even = sample[1::2], sample[0::2]
    return len(sample) >= 8 and (odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even))


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return _text_only(data[3:].decode("utf-8", errors="replace"))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark: unambiguous
        try:
            return _text_only(data.decode("utf-16"))
        except UnicodeDecodeError:
            raise UnreadableFile("the file says it is UTF-16 text but is not; please save it as CSV UTF-8") from None
    if b"\x00" in data:
        if _looks_like_utf16(data):
            raise UnreadableFile("the file is UTF-16 text without a byte-order mark; please save it as CSV UTF-8")
        raise UnreadableFile("the file is not a text CSV (it contains binary data)")
    try:
        return _text_only(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _text_only(data.decode("cp1252", errors="replace"))


def _text_only(text: str) -> str:
    """Refuse decoded 'text' that is binary data: NUL characters, or more than 1% control
    characters near the start (random bytes decode to about 11%)."""
    sample = text[:65536]
    if "\x00" in text or sum(sample.count(ch) for ch in _CONTROL) > len(sample) / 100:
        raise UnreadableFile("the file is not a text CSV (it contains binary data)")
    return text


DELIMITERS = (",", ";")  # the first wins a tie
DELIMITER_SAMPLE_LINES = 30  # the header is within the first 20 rows; a few data rows after it


def _delimiter(text: str) -> str:
    """The separator the file's rows agree on. For each candidate, the most header-like row in the
    first lines (most cells that are known headers of any source) is found, and the candidate is
    scored by (known headers in that row, rows after it with as many fields as it has). A count of
    columns alone can tie: a semicolon file whose unquoted title line holds a comma, and whose
    numbers are written ``191,305``, has two "columns" either way (issue 10). With no known header
    either way, the rows after the first line decide: the most of them agreeing on one width."""
    sample = [line for line in text[:MB].splitlines()[:DELIMITER_SAMPLE_LINES] if line.strip()]
    known = known_headers()
    best, best_score = DELIMITERS[0], None
    for candidate in DELIMITERS:
        rows = list(csv.reader(sample, delimiter=candidate))
        scores = [sum(normalise_header(cell) in known for cell in row) for row in rows]
        header = max(range(len(rows)), key=lambda i: (scores[i], -i), default=0)
        after = rows[header + 1 :]
        if rows and scores[header]:
            score = (scores[header], sum(len(row) == len(rows[header]) for row in after), 0)
        else:
            widths = Counter(len(row) for row in rows[1:] if len(row) > 1)
            agreeing, width = max(((n, w) for w, n in widths.items()), default=(0, 0))
            score = (0, agreeing, width)
        if best_score is None or score > best_score:
            best, best_score = candidate, score
    return best


def _trimmed(row: list[str]) -> list[str]:
    """The row without its trailing empty fields (a row of a million commas is one blank row)."""
    end = len(row)
    while end and not row[end - 1].strip():
        end -= 1
    return row[:end] if end < len(row) else row


# Characters str.splitlines() breaks at besides \r and \n (a csv file's lines end only at those).
_OTHER_LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _lines(text: str):
    """The text's lines with their endings, as ``io.StringIO(text, newline="")`` gives them, but
    without its copy of the whole text at four bytes a character (issue 8: 400 MB for a 100 MB file)."""
    if any(ch in text for ch in _OTHER_LINE_BREAKS):
        return io.StringIO(text, newline="")
    return _lines_by_block(text)


def _lines_by_block(text: str, size: int = 1 << 20):
    """Split a megabyte or so at a time, each block ending just after a \n (so a \r\n pair
    is never parted): only one block's lines exist at once."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        yield from text[start:end].splitlines(keepends=True)
        start = end


def _read_csv(path: Path) -> list[list[object]]:
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("the file is empty")
    text = _decode(data)
    del data
    # The csv module refuses fields over 128 KB; the file size limit bounds them instead, and a
    # long value rejects its row (values.py) rather than the whole file.
    csv.field_size_limit(2**31 - 1)
    rows: list[list[Any]] = []
    cells = 0
    try:
        for row in csv.reader(_lines(text), delimiter=_delimiter(text)):
            row = _trimmed(row)
            cells += len(row)
            if len(row) > MAX_COLUMNS or len(rows) >= MAX_ROWS or cells > MAX_CELLS:
                raise UnreadableFile(_csv_too_large(len(rows) + 1, len(row)))
            rows.append(row)
    except csv.Error as exc:
        raise UnreadableFile(f"the CSV file is malformed ({exc})") from None
    return rows


def _csv_too_large(row: int, width: int) -> str:
    if width > MAX_COLUMNS:
        return (
            f"row {row:,} of the file has {width:,} columns, far more than any partner extract "
            f"(the limit is {MAX_COLUMNS}); the file was not read"
        )
    return (
        f"the file has more than {min(row - 1, MAX_ROWS):,} rows or {MAX_CELLS:,} cells, more than any partner extract; "
        "the file was not read"
    )
