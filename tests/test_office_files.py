"""Partner files as real office software writes them: the generated extracts converted and re-saved
by LibreOffice Calc (Debian's, installed by tests/setup_system.sh) load exactly as the originals
do, or, saved with US dates, are refused as month-first: never silently different rows.

LibreOffice runs headless with a profile folder of its own per test module (set to a UK or US
locale, so the machine's locale does not decide how dates are written), under a timeout.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from pipelines.generate import generate
from pipelines.intake import run_intake
from pipelines.intake.pseudonym import normalise_identifier, pseudonymise
from pipelines.intake.reading import read_file
from pipelines.periods import Quarter
from pipelines.warehouse.schema import source_tables
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.slow

SOFFICE_TIMEOUT = 300  # seconds for one conversion of a few files (a cold start takes about 5)
UK, US = "en-GB", "en-US"
UK_CSV = "CSV:{separator},34,{charset},1,,2057,false,true"  # import: English (UK) dates, detect numbers
US_CSV = "CSV:{separator},34,{charset},1,,1033,false,true"  # the same, English (US)
UTF8, WINDOWS_1252 = 76, 1  # LibreOffice's codes for the encodings
SEMICOLON_1252 = "csv:Text - txt - csv (StarCalc):59,34,1,1"  # export: semicolons, Windows-1252


# --- LibreOffice ---


def _profile(folder: Path, locale: str) -> Path:
    """A LibreOffice user profile whose locale (how it shows and writes dates) is ``locale``."""
    user = folder / "user"
    if not user.exists():
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
            '<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">'
            f"<value>{locale}</value></prop></item>\n"
            "</oor:items>\n",
            encoding="utf-8",
        )
    return folder


def soffice(
    work: Path, locale: str, files: list[Path], convert_to: str, out: Path, infilter: str | None = None
) -> list[Path]:
    """Convert ``files`` with LibreOffice in ``locale``; the converted files, checked to exist."""
    out.mkdir(parents=True, exist_ok=True)
    profile = _profile(work / f"profile-{locale}", locale)
    command = ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--nologo"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--convert-to", convert_to, "--outdir", str(out), *map(str, files)]
    suffix = "." + convert_to.split(":")[0]
    converted = [out / (f.stem + suffix) for f in files]
    for _ in range(2):  # a profile's first start now and then exits before converting anything
        result = subprocess.run(command, capture_output=True, text=True, timeout=SOFFICE_TIMEOUT)
        assert result.returncode == 0, result.stderr[-2000:]
        missing = [p.name for p in converted if not p.is_file()]
        if not missing:
            break
    assert not missing, f"LibreOffice did not write {missing}: {result.stdout[-1000:]} {result.stderr[-1000:]}"
    return converted


def csv_format(path: Path) -> tuple[int, int]:
    """The generated csv's separator and encoding, as LibreOffice's filter wants them (codes)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        charset = UTF8
    except UnicodeDecodeError:
        charset = WINDOWS_1252
    return (ord(";") if data.count(b";") > data.count(b",") else ord(",")), charset


def convert_csvs(work: Path, locale: str, files: list[Path], convert_to: str, out: Path, infilter: str) -> list[Path]:
    """Each csv read with its own separator and encoding: one LibreOffice run for each pair."""
    converted = []
    for separator, charset in sorted({csv_format(f) for f in files}):
        batch = [f for f in files if csv_format(f) == (separator, charset)]
        converted += soffice(
            work, locale, batch, convert_to, out, infilter.format(separator=separator, charset=charset)
        )
    return converted


