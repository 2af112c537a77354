"""The outputs people receive (HTML, text, charts, Excel, email), from hand-made scorecard dicts."""

from __future__ import annotations

import copy
import email
import email.policy
import io
import re
from types import SimpleNamespace

import openpyxl
import pytest

from pipelines.render import (
    build_scorecard_email,
    exception_sentences,
    render_charts,
    render_html,
    render_text,
    subject_for,
    write_workbook,
)
from pipelines.xlsx import safe_text
from pipelines.render.formatting import format_change, format_number, format_value, round_half_away
from pipelines.render.sentences import spc_signals

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- hand-made scorecards -------------------------------------------------------------------

def months(n: int) -> list[str]:
    out, y, m = [], 2022, 7
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def series(values, special=()):
    return [
        {"month": month, "value": v, "special_cause": i in special}
        for i, (month, v) in enumerate(zip(months(len(values)), values))
    ]


# 17 points around the mean (22.3), then a run of 7 above it that stays under the 2/3 line
# (25.23), is not monotone and never crosses the upper limit: only the run rule holds.
RUN_OF_SEVEN = [21.0, 23.5, 21.8, 22.9, 21.2, 23.1, 21.9, 22.8, 21.4, 23.3, 21.7, 22.6, 21.1,
                23.0, 21.6, 22.7, 21.5, 23.0, 22.8, 23.5, 23.1, 23.4, 22.9, 23.2]


def indicator(**overrides) -> dict:
    base = {
        "id": "X01", "name": "Test indicator", "priority": "Identification and assessment of need",
        "oba": "How well did we do it?", "unit": "%", "decimals": 1, "polarity": "down",
        "definition": "a test definition", "source": "csws_referrals",
        "value": 10.0, "numerator": 100, "denominator": 1000, "data_status": "complete",
        "target": 20.0, "tolerance": 2.0, "rag": "green",
        "previous_quarter": 11.0, "same_quarter_last_year": 12.0,
        "change_previous_quarter": -1.0, "change_same_quarter_last_year": -2.0,
        "direction": "improving", "benchmarks": {},
        "spc": {"variation": "common_cause", "assurance": "pass", "points": 24, "mean": 10.5,
                "lower_limit": 8.0, "upper_limit": 13.0, "series": series([10.5, 10.2, 10.9] * 8)},
        "disclosive": False, "suppressed": False,
    }
    base.update(overrides)
    return base


def cs03() -> dict:
    """The spec's example indicator, with a run of 7 months above average."""
    return indicator(
        id="CS03", name="Re-referrals within 12 months", oba="Is anyone better off?",
        value=25.7142857, numerator=540, denominator=2100, target=22.0, tolerance=3.0, rag="red",
        previous_quarter=23.1, same_quarter_last_year=21.9, change_previous_quarter=2.6142857,
        change_same_quarter_last_year=3.8142857, direction="worsening", benchmarks={"england": 22.4},
        spc={"variation": "special_cause_concern", "assurance": "hit_and_miss", "points": 24,
             "mean": 22.3, "lower_limit": 17.9, "upper_limit": 26.7,
             "series": series(RUN_OF_SEVEN, special=range(17, 24))},
        disclosive=True,
    )


def scorecard(indicators, *, exceptions=None, returns=None) -> dict:
    sc = {
        "quarter": "2024-25Q1", "label": "2024-25 Q1",
        "period_start": "2024-04-01", "period_end": "2024-06-30",
        "generated_at": "2024-07-15T06:00:03+01:00",
        "returns": returns if returns is not None else [
            {"source": "police_domestic_incidents", "status": "received", "rows": 5460},
            {"source": "csws_referrals", "status": "received", "rows": 2100},
            {"source": "school_attendance", "status": "received", "rows": 812},
            {"source": "missing_episodes", "status": "missing", "rows": 0},
        ],
        "indicators": indicators,
    }
    if exceptions is not None:
        sc["exceptions"] = exceptions
    return sc


