"""The synthetic partner-data generator, checked from the files it writes.

Files are read back independently (openpyxl and the csv module, and this module's own reading of
the type rules in sources.md), never through the generator's own records, so a calibration or
validity slip in the generator shows up here.
"""

from __future__ import annotations

import bisect
import csv
import io
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipelines.generate import GeneratedFiles, generate, write_bad_files
from pipelines.periods import Month, Quarter
from pipelines.sources import load_sources, normalise_header

pytestmark = pytest.mark.slow

END = Quarter.parse("2024-25Q4")
QUARTERS = 5  # 2023-24 Q4 .. 2024-25 Q4: a full financial year plus one quarter of history
LAST_YEAR = (date(2024, 4, 1), date(2025, 3, 31))
HORIZON = datetime(2025, 3, 31, 23, 59)

# Columns the generator adds on purpose that match no canonical column (the pipeline ignores them).
IGNORED = {"Child Name", "Worker", "Team", "Location", "Location Found", "time_period", "la_name"}

FILE_SOURCE = [
    (r"WYP_DomesticIncidents_\d{4}-\d{2}\.xlsx", "police_domestic_incidents"),
    (r"CSWS_Referrals_\d{4}-\d{2}_Q[1-4]\.xlsx", "csws_referrals"),
    (r"Attendance_HT[1-6]_\d{4}-\d{2}\.csv", "school_attendance"),
    (r"MissingEpisodes_\d{4}-\d{2}\.csv", "missing_episodes"),
    (r"ONS_MidYear_Population_0-17\.csv", "population"),
    (r"Benchmarks\.csv", "benchmarks"),
]


# --- reading files back --------------------------------------------------------------------------


def read_rows(path: Path) -> list[list[object]]:
    if path.suffix == ".xlsx":
        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def identify(rows: list[list[object]]):
    """(source, header row index, {position: canonical}) per sources.md, or None."""
    sources = list(load_sources().values())
    for index, row in enumerate(rows[:20]):
        complete = []
        for source in sources:
            mapping = {}
            for position, cell in enumerate(row):
                name = source.match_header(cell) if not blank(cell) else None
                if name and name not in mapping.values():
                    mapping[position] = name
            if all(c.name in mapping.values() for c in source.required):
                complete.append((source, index, mapping))
        if len(complete) == 1:
            return complete[0]
    return None


class Table:
    """One file read back: its source, header and data rows as {canonical column: raw cell}."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = read_rows(path)
        found = identify(self.rows)
        assert found is not None, f"{path.name}: no header identified"
        self.source, self.header_index, self.mapping = found
        self.header = self.rows[self.header_index]
        self.records: list[dict] = []
        self.totals: list[list[object]] = []
        key_positions = [p for p, n in self.mapping.items() if n in self.source.key]
        for row in self.rows[self.header_index + 1 :]:
            if all(blank(c) for c in row):
                continue
            if all(blank(row[p]) for p in key_positions):
                first = next(c for c in row if not blank(c))
                assert str(first).lower().startswith("total"), f"{path.name}: row without a key {row}"
                self.totals.append(row)
                continue
            self.records.append({name: row[p] if p < len(row) else None for p, name in self.mapping.items()})


# --- the type rules of sources.md, read independently ----------------------------------------------


class Invalid(ValueError):
    pass


MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})" + TIME)
UK = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})" + TIME)
NAMED = re.compile(r"(\d{1,2})[ -]([A-Za-z]{3,9})[ -](\d{4}|\d{2})" + TIME)


def to_datetime(raw: object) -> datetime | None:
    if blank(raw):
        return None
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day)
    text = str(raw).strip()
    try:
        if m := ISO.fullmatch(text):
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
        elif m := UK.fullmatch(text):
            y, mo, d = int(m[3]), int(m[2]), int(m[1])
        elif m := NAMED.fullmatch(text):
            y, mo, d = int(m[3]), MONTHS[m[2][:3].lower()], int(m[1])
        else:
            raise Invalid(f"not a date: {text!r}")
        y = 2000 + y if y < 100 else y
        return datetime(y, mo, d, int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))
    except (KeyError, ValueError) as exc:
        raise Invalid(f"not a real date: {text!r}") from exc


def to_bool(raw: object) -> bool | None:
    if blank(raw):
        return None
    text = str(raw).strip().lower()
    if text in {"y", "yes", "true", "t", "1"}:
        return True
    if text in {"n", "no", "false", "f", "0"}:
        return False
    raise Invalid(f"not yes/no: {raw!r}")


def to_int(raw: object) -> int | None:
    if blank(raw):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    if not re.fullmatch(r"-?\d+", text):
        raise Invalid(f"not a whole number: {raw!r}")
    return int(text)


def typed(source, record: dict) -> dict:
    """The record's typed values; raises Invalid with the first problem (sources.md rules)."""
    out = {}
    for column in source.columns:
        raw = record.get(column.name)
        if column.type in ("date", "datetime"):
            value = to_datetime(raw)
            if value is not None and not (datetime(2000, 1, 1) <= value <= datetime.now()):
                raise Invalid(f"{column.name} out of range: {value}")
        elif column.type == "bool":
            value = to_bool(raw)
        elif column.type == "int":
            value = to_int(raw)
        elif column.type == "number":
            value = None if blank(raw) else float(str(raw).replace(",", ""))
        elif column.type == "enum":
            value = None
            if not blank(raw):
                spellings = {normalise_header(s): k for k, syn in column.values.items() for s in (k, *syn)}
                if normalise_header(raw) not in spellings:
                    raise Invalid(f"{column.name}: unknown value {raw!r}")
                value = spellings[normalise_header(raw)]
        else:
            value = None if blank(raw) else str(raw).strip()
        if value is None and column.required and column.type != "bool":
            raise Invalid(f"{column.name} is required")
        if value is not None and column.minimum is not None and value < column.minimum:
            raise Invalid(f"{column.name} below minimum")
        out[column.name] = value
    _row_rules(source.name, out)
    return out