# --- the files, generated and converted once for the module ---


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> dict[str, list[Path]]:
    work = tmp_path_factory.mktemp("office")
    originals = generate(
        work / "original", quarters=1, seed=11, end_quarter=Quarter.parse("2024-25 Q1"), scale=0.05
    ).files
    csvs = [f for f in originals if f.suffix == ".csv"]
    workbooks = [f for f in originals if f.suffix == ".xlsx"]
    assert csvs and workbooks
    sets = {"original": originals}
    # (1) UK: every csv to a workbook of date and number cells, every workbook re-saved
    sets["uk_xlsx"] = convert_csvs(work, UK, csvs, "xlsx", work / "uk_xlsx", UK_CSV) + soffice(
        work, UK, workbooks, "xlsx", work / "uk_xlsx"
    )
    # (2) UK: every file to a semicolon-separated Windows-1252 csv
    sets["semicolon"] = convert_csvs(work, UK, csvs, SEMICOLON_1252, work / "semicolon", UK_CSV) + soffice(
        work, UK, workbooks, SEMICOLON_1252, work / "semicolon"
    )
    # (3) US: every csv opened with US dates and saved as a workbook, and as a csv; every workbook saved as csv
    sets["us_xlsx"] = convert_csvs(work, US, csvs, "xlsx", work / "us_xlsx", US_CSV)
    sets["us_csv"] = convert_csvs(work, US, csvs, "csv", work / "us_csv", US_CSV) + soffice(
        work, US, workbooks, "csv", work / "us_csv"
    )
    return sets


# --- two homes, two warehouses ---


@pytest.fixture
def other_warehouse_url(warehouse_url, tmp_path):
    """A second empty warehouse on the same engine as ``settings``."""
    if warehouse_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other-warehouse.db'}"
        return
    name = f"scorecard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def other_settings(settings, other_warehouse_url, tmp_path):
    other = dataclasses.replace(settings, home=tmp_path / "other-home", warehouse_url=other_warehouse_url)
    other.ensure_folders()
    return other


def intake(settings, files: list[Path]) -> dict[str, object]:
    """Copy ``files`` into the inbox and run intake: file stem -> outcome."""
    for f in files:
        shutil.copyfile(f, settings.inbox / f.name)
    outcomes = {Path(o.file).stem: o for o in run_intake(settings).outcomes}
    assert set(outcomes) == {f.stem for f in files}
    return outcomes


def stored_rows(url: str, load_id: int | None = None) -> dict[str, list[tuple]]:
    """Every source table's rows (all columns but ``load_id``), sorted; only one load's if given."""
    engine = create_engine(url)
    try:
        out = {}
        with engine.connect() as conn:
            for table in source_tables().values():
                query = select(*[c for c in table.columns if c.name != "load_id"])
                if load_id is not None:
                    query = query.where(table.c.load_id == load_id)
                out[table.name] = sorted((tuple(r) for r in conn.execute(query)), key=repr)
        return out
    finally:
        engine.dispose()


def assert_all_accepted(outcomes: dict) -> None:
    refused = {stem: o.message for stem, o in outcomes.items() if o.status != "accepted"}
    assert not refused, refused


# --- the tests ---


@pytest.mark.parametrize("converted", ["uk_xlsx", "semicolon"])
def test_files_saved_by_office_software_load_exactly_as_the_originals(office, converted, settings, other_settings):
    originals = intake(settings, office["original"])
    assert_all_accepted(originals)
    saved = intake(other_settings, office[converted])
    assert_all_accepted(saved)
    for stem, outcome in originals.items():
        assert (saved[stem].rows_loaded, saved[stem].rows_rejected) == (outcome.rows_loaded, outcome.rows_rejected), (
            stem
        )
    expected = stored_rows(settings.warehouse_url)
    assert sum(map(len, expected.values())) > 300
    assert stored_rows(other_settings.warehouse_url) == expected


def test_the_conversions_really_change_the_files(office):
    """What the tests above rely on: LibreOffice turned text into date and number cells, and wrote
    semicolons in Windows-1252."""
    [missing] = [f for f in office["uk_xlsx"] if f.name == "MissingEpisodes_2024-04.xlsx"]
    rows = read_file(missing)[0].rows
    assert isinstance(rows[1][3], datetime)  # MIS_START: was the text 01/04/2024 ...
    semicolon = {f.name: f.read_bytes() for f in office["semicolon"]}
    assert semicolon["MissingEpisodes_2024-05.csv"].startswith(b'"Episode ID";"Child ID";')  # UTF-8 with a BOM, sent
    assert b'"Caf\xe9, ' in semicolon["MissingEpisodes_2024-04.csv"]  # a café in Windows-1252


