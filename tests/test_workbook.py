"""The workbook an analyst works in and the board prints (issue 19): the sheet order, the
Exceptions sheet with each exception's commentary (or "Commentary awaited"), the Monthly sheet
equal to ``scorecard.json``'s series, the native Excel charts and the ranges they draw, the print
set-up of every sheet, no formula cells, and a LibreOffice round trip that keeps the charts.

The scorecards are hand-made (``test_render``, ``test_charts``): the workbook shows what it is
given and decides nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from test_charts import JUDGEMENTS, recalculated
from test_render import COUNT, PRIORITIES, indicator, mixed, scorecard, spc, text_cells

from pipelines.model import Commentary, HistoryRow, Return
from pipelines.render import write_workbook
from pipelines.render.charts import CONCERN, IMPROVEMENT, NEUTRAL
from pipelines.render.excel import DISCLOSIVE_CHART

SHEETS = ["Exceptions", "Summary", "Monthly", "Indicator charts", "Definitions", "Data", "Charts"]
WRITTEN = datetime(2024, 7, 10, 13, 5)  # naive UTC: 14:05 in London (summer time)


def commented():
    """Four exceptions (one with commentary, two awaiting it, one with no monthly figures), a
    non-exception with commentary, and a disclosive exception whose monthly numbers stay out."""
    x01 = recalculated(
        id="X01",
        name="Re-referrals within 12 months",
        rag="red",
        exception=True,
        plain_definition="Of the referrals this quarter, the share about a child referred in the year before.",
        commentary=Commentary(
            "Rose after the front door restructure; a deep dive is under way.", "lead.officer@lscp.invalid", WRITTEN
        ),
    )
    x02 = indicator(
        id="X02",
        name="Children seen within 5 days",
        priority=PRIORITIES[2],
        rag="red",
        exception=True,
        target=None,
        tolerance=None,
        amber_edge=None,
        polarity="up",
        spc=spc(values=(40.0, 42.0, 41.0) * 8, mean=41.0, lower=36.0, upper=46.0),
    )
    x03 = indicator(
        id="X03",
        name="Children missing 3 or more times",
        priority=PRIORITIES[3],
        unit=COUNT,
        decimals=0,
        value=9,
        numerator=9,
        denominator=None,
        rag="none",
        target=None,
        tolerance=None,
        amber_edge=None,
        polarity="down",
        disclosive=True,
        exception=True,
        spc=spc(
            "special_cause_concern",
            None,
            mean=3.0,
            lower=0.0,
            upper=7.0,
            values=(3, 2, 4) * 7 + (8, 9, 9),
            special={21, 22, 23},
        ),
    )
    x04 = indicator(id="X04", name="No figures yet", rag="red", exception=True, spc=replace(spc(), series=()))
    x05 = indicator(
        id="X05",
        name="Assessments on time",
        priority=PRIORITIES[1],
        commentary=Commentary("=Steady; new staff in post.", "=cmd()", WRITTEN),
    )
    return scorecard([x01, x02, x03, x04, x05])


def build(sc, tmp_path: Path, name: str = "scorecard.xlsx") -> openpyxl.Workbook:
    return openpyxl.load_workbook(write_workbook(sc, tmp_path / name))


def table(ws, header_row: int) -> tuple[list[str], list[list]]:
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=header_row)]
    return rows[0], rows[1:]


def monthly_block(wb, indicator_id: str) -> tuple[int, int, list[list]]:
    """(first row, last row, the rows) of an indicator on the Monthly sheet."""
    rows = [(r[0].row, [c.value for c in r]) for r in wb["Monthly"].iter_rows(min_row=2) if r[0].value == indicator_id]
    return rows[0][0], rows[-1][0], [values for _, values in rows]


def test_sheet_order(tmp_path):
    assert build(mixed(), tmp_path).sheetnames == SHEETS
    assert build(scorecard([], returns=[]), tmp_path, "empty.xlsx").sheetnames == SHEETS


def test_exceptions_sheet_has_each_exception_with_its_commentary_or_awaited(tmp_path):
    sc = commented()
    ws = build(sc, tmp_path)["Exceptions"]
    assert ws["A1"].value == "Exceptions: LSCP performance scorecard 2024-25 Q1"
    header, rows = table(ws, 4)
    assert header == [
        "ID",
        "Indicator",
        "Rating",
        "SPC signal",
        "Target assurance",
        "Exception",
        "Commentary",
        "Commentary by",
        "Written (UK time)",
    ]
    by_id = {r[0]: r for r in rows[:4]}
    assert list(by_id) == ["X01", "X02", "X03", "X04"] == sc.exceptions
    x01 = by_id["X01"]
    assert x01[1:5] == [
        "Re-referrals within 12 months",
        "\u25cf Red",
        "Special cause improvement: high",
        "Hit and miss: the target may or may not be met",
    ]
    assert x01[5].startswith("Re-referrals within 12 months ")
    assert x01[6:9] == [
        "Rose after the front door restructure; a deep dive is under way.",
        "lead.officer@lscp.invalid",
        datetime(2024, 7, 10, 14, 5),  # UK time
    ]
    assert ws.cell(row=5, column=9).number_format == "d mmm yyyy hh:mm"
    # rows tall enough for their wrapped text: X01's sentence, 149 characters in a column 45 wide
    # (about 49 characters a line), takes 4 lines of 15 points
    assert len(x01[5]) == 149 and ws.row_dimensions[5].height == 60
    for awaited in ("X02", "X03", "X04"):
        assert by_id[awaited][6:9] == ["Commentary awaited", None, None]
    assert by_id["X03"][3] == "Special cause concern: high"
    assert "X05" not in [r[0] for r in rows]  # commentary alone does not make an exception


def test_summary_marks_exceptions_beside_the_name_and_carries_commentary(tmp_path):
    wb = build(commented(), tmp_path)
    header, rows = table(wb["Summary"], 6)
    assert header[:4] == ["ID", "Indicator", "Exception", "OBA question"]
    assert header[-2:] == ["Exception sentence", "Commentary"]
    by_id = {r[0]: r for r in rows if r[0] in {"X01", "X02", "X03", "X04", "X05"}}
    assert [by_id[i][2] for i in ("X01", "X02", "X03", "X04", "X05")] == ["Yes", "Yes", "Yes", "Yes", None]
    assert by_id["X01"][-1] == (
        "Rose after the front door restructure; a deep dive is under way. (lead.officer@lscp.invalid, 10 July 2024)"
    )
    assert by_id["X02"][-1] == "Commentary awaited"
    assert by_id["X05"][-1] == "'=Steady; new staff in post. (=cmd(), 10 July 2024)"  # guarded as text
    assert wb["Summary"].freeze_panes == "D7"  # ID, name and the Exception mark stay in view


def test_monthly_sheet_equals_the_json_series(tmp_path):
    sc = commented()
    wb = build(sc, tmp_path)
    contract = json.loads(json.dumps(sc.contract()))  # scorecard.json as written
    header = [c.value for c in wb["Monthly"][1]]
    assert header == [
        "ID",
        "Indicator",
        "Month",
        "Value",
        "Mean",
        "Lower limit",
        "Upper limit",
        "Target",
        "Rules",
        "Signal",
        "Note",
    ]
    charted = [i for i in contract["indicators"] if i["spc"]["series"]]
    ids_in_sheet = [r[0].value for r in wb["Monthly"].iter_rows(min_row=2)]
    assert ids_in_sheet == [i["id"] for i in charted for _ in i["spc"]["series"]]  # scorecard order, every month
    for ind in charted:
        _, _, rows = monthly_block(wb, ind["id"])
        series = ind["spc"]["series"]
        assert [r[2].strftime("%Y-%m") for r in rows] == [p["month"] for p in series]
        assert [r[8] or "" for r in rows] == [", ".join(p["rules"]) for p in series]
        if ind["disclosive"]:
            assert all(r[3:8] == [None] * 5 for r in rows), ind["id"]
            assert all(r[10].startswith("Numbers not shown: a disclosive indicator") for r in rows)
            continue
        assert [r[3] for r in rows] == [p["value"] for p in series]
        assert [r[4] for r in rows] == [p["mean"] for p in series]
        assert [r[5] for r in rows] == [p["lower_limit"] for p in series]
        assert [r[6] for r in rows] == [p["upper_limit"] for p in series]
        assert {r[7] for r in rows} == {ind["target"]}
    _, _, x01 = monthly_block(wb, "X01")
    assert x01[11][4:7] == [10.4, 7.0, 13.8] and x01[12][4:7] == [15.8, 12.0, 19.6]  # the recalculation
    assert x01[23][8] == "trend_high, outside_high" and x01[23][9] == "Special cause improvement"
    assert x01[4][9] == "Special cause concern" and x01[0][9] == "Common cause"
    assert wb["Monthly"].auto_filter.ref == f"A1:K{len(ids_in_sheet) + 1}"


def test_native_charts_draw_the_monthly_rows_of_their_indicator(tmp_path):
    wb = build(commented(), tmp_path)
    first, last, _ = monthly_block(wb, "X01")

    def ref(col: str) -> str:
        return f"'Monthly'!${col}${first}:${col}${last}"

    charts = wb["Indicator charts"]._charts
    # one per indicator with monthly numbers: X01, X02, X05 (X03 disclosive, X04 no months)
    titles = [c.title.tx.rich.p[0].r[0].t for c in charts]
    assert titles == [
        "X01 Re-referrals within 12 months",
        "X02 Children seen within 5 days",
        "X05 Assessments on time",
    ]
    x01 = charts[0]
    assert [s.tx.v for s in x01.series] == ["Value", "Mean", "Lower limit", "Upper limit", "Target"]
    assert [s.val.numRef.f for s in x01.series] == [ref(c) for c in "DEFGH"]
    assert all(s.cat.numRef.f == ref("C") for s in x01.series)
    # the special cause points coloured by the build's judgement
    colours = {"concern": CONCERN, "neutral": NEUTRAL, "improvement": IMPROVEMENT}
    points = {p.idx: p.marker.spPr.solidFill.srgbClr for p in x01.series[0].dPt}
    assert points == {i: colours[j].lstrip("#") for i, j in JUDGEMENTS.items()}
    lines = {p.idx: p.spPr.ln.solidFill.srgbClr for p in x01.series[0].dPt}  # what LibreOffice colours by
    assert lines == points
    assert x01.series[2].graphicalProperties.line.prstDash == "dash"
    assert x01.x_axis.delete is False and x01.y_axis.delete is False
    # a tenth of the spread below the lowest line (7.0) and above the highest (19.6), to round numbers
    assert (x01.y_axis.scaling.min, x01.y_axis.scaling.max) == (4.0, 22.0)
    x02 = charts[1]
    assert [s.tx.v for s in x02.series] == ["Value", "Mean", "Lower limit", "Upper limit"]  # no target, no line
    first2, last2, _ = monthly_block(wb, "X02")
    assert x02.series[0].val.numRef.f == f"'Monthly'!$D${first2}:$D${last2}"

    # On the Exceptions sheet: a native chart for X01 and X02, X03's picture without numbers.
    ws = wb["Exceptions"]
    assert [c.series[0].val.numRef.f for c in ws._charts] == [ref("D"), f"'Monthly'!$D${first2}:$D${last2}"]
    assert len(ws._images) == 1
    texts = [c.value for row in ws.iter_rows(min_row=10) for c in row if isinstance(c.value, str)]
    assert DISCLOSIVE_CHART in texts
    assert "No monthly figures to chart." in texts


def test_definitions_in_plain_english_then_the_technical_one(tmp_path):
    wb = build(commented(), tmp_path)
    header, rows = table(wb["Definitions"], 1)
    assert header[:4] == ["ID", "Indicator", "Definition", "Technical definition"]
    by_id = {r[0]: r for r in rows}
    assert by_id["X01"][2:4] == [
        "Of the referrals this quarter, the share about a child referred in the year before.",
        "a test definition",
    ]
    assert by_id["X02"][2:4] == ["a test definition in plain words", "a test definition"]


def test_every_sheet_prints_landscape_fitted_to_width_with_its_header_repeated_and_frozen(tmp_path):
    wb = build(commented(), tmp_path)
    expected = {
        "Exceptions": ("$4:$4", "A5"),
        "Summary": ("$6:$6", "D7"),
        "Monthly": ("$1:$1", "D2"),
        "Indicator charts": ("$1:$2", "A3"),
        "Definitions": ("$1:$1", "C2"),
        "Data": ("$1:$1", "A2"),
        "Charts": ("$1:$2", "A3"),
    }
    assert list(expected) == wb.sheetnames
    for ws in wb:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True, ws.title
        assert (ws.print_title_rows, ws.freeze_panes) == expected[ws.title], ws.title
        assert int(ws.page_setup.paperSize) == 9  # A4
    assert wb["Exceptions"].column_dimensions["F"].width == 45  # the sentence, wrapped
    assert wb["Monthly"].column_dimensions["B"].width == 36


def test_no_formula_cells_anywhere(tmp_path):
    """Partner and officer text that starts like a formula (commentary, its author, names,
    returns, history labels) is text; the workbook holds no formula at all."""
    sc = commented()
    hostile = replace(
        sc.indicators[1],
        name='=HYPERLINK("http://evil.invalid","x")',
        commentary=Commentary("+cmd|' /C calc'!A0", "@SUM(A1:A9)", WRITTEN),
    )
    sc = replace(
        sc,
        indicators=(sc.indicators[0], hostile, *sc.indicators[2:]),
        returns=(Return("=cmd()", "received", 3, "-cmd()", "\tagency"),),
        history=(HistoryRow("2024-25Q1", "=1+1", "X02", 1.0, 1, 2, "complete", False),),
    )
    wb = build(sc, tmp_path)
    strings = text_cells(wb, ("=", "+", "-", "@", "\t", "\r"))
    assert "'+cmd|' /C calc'!A0" in strings and "'@SUM(A1:A9)" in strings  # the Exceptions sheet
    assert '\'=HYPERLINK("http://evil.invalid","x")' in strings and "'=1+1" in strings
    assert "'-cmd() (\tagency)" in strings
    summary_dates = [c for row in wb["Monthly"].iter_rows(min_row=2, max_col=3) for c in row[2:]]
    assert all(isinstance(c.value, datetime) and c.number_format == "mmm yyyy" for c in summary_dates)
    assert summary_dates[0].value.date() == date(2022, 7, 1)


@pytest.mark.slow
def test_libreoffice_opens_the_workbook_and_keeps_its_charts(tmp_path):
    """The native charts and pictures do not break the file for other office software: LibreOffice
    (headless, the profile of tests/test_office_files.py) converts it, and the converted file has
    the same sheets, charts drawing the same Monthly rows, and pictures."""
    from test_office_files import UK, soffice

    original = write_workbook(commented(), tmp_path / "scorecard.xlsx")
    [converted] = soffice(tmp_path, UK, [original], "xlsx", tmp_path / "converted")
    before, after = openpyxl.load_workbook(original), openpyxl.load_workbook(converted)
    assert after.sheetnames == SHEETS
    for name in SHEETS:
        assert len(after[name]._charts) == len(before[name]._charts), name
        assert len(after[name]._images) == len(before[name]._images), name
    drawn = [s.val.numRef.f.replace("'", "") for s in after["Indicator charts"]._charts[0].series]
    assert drawn == [s.val.numRef.f.replace("'", "") for s in before["Indicator charts"]._charts[0].series]
    values = [[c.value for c in r] for r in after["Monthly"].iter_rows(min_row=2, max_col=8)]
    assert values == [[c.value for c in r] for r in before["Monthly"].iter_rows(min_row=2, max_col=8)]