def mixed() -> dict:
    """Known reds, an amber with special cause concern, and non-exceptions of every kind."""
    falling = [80, 81, 79, 80, 82, 81, 80, 79, 81, 80, 82, 81, 80, 79, 80, 81, 80, 79, 78, 77, 76, 75, 74, 68]
    return scorecard([
        indicator(id="DA01", name="Domestic incidents reported to police", priority="Domestic abuse and its impact on children",
                  unit="count", decimals=0, polarity="neutral", value=5460, numerator=5460, denominator=None,
                  target=None, tolerance=None, rag="none", previous_quarter=5300, same_quarter_last_year=5100,
                  change_previous_quarter=160, change_same_quarter_last_year=360, direction="not_applicable",
                  spc={"variation": "special_cause_high", "assurance": None, "points": 24, "mean": 1700,
                       "lower_limit": 1500, "upper_limit": 1900, "series": series([1700] * 23 + [1950], special={23})}),
        indicator(id="DA04", name="Schools notified within 24 hours (Operation Encompass)",
                  priority="Domestic abuse and its impact on children", polarity="up", value=93.46, numerator=1402,
                  denominator=1500, target=95.0, tolerance=5.0, rag="amber", previous_quarter=96.0,
                  direction="worsening", disclosive=True,
                  spc={"variation": "special_cause_concern", "assurance": "hit_and_miss", "points": 24, "mean": 80.0,
                       "lower_limit": 70.0, "upper_limit": 90.0, "series": series(falling, special=range(17, 24))}),
        cs03(),
        indicator(id="CS05", name="Referrals ending in no further action", value=19.2, numerator=192,
                  denominator=1000, target=20.0, tolerance=5.0, rag="green", previous_quarter=21.0,
                  spc={"variation": "special_cause_improvement", "assurance": "hit_and_miss", "points": 24,
                       "mean": 22.0, "lower_limit": 18.0, "upper_limit": 26.0, "series": series([22.0] * 24)}),
        indicator(id="AT02", name="Overall absence, secondary", priority="Vulnerable learners", value=10.04,
                  numerator=1004, denominator=10000, target=8.0, tolerance=1.0, rag="red", previous_quarter=9.0,
                  direction="worsening",
                  spc={"variation": "common_cause", "assurance": "fail", "points": 24, "mean": 9.9,
                       "lower_limit": 9.0, "upper_limit": 10.8, "series": series([9.9, 10.1, 9.7] * 8)}),
        indicator(id="AT01", name="Overall absence, primary", priority="Vulnerable learners", value=None,
                  numerator=None, denominator=None, data_status="missing", rag="none", target=5.0, tolerance=0.5,
                  previous_quarter=5.2, direction="not_applicable",
                  spc={"variation": "insufficient_history", "assurance": None, "points": 3, "mean": None,
                       "lower_limit": None, "upper_limit": None, "series": series([5.1, 5.2, 5.0])}),
        indicator(id="MI05", name="Return interviews within 72 hours",
                  priority="Exploitation and children missing from home or care", polarity="up", value=37.5,
                  numerator=3, denominator=8, target=80.0, tolerance=10.0, rag="red", previous_quarter=70.0,
                  direction="worsening", disclosive=True, suppressed=True,
                  spc={"variation": "common_cause", "assurance": "hit_and_miss", "points": 24, "mean": 70.0,
                       "lower_limit": 30.0, "upper_limit": 110.0, "series": []}),
    ], exceptions=["DA04", "CS03", "AT02", "MI05"])


# --- formatting -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, decimals, expected", [
    (2.25, 1, 2.3), (-2.25, 1, -2.3), (0.05, 1, 0.1), (2.5, 0, 3), (-2.5, 0, -3),
    (95.05, 1, 95.1), (1901 / 2000 * 100, 1, 95.1), (2.675, 2, 2.68), (0.04, 1, 0.0), (None, 1, None),
])
def test_rounding_is_half_away_from_zero(value, decimals, expected):
    assert round_half_away(value, decimals) == expected


def test_display_values_carry_units_and_never_show_minus_zero():
    assert format_value(25.7142857, "%", 1) == "25.7%"
    assert format_value(5460, "count", 0) == "5,460"
    assert format_value(3.14, "per day", 1) == "3.1 per day"
    assert format_value(45.06, "per 10,000", 1) == "45.1 per 10,000"
    assert format_value(22.0, "%", 1, trim=True) == "22%"
    assert format_number(-0.04, 1) == "0.0"
    assert format_number(-2.25, 1) == "-2.3"
    assert format_change(2.6142857, "%", 1) == "+2.6 pts"
    assert format_change(-160, "count", 0) == "\u2212160"


# --- suppression ----------------------------------------------------------------------------

