"""Hostile and broken input: a corpus of dangerous files, generated here, dropped into one inbox
with good ones and taken in one run on each warehouse engine.

Every bad file (or bad row) is refused in plain English and none stops the run; the warehouse
holds exactly the good files' good rows; every original ends exactly once in archive/ or
rejected/ under a safe name, with a receipt; nothing is written outside SCORECARD_HOME; names
are shown with their control characters made visible; formulas are never evaluated and never
written back as formulas; a zip bomb and a sheet reaching XFD1048576 are refused without
expanding (proved in a subprocess with a memory limit)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, select

from pipelines.config import load_settings
from pipelines.intake import run_intake
from pipelines.intake.inbox import text_name
from pipelines.warehouse.schema import load_files, table_for
from tests.test_intake import HEADER, police_rows, write_xlsx
from tests.test_intake_corpus import assert_outcomes

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
HYPERLINK = '=HYPERLINK("http://evil","click")'
WARD = HEADER.index("Ward")

# --- building blocks: a minimal workbook written by hand, so any XML can go in it ---

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Incidents" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
_SHEET_OPEN = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_CLOSE = "</sheetData></worksheet>"


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _header_row() -> str:
    """The police header as row 1, so each hostile workbook would otherwise be identified."""
    return '<row r="1">' + "".join(_text_cell(f"{chr(65 + i)}1", h) for i, h in enumerate(HEADER)) + "</row>"


def hand_workbook(path: Path, sheet_body: str | None = None, *, blocks=None, level: int = 6) -> Path:
    """A minimal workbook whose sheet1.xml is the police header, then ``sheet_body`` or the
    ``blocks`` of bytes streamed in (for sheets of hundreds of MB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write((_SHEET_OPEN + _header_row() + (sheet_body or "")).encode())
            for block in blocks or ():
                sheet.write(block)
            sheet.write(_SHEET_CLOSE.encode())
    return path


def zip_bomb(path: Path, megabytes: int) -> Path:
    """Rows of a repeated 1,000-character value: ``megabytes`` MB of sheet XML compressing about
    400 to 1."""
    block = b"".join(b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>" for _ in range(1000))
    return hand_workbook(path, blocks=[block] * (megabytes * 2**20 // len(block)))


def rewrite_parts(source: Path, target: Path, change) -> Path:
    """Copy a workbook part by part; ``change(name, data)`` returns new bytes, or None to drop."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def police_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def refs(rows: list[list]) -> set[str]:
    return {row[0] for row in rows}


def formula_workbook(path: Path) -> tuple[Path, set[str], set[str]]:
    """Real formulas (openpyxl writes no cached values) and formula-like text; returns the
    file and the references that must load and that must be rejected."""
    rows = police_rows(40, start=500)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    ward = WARD + 1
    ws.cell(2, ward).value = HYPERLINK  # a real formula, no cached value: read as blank
    for r, text in zip(range(3, 7), [HYPERLINK, "+cmd", "-2+3", "@SUM(1)"]):
        ws.cell(r, ward).value = text
        ws.cell(r, ward).data_type = "s"  # text that looks like a formula
    ws.cell(7, 2).value, ws.cell(7, 2).data_type = "=NOW()", "s"  # not a date
    ws.cell(8, 4).value, ws.cell(8, 4).data_type = "-2+3", "s"  # not a whole number
    ws.cell(9, 1).value = '=CONCAT("INC","99999")'  # a formula key with no cached value: blank
    wb.save(path)
    rejected = {rows[5][0], rows[6][0], rows[7][0]}
    return path, refs(rows) - rejected, rejected


def cached_formula_workbook(path: Path, work: Path) -> Path:
    """A formula saved with its cached value, as Excel saves it: the cached value is read."""
    rows = police_rows(10, start=600)
    plain = work / "cached-source.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    ws.cell(2, WARD + 1).value = HYPERLINK
    wb.save(plain)

    def cache(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return data
        data, n = re.subn(rb'<c r="H2"><f>(.*?)</f><v\s*/>', rb'<c r="H2" t="str"><f>\1</f><v>click</v>', data)
        assert n == 1
        return data

    return rewrite_parts(plain, path, cache)


def nul_and_long_workbook(path: Path, work: Path) -> tuple[Path, set[str]]:
    rows = police_rows(40, start=800)
    rows[3][WARD] = "LONG"  # becomes a 100,000-character cell (openpyxl would cut it to 32,767)
    rows[4][0] = "K" * 300  # a key too long to index
    rows[5][WARD] = "before_x0000_after"  # OOXML's escape for a NUL character
    plain = write_xlsx(work / "long-source.xlsx", rows, title_rows=0, totals=False)
    rewrite_parts(plain, path, lambda name, data: data.replace(b"<t>LONG</t>", b"<t>" + b"w" * 100_000 + b"</t>"))
    return path, refs(rows) - {rows[3][0], rows[4][0], rows[5][0]}


def png_bytes() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """Built once: a 200 MB zip bomb (about 500 KB), and a sheet with a cell at XFD1048576."""
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "bomb": zip_bomb(folder / "bomb.xlsx", 200),
        "corner": hand_workbook(folder / "corner.xlsx", '<row r="1048576">' + _text_cell("XFD1048576", "x") + "</row>"),
    }


HOSTILE_NAMES = {  # name -> first reference of the five good rows it holds
    "..%2F..%2Fetc%2Fpasswd.csv": 400,
    "line\nbreak.csv": 410,
    "\x1b[31mred\x1b[0m.csv": 420,
    "police\u202eslx.csv": 430,
    "A" * 246 + ".csv": 440,
    "caf\udce9 \udcff latin-1.csv": 450,  # bytes that are not UTF-8, as a Linux file system keeps them
}


def build_corpus(inbox: Path, work: Path, bombs: dict[str, Path]) -> tuple[dict, set[str]]:
    """Write every case; return name -> (status, words in the message) and the references that
    must end up in the warehouse."""
    good: set[str] = set()
    expected: dict[str, tuple[str, list[str]]] = {}

    def accept(name: str, loaded: set[str]):
        good.update(loaded)
        expected[name] = ("accepted", [])

    # good files, and good content under hostile names
    rows = police_rows(30, start=1)
    write_xlsx(inbox / "police_good.xlsx", rows)
    accept("police_good.xlsx", refs(rows))
    rows = police_rows(30, start=100)
    police_csv(inbox / "police_good.csv", rows)
    accept("police_good.csv", refs(rows))
    rows = police_rows(20, start=200)
    police_csv(inbox / "police_utf16.csv", rows, encoding="utf-16")  # with its byte-order mark
    accept("police_utf16.csv", refs(rows))
    rows = police_rows(10, start=300)
    plain = write_xlsx(work / "dimension-source.xlsx", rows)
    rewrite_parts(
        plain,
        inbox / "police_dimension.xlsx",  # calamine ignores <dimension>, so do we
        lambda name, data: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', data),
    )
    accept("police_dimension.xlsx", refs(rows))
    for name, start in HOSTILE_NAMES.items():
        rows = police_rows(5, start=start)
        police_csv(inbox / name, rows)
        accept(name, refs(rows))
    (inbox / "tab\tand..dots..csv").write_text("Budget line,2024-25\nTraining,12000\n")
    expected["tab\tand..dots..csv"] = ("rejected", ["no recognised header"])

    # 1. zip bombs: refused from the zip directory
    (inbox / "bomb.xlsx").write_bytes(bombs["bomb"].read_bytes())
    expected["bomb.xlsx"] = ("rejected", ["would expand to 200 MB when opened", "limit is 20 MB", "refused as unsafe"])
    zip_bomb(inbox / "bomb_ratio.xlsx", 8)
    expected["bomb_ratio.xlsx"] = ("rejected", ["compressed", "to 1", "zip bomb", "refused as unsafe"])

    # 2. sheets reaching far beyond any extract
    (inbox / "corner.xlsx").write_bytes(bombs["corner"].read_bytes())
    expected["corner.xlsx"] = ("rejected", ["16,384 columns and 1,048,576 rows", "refused as unsafe"])
    hand_workbook(inbox / "wide_unnumbered.xlsx", "<row>" + '<c t="inlineStr"><is><t>v</t></is></c>' * 600 + "</row>")
    expected["wide_unnumbered.xlsx"] = ("rejected", ["600 columns", "refused as unsafe"])
    hand_workbook(inbox / "far_row.xlsx", '<row r="2">' + _text_cell("B9999999999", "x") + "</row>")
    expected["far_row.xlsx"] = ("rejected", ["billions of rows", "refused as unsafe"])

    # 3. over the size limit (2 MB here): valid rows, never read
    rows = police_rows(40_000, start=100_000)
    police_csv(inbox / "too_big.csv", rows)
    expected["too_big.csv"] = ("rejected", ["more than the 2 MB limit", "not opened", "SCORECARD_MAX_FILE_MB"])

    # 5. formulas, in xlsx and csv
    path, loaded, _ = formula_workbook(inbox / "formulas.xlsx")
    accept("formulas.xlsx", loaded)
    cached_formula_workbook(inbox / "formulas_cached.xlsx", work)
    accept("formulas_cached.xlsx", refs(police_rows(10, start=600)))
    rows = police_rows(40, start=700)
    for row, text in zip(rows, [HYPERLINK, "+cmd", "-2+3", "@SUM(1)"]):
        row[WARD] = text
    rows[4][1] = "=NOW()"
    rows[5][3] = "+cmd"
    police_csv(inbox / "formulas.csv", rows)
    accept("formulas.csv", refs(rows) - {rows[4][0], rows[5][0]})

    # 6. extremely long values (and a NUL)
    path, loaded = nul_and_long_workbook(inbox / "long.xlsx", work)
    accept("long.xlsx", loaded)
    rows = police_rows(40, start=900)
    rows[2][WARD] = "y" * 1_000_000  # over the csv module's default 131,072 field limit
    rows[3][3] = "9" * 5000  # more digits than Python will convert by default
    police_csv(inbox / "long.csv", rows)
    accept("long.csv", refs(rows) - {rows[2][0], rows[3][0]})
    (inbox / "wide.csv").write_text(",".join(HEADER) + "\n" + ",".join(["v"] * 20_000) + "\n")
    expected["wide.csv"] = ("rejected", ["20,000 columns", "the file was not read"])
    (inbox / "blank_lines.csv").write_text(",".join(HEADER) + "\n" * 1_100_000)
    expected["blank_lines.csv"] = ("rejected", ["1,048,576 rows", "the file was not read"])

    # 7. junk and impostors
    (inbox / "random.csv").write_bytes(random.Random(7).randbytes(50_000))
    expected["random.csv"] = ("rejected", ["binary data"])
    (inbox / "image.csv").write_bytes(png_bytes())
    expected["image.csv"] = ("rejected", ["PNG image", "not a CSV"])
    (inbox / "utf16_no_bom.csv").write_bytes("Occurrence Number,Ward\r\nINC1,Armley\r\n".encode("utf-16-le"))
    expected["utf16_no_bom.csv"] = ("rejected", ["UTF-16", "save it as CSV UTF-8"])
    (inbox / "workbook_named.csv").write_bytes(write_xlsx(work / "renamed.xlsx", police_rows(3, start=50)).read_bytes())
    expected["workbook_named.csv"] = ("rejected", ["zip archive", "if so, name it .xlsx"])
    (inbox / "zero.xlsx").write_bytes(b"")
    expected["zero.xlsx"] = ("rejected", ["empty"])
    whole = write_xlsx(work / "whole.xlsx", police_rows(50, start=60)).read_bytes()
    (inbox / "truncated.xlsx").write_bytes(whole[: len(whole) // 2])
    expected["truncated.xlsx"] = ("rejected", ["damaged or incomplete"])
    rewrite_parts(
        work / "whole.xlsx",
        inbox / "no_content_types.xlsx",
        lambda name, data: None if name == "[Content_Types].xml" else data,
    )
    expected["no_content_types.xlsx"] = ("rejected", ["lacks the [Content_Types].xml part"])
    with zipfile.ZipFile(inbox / "letter.xlsx", "w") as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.replace("spreadsheetml", "wordprocessingml"))
        archive.writestr("word/document.xml", "<w:document/>")
    expected["letter.xlsx"] = ("rejected", ["Word document", "not a spreadsheet"])
    rewrite_parts(work / "whole.xlsx", inbox / "traversal.xlsx", lambda name, data: data)
    with zipfile.ZipFile(inbox / "traversal.xlsx", "a") as archive:
        archive.writestr("../../../evil.txt", "escaped")
    expected["traversal.xlsx"] = ("rejected", ["part named '../../../evil.txt'", "refused as unsafe"])
    return expected, good


@pytest.fixture
def settings(scorecard_home, warehouse_url, monkeypatch):
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SCORECARD_MAX_FILE_MB", "2")  # workbooks may then expand to 20 MB
    s = load_settings()
    s.ensure_folders()
    return s


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def test_hostile_corpus_is_refused_plainly_and_stops_nothing(settings, tmp_path, bombs):
    work = tmp_path / "work"
    work.mkdir()
    expected, good_refs = build_corpus(settings.inbox, work, bombs)
    expected = {text_name(name): case for name, case in expected.items()}  # as receipts name them
    originals = {_sha(p): text_name(p.name) for p in settings.inbox.iterdir()}
    assert len(originals) == len(expected)  # every case is a distinct file
    before, around = _tree(tmp_path), set(tmp_path.parent.iterdir())

    run = run_intake(settings, files=sorted(settings.inbox.iterdir()))

    # each case: the expected outcome, in plain English; the run went through all of them
    outcomes = assert_outcomes(run, expected)
    # the warehouse holds exactly the good files' good rows
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            police = table_for("police_domestic_incidents")
            loaded = dict(conn.execute(select(police.c.incident_ref, police.c.district)).all())
            statuses = dict(conn.execute(select(load_files.c.original_name, load_files.c.status)).all())
    finally:
        engine.dispose()
    assert set(loaded) == good_refs
    assert sum(o.rows_loaded for o in run.outcomes) == len(good_refs)
    assert {n for n, s in statuses.items() if s == "accepted"} == {
        n for n, (s, _) in expected.items() if s == "accepted"
    }

    _assert_rows_refused(outcomes)
    _assert_formulas_are_text(loaded, outcomes)
    _assert_each_original_stored_once_with_a_receipt(settings, originals, outcomes)
    _assert_names_shown_safely(settings, run.outcomes)
    # nothing written outside SCORECARD_HOME (but the test's SQLite warehouse, kept beside it)
    created = {p for p in _tree(tmp_path) - before if not p.is_relative_to(settings.home)}
    assert all(p.parent == tmp_path and p.name.startswith("warehouse.db") for p in created), created
    assert set(tmp_path.parent.iterdir()) == around
    assert not [p for p in tmp_path.parent.rglob("*") if p.name in {"evil.txt", "passwd", "passwd.csv"}]


def _assert_rows_refused(outcomes) -> None:
    def reasons(name: str) -> str:
        receipt = json.loads(Path(outcomes[name].receipt).with_suffix(".json").read_text(encoding="utf-8"))
        return " | ".join(group["reason"] for group in receipt["reasons"])

    assert (outcomes["formulas.xlsx"].rows_loaded, outcomes["formulas.xlsx"].rows_rejected) == (37, 3)
    assert "Date Reported is not a date we recognise" in reasons("formulas.xlsx")
    assert "No. of Children is not a whole number" in reasons("formulas.xlsx")
    assert "missing key" in reasons("formulas.xlsx")
    assert (outcomes["formulas.csv"].rows_loaded, outcomes["formulas.csv"].rows_rejected) == (38, 2)
    long_xlsx = reasons("long.xlsx")
    assert "Ward is 100,000 characters long, more than the 10,000 allowed" in long_xlsx
    assert "Occurrence Number is 300 characters long, more than the 255 allowed" in long_xlsx
    assert "Ward contains a NUL character" in long_xlsx
    long_csv = reasons("long.csv")
    assert "Ward is 1,000,000 characters long, more than the 10,000 allowed" in long_csv
    assert "No. of Children is too large to be a count" in long_csv


def _assert_formulas_are_text(loaded: dict, outcomes) -> None:
    """Formula-like text loads as text; real formulas give their cached value (or blank); the
    rejects workbook holds formula-like text guarded with an apostrophe, never as a formula."""
    for ref, text in zip([f"INC{i:05d}" for i in range(700, 704)], [HYPERLINK, "+cmd", "-2+3", "@SUM(1)"]):
        assert loaded[ref] == text
    for ref, text in zip([f"INC{i:05d}" for i in range(501, 505)], [HYPERLINK, "+cmd", "-2+3", "@SUM(1)"]):
        assert loaded[ref] == text
    assert loaded["INC00500"] is None  # =HYPERLINK(...) saved without a cached value reads blank
    assert loaded["INC00600"] == "click"  # ...and with one, its cached value: never evaluated
    for name, guarded in [("formulas.csv", {"'=NOW()", "'+cmd"}), ("formulas.xlsx", {"'=NOW()", "'-2+3"})]:
        receipt = json.loads(Path(outcomes[name].receipt).with_suffix(".json").read_text(encoding="utf-8"))
        sheet = openpyxl.load_workbook(receipt["rejects_file"]).active
        cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value is not None]
        assert not [c for c in cells if c.data_type == "f"]
        found = {c.value for c in cells if isinstance(c.value, str) and c.value.startswith("'")}
        assert guarded <= found, (name, found)
        assert all(c.data_type == "s" for c in cells if c.value in guarded)
    receipt = json.loads(Path(outcomes["long.csv"].receipt).with_suffix(".json").read_text(encoding="utf-8"))
    sheet = openpyxl.load_workbook(receipt["rejects_file"]).active
    longest = max((c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)), key=len)
    assert len(longest) <= 32_767 and longest.endswith("[cut: 1,000,000 characters in all]")


def _assert_each_original_stored_once_with_a_receipt(settings, originals: dict, outcomes) -> None:
    assert not list(settings.inbox.rglob("*"))
    stored = {}
    for folder in (settings.archive, settings.rejected):
        for path in folder.iterdir():
            assert re.fullmatch(r"[A-Za-z0-9._ -]+", path.name) and ".." not in path.name and len(path.name) <= 160, (
                path.name
            )
            stored.setdefault(_sha(path), []).append(path)
    assert sorted(stored) == sorted(originals)
    assert all(len(paths) == 1 for paths in stored.values())
    for sha, name in originals.items():
        folder = settings.archive if outcomes[name].status == "accepted" else settings.rejected
        assert stored[sha][0].parent == folder
    receipts = sorted(settings.receipts.glob("*.receipt.json"))
    assert len(receipts) == len(originals)
    assert {json.loads(p.read_text(encoding="utf-8"))["sha256"] for p in receipts} == set(originals)
    assert len(list(settings.outbox.glob("*.eml"))) == len(originals)


def _assert_names_shown_safely(settings, outcomes) -> None:
    lines = [o.line() for o in outcomes]
    assert all(line.isprintable() for line in lines), [line for line in lines if not line.isprintable()]
    shown = "\n".join(lines)
    for visible in [
        "line\\nbreak.csv",
        "\\x1b[31mred\\x1b[0m.csv",
        "police\\u202eslx.csv",
        "caf\\xe9 \\xff latin-1.csv",
        "..%2F..%2Fetc%2Fpasswd.csv",
        "tab\\tand..dots..csv",
    ]:
        assert visible in shown
    for path in settings.receipts.glob("*.receipt.txt"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("Receipt for ") and first.isprintable() and len(first) <= 140, first
    for path in settings.outbox.glob("*.eml"):
        subject = next(line for line in path.read_bytes().decode("utf-8").splitlines() if line.startswith("Subject:"))
        assert "\x1b" not in subject and "\u202e" not in subject


# --- memory: refused without expanding, and calamine alone would not survive ---

_READ_UNDER_LIMIT = """
import resource, sys
limit = 1536 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from pathlib import Path
from pipelines.intake.reading import UnreadableFile, read_file
print("BASE", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
for name in sys.argv[1:]:
    try:
        read_file(Path(name))
        print("READ", name)
    except UnreadableFile as exc:
        print("REFUSED", exc)
print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""

_CALAMINE_UNDER_LIMIT = """
import resource, sys
limit = 1536 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import python_calamine
python_calamine.CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python()
"""


def _python(script: str, *args: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "RUST_BACKTRACE": "0"}
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def test_bomb_and_giant_sheet_refused_in_bounded_memory_with_default_limits(bombs):
    # The 200 MB bomb is within the default expansion limit (10 x 100 MB): its compression ratio
    # gives it away. Neither file is expanded: the peak memory barely moves from the baseline,
    # where calamine would hold the bomb's 200,000 strings (over 400 MB).
    result = _python(_READ_UNDER_LIMIT, bombs["bomb"], bombs["corner"])
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout.splitlines()
    assert "zip bomb" in out[1] and "refused as unsafe" in out[1], out
    assert "16,384 columns and 1,048,576 rows" in out[2], out
    base, peak = int(out[0].split()[1]), int(out[-1].split()[1])
    assert peak - base < 50, (base, peak)


def test_calamine_alone_dies_on_the_giant_sheet_which_is_why_it_is_guarded(bombs):
    # Measured with python-calamine 0.9 (calamine 0.37): it allocates the whole A1:XFD1048576
    # rectangle (32 bytes a cell, 550 GB) and aborts the process, which no try/except can catch.
    result = _python(_CALAMINE_UNDER_LIMIT, bombs["corner"])
    assert result.returncode != 0
    assert "memory allocation" in result.stderr