def _row_rules(name: str, r: dict) -> None:
    if name == "police_domestic_incidents":
        if r["school_notified_at"] and r["school_notified_at"] < r["reported_at"]:
            raise Invalid("school notified before the incident was reported")
        if r["children_present"] is False and (r["children_count"] or 0) > 0:
            raise Invalid("children counted although no child present")
    elif name == "school_attendance":
        if r["period_end"] < r["period_start"]:
            raise Invalid("period ends before it starts")
        if r["sessions_absent"] > r["sessions_possible"] or (r["sessions_unauthorised"] or 0) > r["sessions_possible"]:
            raise Invalid("more absence than possible sessions")
        if r["persistent_absentees"] > r["enrolments"]:
            raise Invalid("more persistent absentees than pupils")
        if r["severe_absentees"] is not None and r["severe_absentees"] > r["persistent_absentees"]:
            raise Invalid("more severe than persistent absentees")
    elif name == "missing_episodes":
        if r["returned_at"] and r["returned_at"] < r["missing_from"]:
            raise Invalid("returned before going missing")
        if r["return_interview_completed_at"] and (
            r["returned_at"] is None or r["return_interview_completed_at"] < r["returned_at"]
        ):
            raise Invalid("return interview without or before the return")


def problems(table: Table) -> list[str]:
    out, seen = [], set()
    for record in table.records:
        key = tuple(str(record.get(k)) for k in table.source.key)
        if key in seen:
            out.append(f"duplicate key {key}")
        seen.add(key)
        try:
            typed(table.source, record)
        except Invalid as exc:
            out.append(str(exc))
    return out


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> GeneratedFiles:
    return generate(tmp_path_factory.mktemp("inbox"), quarters=QUARTERS, seed=42, end_quarter=END)


@pytest.fixture(scope="module")
def tables(generated) -> dict[str, list[Table]]:
    out: dict[str, list[Table]] = defaultdict(list)
    for path in generated.files:
        table = Table(path)
        out[table.source.name].append(table)
    return out


@pytest.fixture(scope="module")
def data(tables) -> dict[str, list[dict]]:
    """Typed rows per source, each with the file it came from."""
    out = {}
    for name, files in tables.items():
        out[name] = [{**typed(t.source, r), "_file": t.path.name} for t in files for r in t.records]
    return out


def pct(numerator: int, denominator: int) -> float:
    return 100.0 * numerator / denominator


def in_year(d: datetime | date) -> bool:
    d = d.date() if isinstance(d, datetime) else d
    return LAST_YEAR[0] <= d <= LAST_YEAR[1]


# --- the file set ---------------------------------------------------------------------------------


