"""Month-first (US) dates seen file-wide (issue 9): the fingerprints a spreadsheet program set to
US dates leaves, the genuine day-first files that must not trigger them, and the whole file
refused with a reason that names columns and counts but never a cell's value."""

from __future__ import annotations

import csv
import json
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select

from pipelines.intake import run_intake
from pipelines.intake.month_first import month_first
from pipelines.warehouse.schema import load_files, table_for
from tests.test_intake import count, police_rows, write_xlsx

DATE = re.compile(r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}")


def us_opened(day_first_texts: list[str]) -> list[object]:
    """What a spreadsheet program set to US dates makes of day-first text: every date it can
    read month first becomes a date cell (day and month swapped), the rest stays text."""
    out = []
    for text in day_first_texts:
        day, month, rest = int(text[:2]), int(text[3:5]), text[6:]
        if day <= 12:
            year, clock = int(rest[:4]), rest[5:]
            hour, minute = (int(clock[:2]), int(clock[3:5])) if clock else (0, 0)
            out.append(datetime(year, day, month, hour, minute))  # month-first: "05/04" is 4 May
        else:
            out.append(text)
    return out


def april(n: int = 30, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.randint(1, 30):02d}/04/2024 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}" for _ in range(n)]


def assert_no_value(reason: str) -> None:
    """A reason names columns and counts; it never quotes a date, a time or any cell."""
    assert not DATE.search(reason), reason


# --- the mixed fingerprint ---


def test_a_us_opened_day_first_column_is_month_first():
    reason = month_first({"Date Missing": us_opened(april())})
    assert reason is not None and reason.startswith("dates look month-first (US style): in Date Missing, all ")
    assert "nothing was loaded; please send dates day first (31/01/2024) or as ISO dates (2024-01-31)" in reason
    assert_no_value(reason.replace("(31/01/2024)", "").replace("(2024-01-31)", ""))


def test_a_genuine_day_first_workbook_mixing_date_cells_and_text_dates_is_not():
    rng = random.Random(7)
    cells = []
    for text in april(200, seed=3):
        day = int(text[:2])
        cells.append(datetime(2024, 4, day, int(text[11:13])) if rng.random() < 0.75 else text)
    assert month_first({"Reported Date": cells}) is None
    # a small one too: three date cells, two text dates, days spread over the month
    small = [datetime(2024, 4, 3), datetime(2024, 4, 17), datetime(2024, 4, 9), "21/04/2024 10:00", "08/04/2024 11:00"]
    assert month_first({"Reported Date": small}) is None


def test_a_few_early_date_cells_and_late_text_dates_by_chance_are_not():
    """Three date cells on the 2nd to 9th and two text dates after the 12th, the dates together
    in one month: a day-first file shows that by chance about one time in fifty."""
    cells = [datetime(2024, 4, 2), datetime(2024, 4, 5), datetime(2024, 4, 9), "20/04/2024", "26/04/2024"]
    assert month_first({"Referral Date": cells}) is None


def test_a_file_of_one_period_with_its_start_swapped_is_month_first():
    """Attendance: every row has the same period; the start (03/06/2024) became a date cell,
    6 March, the end (28/06/2024) stayed text. Too few dates for chance: swapping the start back
    draws the period from 114 days to 25."""
    reason = month_first({"Period Start": [date(2024, 3, 6)] * 40, "Period End": ["28/06/2024"] * 40})
    assert reason is not None and "in Period Start and Period End, all 40 date cells" in reason
    assert month_first({"Period Start": [date(2024, 6, 3)] * 40, "Period End": ["28/06/2024"] * 40}) is None


def test_date_cells_after_the_12th_or_text_dates_before_it_rule_the_mixed_pattern_out():
    converted = us_opened(april())
    assert month_first({"Date Missing": converted + [datetime(2024, 4, 20)]}) is None
    assert month_first({"Date Missing": converted + ["05/04/2024 10:00"]}) is None


def test_each_column_is_looked_at_alone_as_well_as_together():
    """An ISO column becomes correct date cells (any day); the day-first column beside it still shows."""
    iso = [datetime(2024, 4, d, 9) for d in range(1, 31)]
    reason = month_first({"Date Missing": iso, "Return Interview Date": us_opened(april())})
    assert reason is not None and "in Return Interview Date, all" in reason


# --- the month-first text fingerprint ---


def us_export(days: int = 60, step: int = 2) -> list[str]:
    """Dates every ``step`` days from 1 January 2024, written month first as a US program does."""
    return [f"{d.month}/{d.day}/{d.year}" for d in (date(2024, 1, 1) + timedelta(days=i) for i in range(0, days, step))]


def test_text_that_can_only_be_month_first_is_month_first():
    cells = us_export()
    only_month = sum(int(c.split("/")[1]) > 12 for c in cells)
    reason = month_first({"Referral Date": cells})
    assert reason is not None and f"in Referral Date, {only_month} dates can only be read month first" in reason
    assert_no_value(reason.replace("(31/01/2024)", "").replace("(2024-01-31)", ""))