def suppression_pair(pipeline_flag: bool = False) -> dict:
    small = indicator(id="MI05", name="Return interviews within 72 hours", polarity="up", value=37.5,
                      numerator=3, denominator=8, target=80.0, tolerance=10.0, rag="red",
                      previous_quarter=71.4, disclosive=True, suppressed=pipeline_flag)
    enough = indicator(id="MI06", name="Episodes at risk of CSE", polarity="neutral", value=46.153846,
                       numerator=6, denominator=13, target=None, tolerance=None, rag="none",
                       previous_quarter=40.0, disclosive=True)
    open_small = indicator(id="DA05", name="Repeat incidents", value=42.857, numerator=3, denominator=7,
                           previous_quarter=41.0, disclosive=False)
    return scorecard([small, enough, open_small], exceptions=["MI05"])


@pytest.mark.parametrize("pipeline_flag", [True, False])
def test_suppressed_indicator_shows_c_in_html_and_text(pipeline_flag):
    sc = suppression_pair(pipeline_flag)
    html = render_html(sc)
    text = render_text(sc)
    for out in (html, text):
        assert "37.5%" not in out          # the true value of the disclosive numerator-3 indicator
        assert "3 / 8" not in out
        assert "46.2%" in out and "6 / 13" in out   # numerator 6: shown
        assert "42.9%" in out and "3 / 7" in out    # not disclosive: shown
        assert "fewer than 6 children or events" in out
    row = html.split('id="MI05"')[1].split("</tr>")[0]
    assert re.search(r">\s*c\s*<", row), "value cell shows c"
    assert "c / c" in row
    assert "Value: c (c / c)" in text
    sentence = dict(exception_sentences(sc))["MI05"]
    assert "37.5" not in sentence and "suppressed" in sentence


def test_suppression_threshold_is_configurable():
    sc = suppression_pair()
    assert "46.2%" not in render_html(sc, suppression_threshold=6)
    assert "46.2%" in render_html(sc, suppression_threshold=5)


