"""Late data is noticed (issue 14): a load that changes a published quarter's figures republishes
that quarter's files without emailing the sub group, tells the analyst once (old and new), records
the revision in the warehouse, and the next scorecard's notes say so. On SQLite and PostgreSQL,
through the real intake, a real SMTP server and the real workbook."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, select

from pipelines.build import build_quarter
from pipelines.config import load_settings
from pipelines.intake import run_intake
from pipelines.periods import Quarter
from pipelines.revisions import check_revisions
from pipelines.warehouse.schema import indicator_revisions
from tests.test_intake import police_rows, write_xlsx

Q1 = Quarter.parse("2024-25Q1")
Q2 = Quarter.parse("2024-25Q2")
Q3 = Quarter.parse("2024-25Q3")
ANALYST = "analyst@lscp.example"
PMSG = "pmsg@lscp.example"


@pytest.fixture
def mailed(settings, smtp_server, monkeypatch):
    """The settings with mail to a real SMTP server: (settings, catcher)."""
    catcher, port = smtp_server()
    monkeypatch.setenv("SCORECARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCORECARD_SMTP_PORT", str(port))
    monkeypatch.setenv("SCORECARD_ANALYST_EMAIL", ANALYST)
    monkeypatch.setenv("SCORECARD_PMSG_TO", PMSG)
    return load_settings(), catcher


def load(settings, name: str, rows: list[list]) -> None:
    write_xlsx(settings.inbox / name, rows)
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "accepted" and outcome.rows_rejected == 0, outcome.message


def in_month(rows: list[list], month: int, year: int = 2024) -> list[list]:
    """The same incidents moved from April into another month (date reported, schools notified)."""
    for row in rows:
        for col in (1, 6):
            if row[col]:
                row[col] = row[col].replace("/04/2024", f"/{month:02d}/{year}")
    return rows


def to(catcher, address: str) -> list:
    """Scorecard mail to ``address`` (receipts go to the analyst too, with no data officer set)."""
    return [m for m in catcher.messages() if m["To"] == address and m["Subject"].startswith("LSCP ")]


def recorded(settings) -> list[tuple]:
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(indicator_revisions).order_by(indicator_revisions.c.revision_id)).all()
    finally:
        engine.dispose()
    return [
        (r.quarter, r.indicator_id, r.old_value, r.new_value, r.notified_at is not None, r.footnoted_in) for r in rows
    ]


def workbook_text(path: Path) -> list[str]:
    sheet = openpyxl.load_workbook(path)["Summary"]
    return [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]


def test_a_corrected_resubmission_of_a_published_quarter_is_noticed_once_and_footnoted(mailed):
    settings, catcher = mailed
    # Published: 2024-25 Q1 with 5,460 police incidents, built and emailed to the sub group.
    load(settings, "police_q1.xlsx", police_rows(5460))
    build_quarter(settings, Q1)
    assert len(to(catcher, PMSG)) == 1
    assert json.loads((settings.out / Q1.code / "scorecard.json").read_text())["indicators"][0]["value"] == 5460
    assert check_revisions(settings).revised == []  # nothing has changed yet

    # The force sends a corrected extract for the quarter: 52 incidents it had missed.
    load(settings, "police_q1_corrected.xlsx", police_rows(5512))
    run = check_revisions(settings)

    sentences = [line.strip() for line in run.lines()]
    assert "DA01 for 2024-25 Q1 was revised from 5,460 to 5,512" in sentences
    assert {r.indicator_id for r in run.revised} == {"DA01", "DA02"}  # DA02 is DA01 per day
    assert "DA02 for 2024-25 Q1 was revised from 60.0 per day to 60.6 per day" in sentences
    assert run.rebuilt == run.rendered == [Q1.code]

    # One notice to the analyst, old and new as the scorecard shows them; no child-level data.
    [notice] = to(catcher, ANALYST)
    assert notice["Subject"] == "LSCP scorecard: 2 published figures revised (2024-25 Q1)"
    body = notice.get_content()
    assert "DA01 for 2024-25 Q1 was revised from 5,460 to 5,512 (Domestic incidents reported to police)" in body
    assert "DA02 for 2024-25 Q1 was revised from 60.0 per day to 60.6 per day" in body
    assert "The sub group has not been emailed" in body and str(settings.out / Q1.code) in body
    assert "INC0" not in body and "Armley" not in body and "PC Example" not in body
    assert not notice.is_multipart()  # nothing attached

    # The quarter's files were written again with the new figure; the sub group heard nothing.
    republished = json.loads((settings.out / Q1.code / "scorecard.json").read_text())
    assert republished["indicators"][0]["id"] == "DA01" and republished["indicators"][0]["value"] == 5512
    assert "5,512" in (settings.out / Q1.code / "scorecard.html").read_text()
    assert len(to(catcher, PMSG)) == 1

    # Recorded in the warehouse, the analyst told.
    assert [r[:5] for r in recorded(settings)] == [
        (Q1.code, "DA01", 5460, 5512, True),
        (Q1.code, "DA02", pytest.approx(5460 / 91), pytest.approx(5512 / 91), True),
    ]

    # A second check (a retry, the next load) finds nothing new and sends nothing.
    again = check_revisions(settings)
    assert (again.revised, again.rebuilt, again.notified, again.notice) == ([], [], [], None)
    assert len(to(catcher, ANALYST)) == 1 and len(to(catcher, PMSG)) == 1 and len(recorded(settings)) == 2

    # The next scorecard (2024-25 Q2) says so in its notes: HTML, workbook and the sub group's email.
    load(
        settings,
        "police_q2_q3.xlsx",
        in_month(police_rows(300, start=9000), 7) + in_month(police_rows(200, start=9500), 10),
    )
    assert check_revisions(settings).revised == []  # later quarters' rows revise nothing published
    built = build_quarter(settings, Q2)
    footnote = "DA01 for 2024-25 Q1 was revised from 5,460 to 5,512."
    assert footnote in built.html.read_text()
    assert footnote in workbook_text(built.xlsx)
    [q2_mail] = [m for m in to(catcher, PMSG) if "2024-25 Q2" in m["Subject"]]
    assert footnote in q2_mail.get_body(("plain",)).get_content()
    assert {r[5] for r in recorded(settings)} == {Q2.code}
    # A rebuild of Q2 keeps its notes; the scorecard after it does not repeat them.
    assert footnote in build_quarter(settings, Q2, email=False).html.read_text()
    q3 = build_quarter(settings, Q3, email=False)
    assert "was revised from" not in q3.html.read_text()
    assert not any("was revised from" in text for text in workbook_text(q3.xlsx))
    # scorecard.json is the contract (outputs.md) and carries no notes.
    assert "revisions" not in json.loads(built.json.read_text())


def test_a_load_that_changes_no_published_figure_records_nothing(mailed):
    settings, catcher = mailed
    load(settings, "police_q1.xlsx", police_rows(400))
    build_quarter(settings, Q1)
    # The same incidents again, with a column no indicator reads corrected (the ward).
    corrected = police_rows(400)
    for row in corrected:
        row[7] = "Headingley"
    load(settings, "police_q1_wards.xlsx", corrected)
    generated = json.loads((settings.out / Q1.code / "scorecard.json").read_text())["generated_at"]
    run = check_revisions(settings)
    assert (run.checked, run.revised, run.rebuilt, run.rendered, run.notice) == ([Q1.code], [], [], [], None)
    assert recorded(settings) == []
    assert to(catcher, ANALYST) == [] and len(to(catcher, PMSG)) == 1
    # The published files were not touched.
    assert json.loads((settings.out / Q1.code / "scorecard.json").read_text())["generated_at"] == generated


def test_late_data_for_a_quarter_published_with_a_missing_return(mailed):
    """A return that had not arrived when the quarter was published arrives late: the figures go
    from "missing return" to a value, and a suppressed figure stays c in the notice."""
    settings, catcher = mailed
    load(settings, "police_q1.xlsx", police_rows(100))
    build_quarter(settings, Q1, email=False)
    published = json.loads((settings.out / Q1.code / "scorecard.json").read_text())
    cs01 = next(i for i in published["indicators"] if i["id"] == "CS01")
    assert cs01["data_status"] == "missing"
    (settings.inbox / "referrals.csv").write_text(
        "Referral ID,Child ID,Referral Date,Domestic Abuse Factor,Outcome\n"
        + "".join(
            f"R{i:04d},C{i:04d},{i % 28 + 1:02d}/05/2024,Y,{'nfa' if i <= 3 else 'assessment'}\n" for i in range(1, 31)
        ),
        encoding="utf-8",
    )
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "accepted", outcome.message
    run = check_revisions(settings)
    lines = [line.strip() for line in run.lines()]
    assert "CS01 for 2024-25 Q1 was revised from missing return to 30" in lines
    [notice] = to(catcher, ANALYST)
    assert "CS01 for 2024-25 Q1 was revised from missing return to 30" in notice.get_content()
    # 3 of 30 referrals ended in no further action: a disclosive figure, suppressed everywhere.
    assert "CS05 for 2024-25 Q1 was revised from missing return to c" in lines
    assert "CS05 for 2024-25 Q1 was revised from missing return to c" in notice.get_content()
    assert "10.0%" not in notice.get_content()


def test_the_next_scorecard_claims_earlier_revisions_and_reads_two_of_one_figure_as_one(warehouse):
    from datetime import datetime

    from sqlalchemy import insert

    from pipelines.revisions import footnotes_for

    def row(quarter, indicator, old, new):
        return {
            "quarter": quarter,
            "indicator_id": indicator,
            "old_value": old,
            "old_data_status": "complete",
            "old_suppressed": False,
            "new_value": new,
            "new_data_status": "complete",
            "new_suppressed": False,
            "detected_at": datetime(2024, 8, 1),
        }

    with warehouse.begin() as conn:
        conn.execute(
            insert(indicator_revisions),
            [
                row(Q1.code, "DA02", 60.0, 60.6),
                row(Q1.code, "DA01", 5460, 5512),
                row(Q1.code, "DA01", 5512, 5530),  # revised again before the next scorecard
                row(Q1.code, "DA02", 60.6, 60.04),  # and back to what was published (60.0)
                row(Q3.code, "DA01", 100, 120),  # a later quarter: not Q2's to note
            ],
        )
    assert footnotes_for(warehouse, Q2, claim=False) == ()  # a republication claims nothing
    notes = footnotes_for(warehouse, Q2)
    assert [(r.indicator_id, r.quarter, r.old.value, r.new.value) for r in notes] == [("DA01", Q1.code, 5460, 5530)]
    assert footnotes_for(warehouse, Q2) == notes  # a rebuild of Q2 shows the same notes
    assert footnotes_for(warehouse, Q3) == ()  # the scorecard after does not repeat them
    with warehouse.connect() as conn:
        claimed = conn.execute(select(indicator_revisions.c.quarter, indicator_revisions.c.footnoted_in)).all()
    assert sorted(claimed) == [(Q1.code, Q2.code)] * 4 + [(Q3.code, None)]