def test_file_set_names_span_and_counts(generated, tables):
    out_dir = generated.files[0].parent
    assert generated.start_quarter == Quarter.parse("2023-24Q4")
    assert generated.end_quarter == END
    assert len(set(generated.files)) == len(generated.files)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in generated.files)
    for path in generated.files:
        assert path.parent == out_dir and path.stat().st_size > 0
        matches = [s for pattern, s in FILE_SOURCE if re.fullmatch(pattern, path.name)]
        assert matches, path.name
    names = [p.name for p in generated.files]
    assert sum(n.startswith("WYP_DomesticIncidents_") for n in names) == 15
    assert "WYP_DomesticIncidents_2024-05.xlsx" in names
    assert sum(n.startswith("MissingEpisodes_") for n in names) == 15
    assert [n for n in names if n.startswith("CSWS_")] == [
        "CSWS_Referrals_2023-24_Q4.xlsx",
        "CSWS_Referrals_2024-25_Q1.xlsx",
        "CSWS_Referrals_2024-25_Q2.xlsx",
        "CSWS_Referrals_2024-25_Q3.xlsx",
        "CSWS_Referrals_2024-25_Q4.xlsx",
    ]
    assert {"Attendance_HT1_2024-25.csv", "Attendance_HT6_2023-24.csv", "Attendance_HT3_2023-24.csv"} <= set(names)
    # the summary counts are the data rows actually in the files
    for name, files in tables.items():
        assert generated.children[name] == sum(len(t.records) for t in files), name


def test_every_file_has_one_recognised_header_within_20_rows(generated, tables):
    sources = load_sources()
    for path in generated.files:
        expected = next(s for pattern, s in FILE_SOURCE if re.fullmatch(pattern, path.name))
        table = next(t for t in tables[expected] if t.path == path)
        rows = table.rows
        found = identify(rows)
        assert found is not None and found[0].name == expected, path.name
        source, index, mapping = found
        assert index < 20
        header = [c for c in rows[index] if not blank(c)]
        # every header cell is a listed name/alias of this source or a deliberate extra column
        for cell in header:
            assert sources[expected].match_header(cell) or cell in IGNORED, (path.name, cell)
        assert len(mapping) == len(header) - sum(c in IGNORED for c in header)
        # no row above the header already satisfies a source
        assert all(identify([row]) is None for row in rows[:index])
    assert {t.header_index for t in tables["police_domestic_incidents"]} >= {4, 5}  # title rows above


def test_every_row_is_valid_and_keys_unique_across_the_set(tables):
    for name, files in tables.items():
        for table in files:
            assert problems(table) == [], table.path.name
        keys = [tuple(str(r[k]) for k in files[0].source.key) for t in files for r in t.records]
        assert len(keys) == len(set(keys)), name


def test_events_lie_in_their_files_period_and_nothing_is_in_the_future(data):
    first = Quarter.parse("2023-24Q4").start
    for r in data["police_domestic_incidents"]:
        assert r["_file"] == f"WYP_DomesticIncidents_{r['reported_at']:%Y-%m}.xlsx"
        assert r["school_notified_at"] is None or r["school_notified_at"] <= HORIZON
    for r in data["missing_episodes"]:
        assert r["_file"] == f"MissingEpisodes_{r['missing_from']:%Y-%m}.csv"
        for column in ("returned_at", "return_interview_completed_at"):
            assert r[column] is None or r[column] <= HORIZON
        if r["returned_at"]:
            assert r["returned_at"].date() <= Month.of(r["missing_from"].date()).end + timedelta(days=6)
    for r in data["csws_referrals"]:
        q = Quarter.containing(r["referral_date"].date())
        assert r["_file"] == f"CSWS_Referrals_{q.financial_year}_Q{q.q}.xlsx"
        assert first <= r["referral_date"].date() <= END.end
    for r in data["school_attendance"]:
        assert first <= r["period_end"].date() <= END.end
        assert r["period_start"].month == r["period_end"].month


# --- calibration ----------------------------------------------------------------------------------