@pytest.mark.parametrize("converted", ["us_xlsx", "us_csv"])
def test_files_saved_with_us_dates_load_the_same_or_are_refused_as_month_first(
    office, converted, settings, other_settings
):
    originals = intake(settings, office["original"])
    assert_all_accepted(originals)
    saved = intake(other_settings, office[converted])
    refused = []
    for stem, outcome in saved.items():
        if outcome.status == "accepted":
            assert stored_rows(other_settings.warehouse_url, outcome.load_id) == stored_rows(
                settings.warehouse_url, originals[stem].load_id
            ), f"{stem}: rows differ silently"
        else:
            assert outcome.status == "rejected" and "month-first" in outcome.message, (stem, outcome.message)
            refused.append(stem)
    # the day-first csvs with times were read month first where they could be: refused
    assert {"MissingEpisodes_2024-04", "MissingEpisodes_2024-06"} <= set(refused), refused


def test_us_opened_workbooks_are_refused_by_the_file_wide_check(office, settings):
    """Opened with US dates and saved as workbooks, the day-first files' dates read, in the wrong
    month, and (nearly) every row passes its checks: the 10% rule is silent, the file-wide check
    refuses them, and names no value."""
    files = [f for f in office["us_xlsx"] if f.stem in ("MissingEpisodes_2024-06", "Attendance_HT6_2023-24")]
    outcomes = intake(settings, files)
    for stem, outcome in outcomes.items():
        assert outcome.status == "rejected", (stem, outcome.message)
        assert outcome.message.startswith("dates look month-first (US style): in "), outcome.message
        assert outcome.rows_loaded == 0 and outcome.rows_rejected > 0
        receipt = json.loads(Path(outcome.receipt).with_suffix(".json").read_text())
        assert receipt["summary"] == outcome.message
        assert sum(group["rows"] for group in receipt["reasons"]) < 0.1 * outcome.rows_rejected
    # attendance: one period per file, its start swapped to 6 March; not one row fails a check
    assert "in Period Start and Period End, all 16 date cells" in outcomes["Attendance_HT6_2023-24"].message
    assert not json.loads(Path(outcomes["Attendance_HT6_2023-24"].receipt).with_suffix(".json").read_text())["reasons"]


# --- identifiers that a spreadsheet program turns into numbers ---


def test_all_digit_identifiers_are_compared_without_leading_zeros():
    key = b"k"
    assert normalise_identifier("003003650") == normalise_identifier("3003650") == "3003650"
    assert normalise_identifier(" 0 ") == normalise_identifier("000") == "0"
    assert normalise_identifier("mos00123 ") == "MOS00123"
    assert normalise_identifier("0012-3") == "0012-3"
    assert normalise_identifier("٠٠١٢") == "٠٠١٢"  # digits of other scripts are not ours to strip
    assert pseudonymise("003003650", key) == pseudonymise("3003650", key) != pseudonymise("MOS3003650", key)
    assert pseudonymise("0", key) != pseudonymise("", key)


def leading_zero_ids(source: Path, target: Path) -> Path:
    """The generated missing-episodes csv with every child identifier all digits, two leading
    zeros first (WYP1215755 becomes 001215755)."""
    with source.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("Child ID")
    for row in rows[1:]:
        row[column] = "00" + "".join(ch for ch in row[column] if ch.isdigit())
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return target


@pytest.mark.parametrize("convert_to", ["xlsx", SEMICOLON_1252])
def test_a_child_keeps_its_pseudonym_when_a_spreadsheet_drops_leading_zeros(
    office, convert_to, settings, other_settings, tmp_path
):
    [generated] = [f for f in office["original"] if f.name == "MissingEpisodes_2024-05.csv"]
    original = leading_zero_ids(generated, tmp_path / generated.name)
    [saved] = convert_csvs(tmp_path, UK, [original], convert_to, tmp_path / "saved", UK_CSV)
    # the spreadsheet program stored the identifiers as numbers: the zeros are gone
    sent = [r for r in csv.reader(original.open(encoding="utf-8"))][1][1]
    header, first = [r for r in read_file(saved)[0].rows if any(c not in ("", None) for c in r)][:2]
    child = first[header.index("Child ID")]
    assert sent.startswith("00") and child in (float(sent), sent.lstrip("0")), (sent, child)
    [before] = intake(settings, [original]).values()
    [after] = intake(other_settings, [saved]).values()
    assert before.status == after.status == "accepted", (before.message, after.message)
    rows = stored_rows(settings.warehouse_url)["stg_missing_episodes"]
    assert len(rows) == before.rows_loaded > 5
    assert stored_rows(other_settings.warehouse_url)["stg_missing_episodes"] == rows