def test_suppressed_indicator_shows_c_in_excel(tmp_path):
    path = write_workbook(suppression_pair(), tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(path)
    summary = {row[0].value: row for row in wb["Summary"].iter_rows()}
    assert [c.value for c in summary["MI05"][3:6]] == ["c", "c", "c"]
    assert [c.value for c in summary["MI06"][3:6]] == [46.2, 6, 13]
    assert [c.value for c in summary["DA05"][3:6]] == [42.9, 3, 7]
    data = {row[1].value: row for row in wb["Data"].iter_rows(min_row=2)}
    assert [c.value for c in data["MI05"][3:6]] == ["c", "c", "c"]
    assert data["MI06"][3].value == pytest.approx(46.153846) and data["MI06"][4].value == 6


def test_disclosive_count_history_is_suppressed_per_quarter(tmp_path):
    ind = indicator(id="MI04", name="Children missing 3 or more times", unit="count", decimals=0,
                    value=9, numerator=9, denominator=None, previous_quarter=4, same_quarter_last_year=12,
                    target=None, tolerance=None, rag="none", disclosive=True)
    sc = scorecard([ind])
    history = [
        {"quarter": "2023-24Q4", "indicator_id": "MI04", "value": 4, "numerator": 4, "denominator": None, "data_status": "complete"},
        {"quarter": "2024-25Q1", "indicator_id": "MI04", "value": 9, "numerator": 9, "denominator": None, "data_status": "complete"},
        {"quarter": "2023-24Q1", "indicator_id": "MI04", "value": 12, "numerator": 12, "denominator": None, "data_status": "complete"},
    ]
    html = render_html(sc)
    row = html.split('id="MI04"')[1].split("</tr>")[0]
    assert re.search(r">\s*9\s*<", row) and ">c<" in row.replace(" ", "") and "12" in row
    wb = openpyxl.load_workbook(write_workbook(sc, tmp_path / "h.xlsx", history=history))
    rows = [[c.value for c in r] for r in wb["Data"].iter_rows(min_row=2)]
    assert [r[0] for r in rows] == ["2023-24 Q1", "2023-24 Q4", "2024-25 Q1"]  # oldest first
    assert rows[1][3] == "c" and rows[1][4] == "c"
    assert rows[0][3] == 12 and rows[2][3] == 9


# --- RAG, exceptions and sentences ------------------------------------------------------------

def test_rag_has_word_and_symbol_not_colour_alone():
    sc = scorecard([
        indicator(id="A1", rag="red"), indicator(id="A2", rag="amber"),
        indicator(id="A3", rag="green"), indicator(id="A4", rag="none", polarity="neutral", target=None),
    ])
    html, text = render_html(sc), render_text(sc)
    for label in ("\u25cf Red", "\u25b2 Amber", "\u2713 Green", "\u2013 Not rated"):
        assert label in html and label in text
    row = html.split('id="A1"')[1].split("</tr>")[0]
    assert "background:#B10E1E" in row and "\u25cf Red" in row


def test_exception_sentences_name_exactly_the_exceptions():
    sc = mixed()
    assert [i for i, _ in exception_sentences(sc)] == ["DA04", "CS03", "AT02", "MI05"]
    derived = copy.deepcopy(sc)
    del derived["exceptions"]
    assert [i for i, _ in exception_sentences(derived)] == ["DA04", "CS03", "AT02", "MI05"]


def test_exception_sentences_are_written_from_the_data():
    sentences = dict(exception_sentences(mixed()))
    assert sentences["CS03"] == (
        "Re-referrals within 12 months rose to 25.7%, above the 22% target and outside tolerance; "
        "a run of 7 months above average."
    )
    assert sentences["DA04"] == (
        "Schools notified within 24 hours (Operation Encompass) fell to 93.5%, below the 95% target but "
        "within tolerance; the latest month is below the lower control limit, a run of 7 months below "
        "average and a falling run of 9 months."
    )
    assert sentences["AT02"].startswith("Overall absence, secondary rose to 10.0%, above the 8% target and outside tolerance;")
    assert "common cause" in sentences["AT02"] and "will not be met consistently" in sentences["AT02"]
    assert sentences["MI05"].startswith("Return interviews within 72 hours came in below the 80% target")


def test_spc_signal_wording_follows_the_rule_the_latest_month_meets():
    near = indicator(spc={"mean": 10.0, "lower_limit": 7.0, "upper_limit": 13.0,
                          "series": series([10, 9, 11, 10, 12.5, 10.5, 12.2])})
    assert spc_signals(near) == ["2 of the last 3 months close to the upper control limit"]
    rising = indicator(spc={"mean": 10.0, "lower_limit": 0.0, "upper_limit": 20.0,
                            "series": series([9, 12, 8, 9, 10, 11, 12, 13, 14, 12.5])})
    assert spc_signals(rising) == []  # the rise was broken by the last month
    rising["spc"]["series"] = series([9, 12, 8, 9, 9.5, 10, 11, 11.5, 12, 12.5])
    assert spc_signals(rising) == ["a rising run of 8 months"]


def test_summary_counts_returns_and_ratings():
    html, text = render_html(mixed()), render_text(mixed())
    for out in (html, text):
        assert "Returns: 3 of 4 received; missing: Missing from home or care episodes" in out
        assert "Ratings: 3 red, 1 amber, 1 green, 2 not rated." in out
        assert "4 exceptions" in out
    # the exceptions come first: before the first priority section
    assert html.index("Re-referrals within 12 months rose to") < html.index("Domestic abuse and its impact on children")


def test_sections_follow_the_priority_order_and_missing_values_say_why():
    html = render_html(mixed())
    order = [html.index(p) for p in (
        "Domestic abuse and its impact on children", "Identification and assessment of need",
        "Vulnerable learners", "Exploitation and children missing from home or care")]
    assert order == sorted(order)
    row = html.split('id="AT01"')[1].split("</tr>")[0]
    assert "Missing return" in row and "\u2013 Not rated" in row


def test_subject_counts_exceptions():
    assert subject_for(mixed()) == "LSCP performance scorecard 2024-25 Q1: 4 exceptions"
    assert subject_for(scorecard([cs03()], exceptions=["CS03"])) == "LSCP performance scorecard 2024-25 Q1: 1 exception"
    assert subject_for(scorecard([], exceptions=[])) == "LSCP performance scorecard 2024-25 Q1: 0 exceptions"


# --- HTML safety ----------------------------------------------------------------------------

def test_html_is_email_safe():
    html = render_html(mixed(), charts={"CS03": "charts/CS03.png", "DA04": "cid:chart-DA04@x"})
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html.lower() and "<style" not in html.lower() and "@import" not in html
    assert "url(" not in html
    assert re.findall(r'src="([^"]*)"', html) == ["cid:chart-DA04@x", "charts/CS03.png"]
    assert 'alt="SPC chart of Re-referrals within 12 months' in html
    assert "<table" in html and 'style="' in html


def test_html_escapes_partner_text():
    sc = scorecard([indicator(name="<img src=x onerror=alert(1)>", benchmarks={"<b>": 1.0})])
    html = render_html(sc)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# --- charts ---------------------------------------------------------------------------------

def test_charts_are_png_sparklines_for_indicators_with_a_series():
    from PIL import Image

    sc = mixed()
    charts = render_charts(sc)
    assert set(charts) == {"DA01", "DA04", "CS03", "CS05", "AT02", "AT01"}  # MI05 has no series
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in charts.values())
    assert Image.open(io.BytesIO(charts["CS03"])).size == (320, 96)
    assert render_charts(sc)["CS03"] == charts["CS03"]  # deterministic bytes
    # special-cause points are highlighted in the concern colour (orange #F47738)
    pixels = Image.open(io.BytesIO(charts["CS03"])).convert("RGB").getdata()
    assert any(abs(r - 0xF4) < 12 and abs(g - 0x77) < 12 and abs(b - 0x38) < 12 for r, g, b in pixels)