def test_police_incidents_calibrated_to_leeds(data, tables):
    rows = data["police_domestic_incidents"]
    year = [r for r in rows if in_year(r["reported_at"])]
    assert 56 <= len(year) / 365 <= 64  # about 60 a day
    known = [r for r in year if r["children_present"] is not None]
    assert 0 < len(year) - len(known) < 0.03 * len(year)  # a few unknowns
    assert 23 <= pct(sum(r["children_present"] for r in known), len(known)) <= 26
    present = [r for r in year if r["children_present"]]
    assert all(1 <= r["children_count"] <= 4 for r in present)
    assert all(r["children_count"] in (0, None) for r in year if r["children_present"] is not True)
    repeat = [r["repeat_victim"] for r in year if r["repeat_victim"] is not None]
    assert 33 <= pct(sum(repeat), len(repeat)) <= 39 and len(repeat) < len(year)
    risk = Counter(r["risk_level"] for r in year)
    assert 57 <= pct(risk["standard"], len(year)) <= 62 and 8 <= pct(risk["high"], len(year)) <= 11.5
    assert risk[None] > 0
    # Operation Encompass (DA04): mostly within 24 hours, some months below 90%
    by_month = defaultdict(list)
    for r in present:
        notified = r["school_notified_at"]
        by_month[r["reported_at"].strftime("%Y-%m")].append(
            notified is not None and notified - r["reported_at"] <= timedelta(hours=24)
        )
    monthly = {m: pct(sum(v), len(v)) for m, v in by_month.items()}
    overall = pct(sum(sum(v) for v in by_month.values()), len(present))
    assert 90 <= overall <= 96
    assert min(monthly.values()) < 90 < max(monthly.values())
    assert any(
        r["school_notified_at"] - r["reported_at"] > timedelta(hours=24) for r in present if r["school_notified_at"]
    )
    # seasonality: Christmas week busier than an ordinary early-December week
    per_day = Counter(r["reported_at"].date() for r in rows)
    xmas = sum(per_day[date(2024, 12, 24) + timedelta(days=i)] for i in range(7))
    early = sum(per_day[date(2024, 12, 3) + timedelta(days=i)] for i in range(7))
    assert xmas > 1.1 * early
    assert len({r["district"] for r in rows}) >= 33


def test_police_files_look_like_a_force_export(tables):
    cells = Counter()
    for table in tables["police_domestic_incidents"]:
        assert str(table.rows[0][0]).startswith("West Yorkshire Police")
        assert any(str(r[0] or "").startswith("Run date: ") for r in table.rows[: table.header_index])
        assert all(blank(c) for c in table.rows[table.header_index - 1])
        assert len(table.totals) == 1 and table.totals[0] is table.rows[-1]
        assert str(table.rows[-1][0]).startswith("Total") and str(len(table.records)) in str(table.rows[-1][0])
        for r in table.records:
            cells[type(r["reported_at"]).__name__] += 1
            cells[repr(r["children_present"])] += 1
            assert re.fullmatch(r"13\d{6}-\d{4}", r["incident_ref"])
    assert cells["datetime"] > 0 and cells["str"] > 0  # real date cells and UK text dates
    assert {"'Y'", "'Yes'", "1"} <= set(cells)  # mixed yes/no spellings
    texts = [
        r["reported_at"]
        for t in tables["police_domestic_incidents"]
        for r in t.records
        if isinstance(r["reported_at"], str)
    ]
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", t) for t in texts)


def re_referral_flags(rows: list[dict]) -> list[bool]:
    """For each referral: does the child have an earlier referral dated 1..365 days before?"""
    dates = defaultdict(list)
    for r in rows:
        dates[r["child_id"]].append(r["referral_date"].date())
    for v in dates.values():
        v.sort()
    flags = []
    for r in rows:
        d, history = r["referral_date"].date(), dates[r["child_id"]]
        i = bisect.bisect_left(history, d)  # history[:i] are strictly earlier
        flags.append(i > 0 and d - history[i - 1] <= timedelta(days=365))
    return flags