# --- csv separators: chosen by the header and the rows after it, not by a tie ---


def test_a_semicolon_csv_with_an_unquoted_comma_title_line_is_read_by_its_header(settings):
    """Issue 10: the population file's shape, saved with semicolons in Windows-1252. Read with
    commas it has two "columns" on every line too (title, and 2024;191 | 305), and was refused."""
    path = settings.inbox / "ONS_population.csv"
    path.write_bytes(
        (
            "ONS mid-year population estimates: Leeds, children aged 0 to 17 – provisional\r\n"
            "\r\n"
            "Year;Population 0-17\r\n"
            "2023;191,305\r\n"
            "2024;192,010\r\n"
        ).encode("cp1252")
    )
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "accepted", outcome.message
    assert stored_rows(settings.warehouse_url)["ref_population"] == [(2023, 191305), (2024, 192010)]


@pytest.mark.parametrize(
    "lines, separator",
    [
        (["Title, with a comma", "", "Year;Population 0-17", "2023;191,305"], ";"),
        (["Year,Population 0-17", '2023,"191,305"'], ","),
        (["Episode ID;Child ID;Date Missing", "E1;C1;01/05/2024 10:00", "E2;C2;02/05/2024, late"], ";"),
        (["Episode ID,Child ID,Date Missing", "E1,C1,01/05/2024 10:00; 11:00"], ","),
        (["a;b;c", "1;2;3", "4;5;6"], ";"),  # no known header: the rows that agree
        (["a,b", "1,2"], ","),
        (["a;b,c", "1;2,3"], ","),  # a tie: the comma
    ],
)
def test_the_separator_is_the_one_the_header_and_its_rows_agree_on(lines, separator):
    from pipelines.intake.reading import _delimiter

    assert _delimiter("\r\n".join(lines) + "\r\n") == separator


# --- spreadsheets in formats we do not read: the specific reason ---


def test_a_real_xls_and_an_ods_get_their_own_reasons(office, settings, tmp_path):
    from tests.test_intake_corpus import encrypted_xlsx

    [benchmarks] = [f for f in office["original"] if f.name == "Benchmarks.csv"]
    xls = soffice(tmp_path, UK, [benchmarks], "xls", tmp_path / "xls", UK_CSV.format(separator=44, charset=UTF8))[0]
    ods = soffice(tmp_path, UK, [benchmarks], "ods", tmp_path / "ods", UK_CSV.format(separator=44, charset=UTF8))[0]
    assert xls.read_bytes()[:4] == b"\xd0\xcf\x11\xe0" and ods.read_bytes()[:2] == b"PK"
    shutil.copyfile(xls, settings.inbox / "Benchmarks.xls")
    shutil.copyfile(ods, settings.inbox / "Benchmarks.ods")
    encrypted_xlsx(settings.inbox / "locked.xls", tmp_path)
    (settings.inbox / "notes.xls").write_text("Year,Population\n2024,190000\n")  # text named .xls
    shutil.copyfile(xls, settings.inbox / "minutes.doc")  # an OLE file named as something else
    messages = {o.file: (o.status, o.message) for o in run_intake(settings).outcomes}
    assert messages == {
        "Benchmarks.xls": (
            "rejected",
            "the file is an old-format Excel workbook (.xls); please save it as .xlsx and send it again",
        ),
        "Benchmarks.ods": (
            "rejected",
            "the file is an OpenDocument file (from LibreOffice or similar), not an Excel workbook; "
            "please save it as .xlsx",
        ),
        "locked.xls": ("rejected", "the workbook is password-protected; please remove the password and send it again"),
        "notes.xls": ("rejected", "files of type '.xls' are not accepted: send .xlsx, .xlsm or .csv"),
        "minutes.doc": ("rejected", "files of type '.doc' are not accepted: send .xlsx, .xlsm or .csv"),
    }