# --- Excel ----------------------------------------------------------------------------------

def test_workbook_sheets_panes_formats_and_conditional_formatting(tmp_path):
    catalogue = [SimpleNamespace(id=i["id"], name=i["name"], priority=i["priority"], oba=i["oba"],
                                 source=i["source"], definition=i["definition"], unit=i["unit"],
                                 decimals=i["decimals"], polarity=i["polarity"], target=i["target"],
                                 tolerance=i["tolerance"], disclosive=i["disclosive"], scale=None, sql="x.sql")
                 for i in mixed()["indicators"]]
    path = write_workbook(mixed(), tmp_path / "out" / "scorecard.xlsx", catalogue=catalogue)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Data", "Definitions"]
    ws = wb["Summary"]
    assert ws["A1"].value == "LSCP performance scorecard 2024-25 Q1"
    assert "generated 15 July 2024 at 06:00" in ws["A2"].value
    assert ws.freeze_panes == "C7"
    assert wb["Data"].freeze_panes == "A2" and wb["Definitions"].freeze_panes == "C2"
    assert [c.value for c in ws[6]][:4] == ["ID", "Indicator", "OBA question", "Value"]
    assert ws.column_dimensions["B"].width >= 30
    rules = [(str(cf.sqref), r) for cf in ws.conditional_formatting for r in cf.rules]
    assert len(rules) == 4 and all(ref.startswith("I7:I") for ref, _ in rules)
    formulas = " ".join(r.formula[0] for _, r in rules)
    for label in ("\u25cf Red", "\u25b2 Amber", "\u2713 Green", "\u2013 Not rated"):
        assert label in formulas
    red = next(r for _, r in rules if "Red" in r.formula[0])
    assert red.dxf.fill.fgColor.rgb.endswith("B10E1E") or red.dxf.fill.bgColor.rgb.endswith("B10E1E")
    rows = {row[0].value: row for row in ws.iter_rows(min_row=7)}
    cs03_row = rows["CS03"]
    assert cs03_row[3].value == 25.7 and cs03_row[3].number_format == '#,##0.0"%"'
    assert cs03_row[8].value == "\u25cf Red"
    assert cs03_row[17].value.startswith("Re-referrals within 12 months rose to 25.7%")
    assert rows["DA01"][3].value == 5460 and rows["DA01"][3].number_format == "#,##0"
    assert rows["AT01"][3].value == "Missing return"
    definitions = {row[0].value: [c.value for c in row] for row in wb["Definitions"].iter_rows(min_row=2)}
    assert set(definitions) == {i.id for i in catalogue}
    assert definitions["CS03"][7] == "Lower is better" and definitions["CS03"][8] == 22