def test_referrals_calibrated_and_re_referrals_emerge(data, tables):
    rows = data["csws_referrals"]
    year = [r for r in rows if in_year(r["referral_date"])]
    assert 9_000 <= len(year) <= 11_000
    da = [r["domestic_abuse"] for r in year if r["domestic_abuse"] is not None]
    assert 18 <= pct(sum(da), len(da)) <= 22
    flags = re_referral_flags(rows)
    assert 22 <= pct(sum(flags), len(flags)) <= 25
    year_flags = [f for f, r in zip(flags, rows) if in_year(r["referral_date"])]
    assert 22 <= pct(sum(year_flags), len(year_flags)) <= 25.5
    # same-day repeats never count; children with several referrals exist
    per_child = Counter(r["child_id"] for r in rows)
    assert max(per_child.values()) >= 3
    assert all(re.fullmatch(r"MOS\d{6}", c) for c in per_child)
    # outcomes: NFA around 20%, some quarters above the target
    by_quarter = defaultdict(list)
    for r in rows:
        if r["outcome"] is not None:
            by_quarter[Quarter.containing(r["referral_date"].date())].append(r["outcome"] == "nfa")
    nfa = {q: pct(sum(v), len(v)) for q, v in by_quarter.items()}
    assert all(13 <= v <= 28 for v in nfa.values()) and max(nfa.values()) > 20
    assert 15 <= pct(sum(sum(v) for v in by_quarter.values()), sum(len(v) for v in by_quarter.values())) <= 25
    assert {r["referral_source"] for r in rows} == {
        "police",
        "school",
        "health",
        "local_authority",
        "individual",
        "other",
        None,
    }
    # an extra column with names is sent, and is not a canonical column
    headers = {str(c) for t in tables["csws_referrals"] for c in t.header if c}
    assert "Child Name" in headers and {"Date of Referral", "DA Factor", "Mosaic ID"} <= headers


def test_re_referral_check_counts_only_1_to_365_days():
    d = datetime(2024, 6, 1)
    rows = [
        {"child_id": "A", "referral_date": d},
        {"child_id": "A", "referral_date": d},
        {"child_id": "A", "referral_date": d + timedelta(days=365)},
        {"child_id": "B", "referral_date": d},
        {"child_id": "B", "referral_date": d + timedelta(days=366)},
    ]
    assert re_referral_flags(rows) == [False, False, True, False, False]


def test_attendance_calibrated_and_stable(data, tables):
    rows = data["school_attendance"]
    urns = {r["school_urn"] for r in rows}
    assert 270 <= len(urns) <= 290 and all(107_000 <= u <= 109_999 for u in urns)
    schools = defaultdict(set)
    for r in rows:
        schools[r["school_urn"]].add(r["phase"])
    assert all(len(p) == 1 for p in schools.values())  # a school keeps its URN and phase
    counts = Counter(next(iter(p)) for p in schools.values())
    assert (
        220 <= counts["primary"] <= 240 and 35 <= counts["secondary"] <= 45 and counts["special"] + counts["other"] >= 8
    )
    months = {(r["period_end"].year, r["period_end"].month) for r in rows}
    assert len(months) == 14  # every month of the span (Jan 2024 - Mar 2025) except August
    assert all(m != 8 for _, m in months)
    for table in tables["school_attendance"]:
        # one row per school per calendar month inside the half-term
        per_month = Counter((to_int(r["school_urn"]), to_datetime(r["period_end"]).month) for r in table.records)
        assert set(per_month.values()) == {1}, table.path.name
        assert {u for u, _ in per_month} == urns, table.path.name

    def rate(phase, num, den, only=None):
        sel = [r for r in rows if r["phase"] == phase and (only is None or only(r))]
        return pct(sum(r[num] for r in sel), sum(r[den] for r in sel))

    year = lambda r: in_year(r["period_end"])  # noqa: E731
    assert 5.4 <= rate("primary", "sessions_absent", "sessions_possible", year) <= 6.6
    assert 9.2 <= rate("secondary", "sessions_absent", "sessions_possible", year) <= 10.8
    assert 15 <= rate("primary", "persistent_absentees", "enrolments", year) <= 19
    assert 24.5 <= rate("secondary", "persistent_absentees", "enrolments", year) <= 29.5
    assert 3.8 <= rate("secondary", "severe_absentees", "enrolments", year) <= 5.5
    suspended = sum(r["suspensions"] for r in rows)
    assert 0.4 <= pct(suspended, sum(r["enrolments"] for r in rows)) <= 1.2  # per 100 pupils a month
    # winter absence is higher than September's
    dec = rate("primary", "sessions_absent", "sessions_possible", lambda r: r["period_end"].month == 12)
    sep = rate("primary", "sessions_absent", "sessions_possible", lambda r: r["period_end"].month == 9)
    assert dec > 1.2 * sep
    # both header styles, and thousands separators in some csv cells
    styles = {("sess_possible" in t.header, "Possible Sessions" in t.header) for t in tables["school_attendance"]}
    assert styles == {(True, False), (False, True)}
    raw = [r["sessions_possible"] for t in tables["school_attendance"] for r in t.records]
    assert any(isinstance(v, str) and "," in v for v in raw)
    phase_text = {r["phase"] for t in tables["school_attendance"] for r in t.records}
    assert {"State-funded primary", "State-funded secondary", "Primary", "Secondary"} <= phase_text