def test_text_with_a_day_first_only_date_written_the_same_way_is_not():
    """The 10% rule's US file: twenty rows 12/25/2023 among day-first rows up to the 28th, written
    the same way: rows are wrong, not the file's convention."""
    cells = ["12/25/2023 10:00"] * 20 + [f"{i % 28 + 1:02d}/04/2024 10:00" for i in range(21, 101)]
    assert month_first({"Date Reported": cells}) is None


def test_a_few_month_first_rows_among_too_few_dates_to_tell_are_not():
    """Ten rows 12/25/2023 among ninety on one date, 01/05/2024, that reads either way: one
    distinct date tells nothing about the file's convention; the rows are refused one by one."""
    assert month_first({"Date Reported": ["12/25/2023 10:00"] * 10 + ["01/05/2024 10:00"] * 90}) is None


def test_us_style_beside_left_over_day_first_text_is_month_first():
    """A program saving with its own US style (two-digit years, AM/PM) beside the day-first text
    it could not read: the AM/PM dates are month first, though none of them alone shows it."""
    converted = [f"{m:02d}/04/24 0{m % 10}:15 {'AM' if m % 2 else 'PM'}" for m in range(1, 13)]  # 1 to 12 April
    left = [f"{d}/04/2024 10:30" for d in range(13, 31)]
    reason = month_first({"MIS_START": converted + left})
    assert reason is not None and "in MIS_START, 12 dates have a 12-hour time with AM or PM" in reason
    # day-first dates written with AM/PM (some after the 12th) are a UK habit, not a US file
    uk = [f"{d:02d}/04/2024 10:30 PM" for d in range(1, 31)]
    assert month_first({"MIS_START": uk}) is None


def test_one_slip_written_its_own_way_is_not_enough():
    cells = [f"{d:02d}/04/2024" for d in range(1, 29)] + ["4/13/2024", "4/14/2024"]
    assert month_first({"Referral Date": cells}) is None


def test_only_cells_that_failed_to_read_can_be_month_first_text():
    cells = us_export()
    late = next(i for i, c in enumerate(cells) if int(c.split("/")[1]) > 12)
    assert month_first({"Referral Date": cells}, {"Referral Date": [late]}) is not None
    assert month_first({"Referral Date": cells}, {"Referral Date": []}) is None


def test_blanks_numbers_and_other_spellings_are_ignored():
    cells = [None, "", 45000.0, "2024-04-05", "5 Apr 2024", "not a date", "31/02/2024"]
    assert month_first({"Referral Date": cells}) is None
    assert month_first({}) is None


# --- intake: the whole file refused ---


def test_a_us_opened_workbook_is_refused_whole_without_quoting_a_value(settings):
    """Every date reads, so no row fails and the 10% rule is silent: the file-wide check refuses it."""
    rows = police_rows(60)
    texts = [f"{(i * 7) % 28 + 1:02d}/04/2024 {i % 24:02d}:{(i * 13) % 60:02d}" for i in range(60)]
    for row, cell in zip(rows, us_opened(texts)):
        row[1] = cell
        row[6] = None
    write_xlsx(settings.inbox / "police_us_opened.xlsx", rows)
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "rejected", outcome.message
    assert outcome.message.startswith("dates look month-first (US style): in Date Reported, all ")
    assert outcome.rows_loaded == 0 and outcome.rows_rejected == 60
    assert count(settings.warehouse_url, table_for("police_domestic_incidents")) == 0
    receipt = json.loads(Path(outcome.receipt).with_suffix(".json").read_text())
    assert receipt["summary"] == outcome.message and receipt["rows_rejected"] == 60
    engine = create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        [message] = conn.execute(select(load_files.c.message)).scalars()
    engine.dispose()
    assert message == outcome.message
    for text in texts:
        assert text not in outcome.message and text[:10] not in outcome.message
    assert len(list(settings.rejected.iterdir())) == 1


def test_month_first_text_under_the_threshold_is_refused_whole(settings):
    """One row in twenty can only be month first (5%, under the 10% rule); the other nineteen
    read day first, in the wrong month."""
    path = settings.inbox / "referrals_us.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Referral ID", "Child ID", "Referral Date", "Domestic Abuse"])
        for i in range(20):
            writer.writerow(
                [f"R{i:03d}", f"C{i:03d}", "4/25/2024" if i == 7 else f"{i % 12 + 1}/{i % 9 + 1}/2024", "N"]
            )
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "rejected", outcome.message
    assert "in Referral Date, 1 date can only be read month first" in outcome.message
    assert outcome.rows_rejected == 20
    assert count(settings.warehouse_url, table_for("csws_referrals")) == 0


def test_a_genuine_day_first_workbook_still_loads(settings):
    rows = police_rows(60)
    for i, row in enumerate(rows):
        if i % 3:
            row[1] = datetime.strptime(row[1], "%d/%m/%Y %H:%M")
    write_xlsx(settings.inbox / "police_uk_mixed.xlsx", rows)
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "accepted", outcome.message
    assert outcome.rows_loaded == 60