def test_workbook_never_contains_a_formula(tmp_path):
    nasty = indicator(
        id="X99", name='=HYPERLINK("http://evil.invalid","click")', definition="+cmd|' /C calc'!A0",
        source="@SUM(A1:A9)", oba="-1+2", benchmarks={"-1+2": 5.0, "=1+1": 6.0},
        value=-2.5, change_previous_quarter=-3.0, previous_quarter=0.5, polarity="neutral",
        target=None, tolerance=None, rag="none", direction="not_applicable",
    )
    sc = scorecard([nasty], returns=[{"source": "=cmd()", "status": "received", "rows": 3}])
    path = write_workbook(sc, tmp_path / "x.xlsx", history=[
        {"quarter": "=1+1", "indicator_id": "X99", "value": -1.0, "numerator": 1, "denominator": 2, "data_status": "complete"}])
    wb = openpyxl.load_workbook(path)
    strings = []
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert not cell.value.startswith(("=", "+", "-", "@")), f"{ws.title}!{cell.coordinate}"
                    strings.append(cell.value)
    assert "'=HYPERLINK(\"http://evil.invalid\",\"click\")" in strings
    assert "'-1+2" in strings and "'+cmd|' /C calc'!A0" in strings and "'=1+1" in strings
    summary = {row[0].value: row for row in wb["Summary"].iter_rows()}
    assert summary["X99"][3].value == -2.5 and summary["X99"][3].data_type == "n"  # numbers stay numbers
    assert summary["X99"][11].value == -3.0 and summary["X99"][11].data_type == "n"


def test_safe_text_guards_only_dangerous_starts():
    assert safe_text("=1+1") == "'=1+1"
    assert safe_text("\t=1") == "'\t=1"
    assert safe_text("Re-referrals") == "Re-referrals"
    assert safe_text("a\x07b") == "ab"


# --- email ----------------------------------------------------------------------------------

def test_email_structure_inline_charts_and_workbook(tmp_path):
    sc = mixed()
    charts = render_charts(sc)
    workbook = write_workbook(sc, tmp_path / "scorecard.xlsx")
    msg = build_scorecard_email(sc, sender="scorecard@lscp.invalid",
                                recipients=["pmsg@lscp.invalid", "chair@lscp.invalid"],
                                workbook=workbook, charts=charts)
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "LSCP performance scorecard 2024-25 Q1: 4 exceptions"
    assert parsed["To"] == "pmsg@lscp.invalid, chair@lscp.invalid"
    assert parsed.get_content_type() == "multipart/mixed"
    related, attachment = parsed.get_payload()
    assert related.get_content_type() == "multipart/related"
    alternative, *images = related.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    plain, html_part = alternative.get_payload()
    html = html_part.get_content()
    assert "Ratings: 3 red, 1 amber, 1 green, 2 not rated." in plain.get_content()
    assert len(images) == len(charts)
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    cids = set()
    for img in images:
        assert img.get_content_type() == "image/png"
        assert img.get_content_disposition() == "inline"
        assert img.get_content().startswith(b"\x89PNG")
        cids.add(img["Content-ID"].strip("<>"))
    assert cids == referenced and len(cids) == len(charts)
    assert "http://" not in html and "https://" not in html
    assert attachment.get_content_type() == XLSX
    assert attachment.get_filename() == "LSCP-scorecard-2024-25Q1.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    assert wb.sheetnames == ["Summary", "Data", "Definitions"]


def test_email_needs_recipients(tmp_path):
    workbook = write_workbook(mixed(), tmp_path / "s.xlsx")
    with pytest.raises(ValueError, match="recipient"):
        build_scorecard_email(mixed(), sender="a@b.invalid", recipients=[], workbook=workbook, charts={})


def test_outputs_cope_with_an_empty_quarter(tmp_path):
    sc = scorecard([], exceptions=[], returns=[])
    assert "No exceptions" in render_html(sc)
    assert "No exceptions" in render_text(sc)
    assert render_charts(sc) == {}
    assert openpyxl.load_workbook(write_workbook(sc, tmp_path / "e.xlsx")).sheetnames == ["Summary", "Data", "Definitions"]


def test_spc_wording_follows_the_rules_the_scorecard_names():
    ind = cs03()
    ind["spc"]["signals"] = ["shift"]
    assert spc_signals(ind) == ["a run of 7 months above average"]
    ind["spc"]["signals"] = ["outside_limits", "two_of_three"]  # named, though this series shows neither
    assert spc_signals(ind) == ["the latest month is outside the control limits"]
    ind["spc"]["signals"] = []
    assert spc_signals(ind) == ["an unusual latest month"]  # the series still flags the point