def test_missing_episodes_calibrated_and_heavy_tailed(data, tables):
    rows = data["missing_episodes"]
    year = [r for r in rows if in_year(r["missing_from"])]
    assert 2_200 <= len(year) <= 2_800
    children = Counter(r["child_id"] for r in year)
    assert 850 <= len(children) <= 1_150
    assert max(children.values()) >= 10  # a few children go missing many times
    assert all(re.fullmatch(r"WYP\d{7}", c) for c in children)
    known = [r["looked_after"] for r in year if r["looked_after"] is not None]
    assert 23 <= pct(sum(known), len(known)) <= 33  # ~28%
    cse = [r["cse_risk"] for r in year if r["cse_risk"] is not None]
    assert 15 <= pct(sum(cse), len(cse)) <= 25  # ~20%
    sex = [r["sex"] for r in year if r["sex"] is not None]
    assert 49 <= pct(sex.count("female"), len(sex)) <= 59  # ~54%
    # MI04: children missing 3+ times in a quarter, in every quarter
    for q in Quarter.parse("2023-24Q4"), *[Quarter(2024, i) for i in range(1, 5)]:
        per_child = Counter(r["child_id"] for r in rows if Quarter.containing(r["missing_from"].date()) == q)
        assert sum(n >= 3 for n in per_child.values()) >= 5, q
    # the same child keeps the same id across files
    files_per_child = defaultdict(set)
    for r in rows:
        files_per_child[r["child_id"]].add(r["_file"])
    assert max(len(v) for v in files_per_child.values()) >= 4
    # returns: hours to days later, a few still open; interviews only after a return
    returned = [r for r in rows if r["returned_at"]]
    assert 0 < len(rows) - len(returned) < 0.02 * len(rows)
    assert all(r["return_interview_completed_at"] is None for r in rows if r["returned_at"] is None)
    durations = sorted((r["returned_at"] - r["missing_from"]).total_seconds() / 3600 for r in returned)
    assert 3 <= durations[len(durations) // 2] <= 24 and durations[-1] <= 24 * 6
    in_time = [
        r["return_interview_completed_at"] is not None
        and r["return_interview_completed_at"] - r["returned_at"] <= timedelta(hours=72)
        for r in returned
        if in_year(r["returned_at"])
    ]
    assert 70 <= pct(sum(in_time), len(in_time)) <= 85
    completed = [r for r in returned if r["return_interview_completed_at"]]
    assert len(completed) > 0.8 * len(returned)
    # encodings and separators partners really send
    raw = [t.path.read_bytes() for t in tables["missing_episodes"]]
    cp1252 = [b for b in raw if not _utf8(b)]
    assert cp1252 and any("£".encode("cp1252") in b or "é".encode("cp1252") in b for b in cp1252)
    assert any(b.split(b"\r\n")[0].count(b";") >= 8 for b in raw)
    assert any(b.startswith(b"\xef\xbb\xbf") for b in raw)
    headers = {str(c) for t in tables["missing_episodes"] for c in t.header}
    assert {
        "MFH Ref",
        "CHILD",
        "MIS_START",
        "MIS_END",
        "CLA",
        "CSE Risk",
        "Gender",
        "RHI Offered",
        "RHI Completed",
    } <= headers


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_reference_files(data):
    population = {r["year"]: r["population_0_17"] for r in data["population"]}
    assert set(population) == {2023, 2024, 2025}
    assert all(186_000 <= v <= 193_000 for v in population.values())
    assert population[2023] < population[2024] < population[2025]
    bench = data["benchmarks"]
    assert {r["indicator_id"] for r in bench} == {"CS03", "CS05", "AT01", "AT02", "AT03", "AT04", "DA04", "MI05"}
    assert {r["comparator"] for r in bench} == {"england", "statistical_neighbours", "core_cities"}
    assert {r["period"] for r in bench} == {"2023-24", "2024-25"}
    assert len(bench) == 8 * 3 * 2
    assert all(0 < r["value"] < 100 for r in bench)


# --- determinism and scale ------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    q = Quarter.parse("2024-25Q2")
    a = generate(tmp_path / "a", quarters=2, seed=7, end_quarter=q, scale=0.3)
    b = generate(tmp_path / "b", quarters=2, seed=7, end_quarter=q, scale=0.3)
    c = generate(tmp_path / "c", quarters=2, seed=8, end_quarter=q, scale=0.3)
    assert [p.name for p in a.files] == [p.name for p in b.files] == [p.name for p in c.files]
    for x, y in zip(a.files, b.files):
        assert x.read_bytes() == y.read_bytes(), x.name  # xlsx too: timestamps are fixed
    assert a.children == b.children
    differ = [x.name for x, z in zip(a.files, c.files) if x.read_bytes() != z.read_bytes()]
    assert len(differ) >= len(a.files) - 1  # every data file differs with another seed
    # scale multiplies volumes: 0.3 of ~60 a day over two quarters
    assert 0.25 * 60 * 183 <= a.children["police_domestic_incidents"] <= 0.35 * 60 * 183
    assert 0.2 * 10_000 / 2 <= a.children["csws_referrals"] <= 0.4 * 10_000 / 2
    xlsx = next(p for p in a.files if p.suffix == ".xlsx")
    wb = load_workbook(xlsx, read_only=True)
    assert wb.properties.modified.year == 2024  # not today: the extract's own run date
    wb.close()


def test_identical_across_processes_whatever_the_hash_seed(tmp_path):
    """Set or dict ordering of strings must never leak into the data (PYTHONHASHSEED varies)."""
    script = (
        "import sys; from pathlib import Path; from pipelines.generate import generate; "
        "from pipelines.periods import Quarter; "
        "generate(Path(sys.argv[1]), quarters=1, seed=3, end_quarter=Quarter.parse('2024-25Q3'), scale=0.2)"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)],
            check=True,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
    one, two = sorted((tmp_path / "1").iterdir()), sorted((tmp_path / "2").iterdir())
    assert [p.name for p in one] == [p.name for p in two] and len(one) > 5
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two))


def test_default_end_quarter_is_latest_complete(tmp_path):
    result = generate(tmp_path, quarters=1, scale=0.05)
    assert result.end_quarter == result.start_quarter == Quarter.latest_complete(date.today())
    with pytest.raises(ValueError):
        generate(tmp_path / "x", quarters=0)


# --- bad files ------------------------------------------------------------------------------------


def test_bad_files_give_receipts_something_to_say(tmp_path, data):
    rota, partial, rejected = write_bad_files(tmp_path, seed=42, end_quarter=END)
    assert [p.parent for p in (rota, partial, rejected)] == [tmp_path] * 3

    # 1: an unrelated spreadsheet matches no source
    assert rota.suffix == ".xlsx" and identify(read_rows(rota)) is None
    assert len(read_rows(rota)) > 5

    # 2: a missing-episodes return of the last month with a handful of bad rows
    table = Table(partial)
    assert table.source.name == "missing_episodes"
    bad = problems(table)
    assert 200 <= len(table.records) <= 500 and 3 <= len(bad) <= 6
    assert len(bad) / len(table.records) < 0.1
    reasons = " | ".join(bad)
    assert "not a real date" in reasons and "child_id is required" in reasons
    assert "returned before going missing" in reasons and "unknown value" in reasons
    ids = {r["episode_id"] for r in table.records}
    assert len(ids) == len(table.records) and not ids & {r["episode_id"] for r in data["missing_episodes"]}
    good = [typed(table.source, r) for r in table.records if not _fails(table.source, r)]
    assert all(Month.of(r["missing_from"].date()) == END.months[-1] for r in good)

    # 3: US month-first dates in most rows: over the 10% rejection threshold
    table = Table(rejected)
    assert table.source.name == "csws_referrals"
    bad = problems(table)
    assert len(bad) / len(table.records) > 0.5
    assert not {r["referral_id"] for r in table.records} & {r["referral_id"] for r in data["csws_referrals"]}

    # deterministic too
    again = write_bad_files(tmp_path / "again", seed=42, end_quarter=END)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in (rota, partial, rejected)]


def _fails(source, record) -> bool:
    try:
        typed(source, record)
        return False
    except Invalid:
        return True
