"""The outputs people receive (HTML, text, charts, Excel, email), from hand-made scorecards.

Each scorecard here is a typed ``Scorecard`` with its decisions written in by hand, so these
tests check that the renderers show exactly what they are given and decide nothing: a figure
the scorecard marks suppressed shows ``c``, one it does not mark shows its value.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
from dataclasses import replace

import openpyxl
import pytest

from pipelines.catalogue import Unit, load_catalogue
from pipelines.decide import indicator_result
from pipelines.indicators import IndicatorValue
from pipelines.model import Benchmark, Comparison, HistoryRow, IndicatorResult, Return, Scorecard, Spc, SpcPoint
from pipelines.periods import Month
from pipelines.render import (
    build_scorecard_email,
    exception_sentences,
    render_charts,
    render_html,
    render_text,
    subject_for,
    write_workbook,
)
from pipelines.render.formatting import format_change, format_number, format_value, round_half_away
from pipelines.render.icons import icons_used
from pipelines.render.sentences import signal_words, spc_signals
from pipelines.spc import Signal
from pipelines.xlsx import safe_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PCT = Unit("%", "%", " pts")
COUNT = Unit("count", "", "")
PRIORITIES = (
    "Domestic abuse and its impact on children",
    "Identification and assessment of need",
    "Vulnerable learners",
    "Exploitation and children missing from home or care",
)


# --- hand-made scorecards -------------------------------------------------------------------


def text_cells(workbook, refused: tuple[str, ...]) -> list[str]:
    """Every text cell's value, having asserted that no cell is a formula and that no text cell
    is stored as anything but text or starts with one of ``refused``."""
    strings = []
    for ws in workbook:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert not cell.value.startswith(refused), f"{ws.title}!{cell.coordinate}"
                    strings.append(cell.value)
    return strings


def months(n: int) -> list[str]:
    out, y, m = [], 2022, 7
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def series(
    values, special=(), judgement="concern", mean=None, lower=None, upper=None, rules=("shift_high",)
) -> tuple[SpcPoint, ...]:
    return tuple(
        SpcPoint(
            month=month,
            value=v,
            numerator=None,
            denominator=None,
            mean=mean,
            lower_limit=lower,
            upper_limit=upper,
            rules=tuple(rules) if i in special else (),
            judgement=judgement if i in special else None,
        )
        for i, (month, v) in enumerate(zip(months(len(values)), values))
    )


def spc(
    variation="common_cause",
    assurance="pass",
    mean=10.5,
    lower=8.0,
    upper=13.0,
    points=None,
    values=(10.5, 10.2, 10.9) * 8,
    special=(),
    signals=(),
    judgement="concern",
    conflict=False,
) -> Spc:
    shown = series(values, special, judgement, mean, lower, upper, [s.name for s in signals] or ("shift_high",))
    return Spc(
        variation=variation,
        assurance=assurance,
        points=len(shown) if points is None else points,
        mean=mean,
        lower_limit=lower,
        upper_limit=upper,
        signals=tuple(signals),
        series=shown,
        conflict=conflict,
    )


def earlier(value, change=None, suppressed=False, change_suppressed=None) -> Comparison:
    return Comparison(
        value=value,
        change=change,
        suppressed=suppressed,
        change_suppressed=suppressed if change_suppressed is None else change_suppressed,
    )


def indicator(**overrides) -> IndicatorResult:
    base = dict(
        id="X01",
        name="Test indicator",
        priority="Identification and assessment of need",
        oba="How well did we do it?",
        source="csws_referrals",
        source_title="Children's social work referrals",
        definition="a test definition",
        plain_definition="a test definition in plain words",
        unit=PCT,
        decimals=1,
        polarity="down",
        value=10.0,
        numerator=100,
        denominator=1000,
        data_status="complete",
        target=20.0,
        tolerance=2.0,
        amber_edge=22.0,
        rag="green",
        previous=earlier(11.0, -1.0),
        last_year=earlier(12.0, -2.0),
        direction="improving",
        movement="down",
        benchmarks=(),
        spc=spc(),
        disclosive=False,
        suppressed=False,
        exception=False,
    )
    base.update(overrides)
    return IndicatorResult(**base)


# 17 points around the mean (22.3), then a run of 7 above it.
RUN_OF_SEVEN = (
    21.0,
    23.5,
    21.8,
    22.9,
    21.2,
    23.1,
    21.9,
    22.8,
    21.4,
    23.3,
    21.7,
    22.6,
    21.1,
    23.0,
    21.6,
    22.7,
    21.5,
    23.0,
    22.8,
    23.5,
    23.1,
    23.4,
    22.9,
    23.2,
)


def cs03() -> IndicatorResult:
    """The spec's example indicator, with a run of 7 months above average."""
    return indicator(
        id="CS03",
        name="Re-referrals within 12 months",
        oba="Is anyone better off?",
        value=25.7142857,
        numerator=540,
        denominator=2100,
        target=22.0,
        tolerance=3.0,
        amber_edge=25.0,
        rag="red",
        previous=earlier(23.1, 2.6142857),
        last_year=earlier(21.9, 3.8142857),
        direction="worsening",
        movement="up",
        benchmarks=(Benchmark("england", "England", 22.4),),
        spc=spc(
            "special_cause_concern",
            "hit_and_miss",
            22.3,
            17.9,
            26.7,
            values=RUN_OF_SEVEN,
            special=range(17, 24),
            signals=[Signal("shift", "high", 7)],
        ),
        disclosive=True,
        exception=True,
    )


def scorecard(indicators, *, returns=None, priorities=PRIORITIES, threshold=5, history=()) -> Scorecard:
    return Scorecard(
        quarter="2024-25Q1",
        label="2024-25 Q1",
        period_start="2024-04-01",
        period_end="2024-06-30",
        generated_at="2024-07-15T06:00:03+01:00",
        returns=tuple(
            returns
            if returns is not None
            else [
                Return(
                    "police_domestic_incidents", "received", 5460, "Police domestic incidents", "West Yorkshire Police"
                ),
                Return(
                    "csws_referrals",
                    "received",
                    2100,
                    "Children's social work referrals",
                    "Children's social work service",
                ),
                Return("school_attendance", "received", 812, "School attendance", "Education"),
                Return(
                    "missing_episodes", "missing", 0, "Missing from home or care episodes", "Return interview service"
                ),
            ]
        ),
        indicators=tuple(indicators),
        priorities=tuple(priorities),
        suppression_threshold=threshold,
        history=tuple(history),
    )


def mixed() -> Scorecard:
    """Known reds, an amber with special cause concern, and non-exceptions of every kind."""
    falling = (80, 81, 79, 80, 82, 81, 80, 79, 81, 80, 82, 81, 80, 79, 80, 81, 80, 79, 78, 77, 76, 75, 74, 68)
    return scorecard(
        [
            indicator(
                id="DA01",
                name="Domestic incidents reported to police",
                priority=PRIORITIES[0],
                unit=COUNT,
                decimals=0,
                polarity="neutral",
                value=5460,
                numerator=5460,
                denominator=None,
                target=None,
                tolerance=None,
                amber_edge=None,
                rag="none",
                previous=earlier(5300, 160),
                last_year=earlier(5100, 360),
                direction="not_applicable",
                movement="up",
                spc=spc(
                    "special_cause_high",
                    None,
                    1700,
                    1500,
                    1900,
                    values=(1700,) * 23 + (1950,),
                    special={23},
                    signals=[Signal("outside", "high", 1)],
                    judgement="neutral",
                ),
            ),
            indicator(
                id="DA04",
                name="Schools notified within 24 hours (Operation Encompass)",
                priority=PRIORITIES[0],
                polarity="up",
                value=93.46,
                numerator=1402,
                denominator=1500,
                target=95.0,
                tolerance=5.0,
                amber_edge=90.0,
                rag="amber",
                previous=earlier(96.0, -2.54),
                direction="worsening",
                movement="down",
                disclosive=True,
                exception=True,
                spc=spc(
                    "special_cause_concern",
                    "hit_and_miss",
                    80.0,
                    70.0,
                    90.0,
                    values=falling,
                    special=range(17, 24),
                    signals=[
                        Signal("outside", "low", 1),
                        Signal("shift", "low", 7),
                        Signal("trend", "low", 9),
                    ],
                ),
            ),
            cs03(),
            indicator(
                id="CS05",
                name="Referrals ending in no further action",
                value=19.2,
                numerator=192,
                denominator=1000,
                target=20.0,
                tolerance=5.0,
                amber_edge=25.0,
                rag="green",
                previous=earlier(21.0, -1.8),
                spc=spc("special_cause_improvement", "hit_and_miss", 22.0, 18.0, 26.0, values=(22.0,) * 24),
            ),
            indicator(
                id="AT02",
                name="Overall absence, secondary",
                priority=PRIORITIES[2],
                value=10.04,
                numerator=1004,
                denominator=10000,
                target=8.0,
                tolerance=1.0,
                amber_edge=9.0,
                rag="red",
                previous=earlier(9.0, 1.04),
                direction="worsening",
                movement="up",
                exception=True,
                spc=spc("common_cause", "fail", 9.9, 9.0, 10.8, values=(9.9, 10.1, 9.7) * 8),
            ),
            indicator(
                id="AT01",
                name="Overall absence, primary",
                priority=PRIORITIES[2],
                value=None,
                numerator=None,
                denominator=None,
                data_status="missing",
                rag="none",
                target=5.0,
                tolerance=0.5,
                amber_edge=5.5,
                previous=earlier(5.2),
                last_year=earlier(None),
                direction="not_applicable",
                movement=None,
                spc=spc("insufficient_history", None, None, None, None, values=(5.1, 5.2, 5.0)),
            ),
            indicator(
                id="MI05",
                name="Return interviews within 72 hours",
                priority=PRIORITIES[3],
                polarity="up",
                value=37.5,
                numerator=3,
                denominator=8,
                target=80.0,
                tolerance=10.0,
                amber_edge=70.0,
                rag="red",
                previous=earlier(70.0, -32.5, change_suppressed=True),
                direction="worsening",
                movement="down",
                disclosive=True,
                suppressed=True,
                exception=True,
                spc=spc("common_cause", "hit_and_miss", 70.0, 30.0, 110.0, values=()),
            ),
        ]
    )


# --- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, decimals, expected",
    [
        (2.25, 1, 2.3),
        (-2.25, 1, -2.3),
        (0.05, 1, 0.1),
        (2.5, 0, 3),
        (-2.5, 0, -3),
        (95.05, 1, 95.1),
        (1901 / 2000 * 100, 1, 95.1),
        (2.675, 2, 2.68),
        (0.04, 1, 0.0),
        (None, 1, None),
    ],
)
def test_rounding_is_half_away_from_zero(value, decimals, expected):
    assert round_half_away(value, decimals) == expected


def test_display_values_carry_the_catalogues_units_and_never_show_minus_zero():
    units = {i.unit: i for i in load_catalogue()}
    from pipelines.catalogue import load_units

    unit = load_units()
    assert set(units) == set(unit)
    assert format_value(25.7142857, unit["%"], 1) == "25.7%"
    assert format_value(5460, unit["count"], 0) == "5,460"
    assert format_value(3.14, unit["per day"], 1) == "3.1 per day"
    assert format_value(45.06, unit["per 10,000"], 1) == "45.1 per 10,000"
    assert format_value(22.0, unit["%"], 1, trim=True) == "22%"
    assert format_number(-0.04, 1) == "0.0"
    assert format_number(-2.25, 1) == "-2.3"
    assert format_change(2.6142857, unit["%"], 1) == "+2.6 pts"
    assert format_change(-160, unit["count"], 0) == "\u2212160"
    assert format_change(0.04, unit["per 100"], 1) == "0.0 per 100"


# --- suppression: shown exactly as the scorecard decided ----------------------------------------


def suppression_trio(*, small_suppressed: bool = True) -> Scorecard:
    small = indicator(
        id="MI05",
        name="Return interviews within 72 hours",
        polarity="up",
        value=37.5,
        numerator=3,
        denominator=8,
        target=80.0,
        tolerance=10.0,
        amber_edge=70.0,
        rag="red",
        previous=earlier(71.4, -33.9, change_suppressed=small_suppressed),
        disclosive=True,
        suppressed=small_suppressed,
        exception=True,
    )
    enough = indicator(
        id="MI06",
        name="Episodes at risk of CSE",
        polarity="neutral",
        value=46.153846,
        numerator=6,
        denominator=13,
        target=None,
        tolerance=None,
        amber_edge=None,
        rag="none",
        previous=earlier(40.0, 6.153846),
        disclosive=True,
    )
    open_small = indicator(
        id="DA05",
        name="Repeat incidents",
        value=42.857,
        numerator=3,
        denominator=7,
        previous=earlier(41.0, 1.857),
        disclosive=False,
    )
    history = [
        HistoryRow("2023-24Q4", "2023-24 Q4", "MI05", 70.0, 7, 10, "complete", False),
        HistoryRow("2024-25Q1", "2024-25 Q1", "MI05", 37.5, 3, 8, "complete", small_suppressed),
        HistoryRow("2024-25Q1", "2024-25 Q1", "MI06", 46.153846, 6, 13, "complete", False),
        HistoryRow("2024-25Q1", "2024-25 Q1", "DA05", 42.857, 3, 7, "complete", False),
    ]
    return scorecard([small, enough, open_small], history=history)


def test_suppressed_indicator_shows_c_in_html_and_text():
    sc = suppression_trio()
    html, text = render_html(sc), render_text(sc)
    for out in (html, text):
        assert "37.5%" not in out  # the true value of the disclosive numerator-3 indicator
        assert "3 / 8" not in out
        assert "46.2%" in out and "6 / 13" in out  # numerator 6: shown
        assert "42.9%" in out and "3 / 7" in out  # not disclosive: shown
        assert "fewer than 6 children or events" in out
    row = html.split('id="MI05"')[1].split("</tr>")[0]
    assert re.search(r">\s*c\s*<", row), "value cell shows c"
    assert "c / c" in row and "71.4%" in row  # the previous quarter's rate is not suppressed, its change is
    assert "Value: c (c / c)" in text and "(change c)" in text
    sentence = dict(exception_sentences(sc))["MI05"]
    assert "37.5" not in sentence and "suppressed" in sentence


def test_renderers_do_not_suppress_on_their_own(tmp_path):
    """A disclosive numerator of 3 that the build did not suppress (say its threshold was 2) is
    shown: suppression is the build's decision, made once."""
    sc = suppression_trio(small_suppressed=False)
    sc = replace(sc, suppression_threshold=2)
    html, text = render_html(sc), render_text(sc)
    for out in (html, text):
        assert "37.5%" in out and "3 / 8" in out and "fewer than 3 children or events" in out
    summary = {
        row[0].value: row
        for row in openpyxl.load_workbook(write_workbook(sc, tmp_path / "s.xlsx"))["Summary"].iter_rows()
    }
    assert [c.value for c in summary["MI05"][4:7]] == [37.5, 3, 8]


def test_suppression_threshold_is_the_builds():
    """The decision itself, from the build's decide module, at two thresholds: what the outputs show follows."""
    ind = next(i for i in load_catalogue() if i.id == "MI05")  # disclosive
    now = IndicatorValue("MI05", "2024-25Q1", 46.153846, 6, 13, "complete")
    before = IndicatorValue("MI05", "2024-25Q4", 40.0, 4, 10, "complete")
    shown = {}
    for threshold in (5, 6):
        result = indicator_result(
            ind,
            unit=PCT,
            source_title="Missing episodes",
            now=now,
            previous=before,
            last_year=before,
            series=[(Month(2024, 6), now)],
            benchmarks=[],
            threshold=threshold,
        )
        assert result.suppressed is (threshold == 6)
        shown[threshold] = render_html(scorecard([result], threshold=threshold))
    assert "46.2%" in shown[5] and "46.2%" not in shown[6]


def test_suppressed_indicator_shows_c_in_excel(tmp_path):
    path = write_workbook(suppression_trio(), tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(path)
    summary = {row[0].value: row for row in wb["Summary"].iter_rows()}
    assert [c.value for c in summary["MI05"][4:7]] == ["c", "c", "c"]
    assert [c.value for c in summary["MI06"][4:7]] == [46.2, 6, 13]
    assert [c.value for c in summary["DA05"][4:7]] == [42.9, 3, 7]
    data = [[c.value for c in row] for row in wb["Data"].iter_rows(min_row=2)]
    assert [r[:2] for r in data] == [
        ["2023-24 Q4", "MI05"],
        ["2024-25 Q1", "MI05"],
        ["2024-25 Q1", "MI06"],
        ["2024-25 Q1", "DA05"],
    ]  # the scorecard's order, as given
    assert data[0][3:6] == [70, 7, 10] and data[1][3:6] == ["c", "c", "c"]
    assert data[2][3] == pytest.approx(46.153846) and data[2][4] == 6


def test_disclosive_count_history_is_suppressed_per_quarter(tmp_path):
    ind = indicator(
        id="MI04",
        name="Children missing 3 or more times",
        unit=COUNT,
        decimals=0,
        value=9,
        numerator=9,
        denominator=None,
        previous=earlier(4, 5, suppressed=True),
        last_year=earlier(12, -3),
        target=None,
        tolerance=None,
        amber_edge=None,
        rag="none",
        disclosive=True,
    )
    history = [
        HistoryRow("2023-24Q1", "2023-24 Q1", "MI04", 12, 12, None, "complete", False),
        HistoryRow("2023-24Q4", "2023-24 Q4", "MI04", 4, 4, None, "complete", True),
        HistoryRow("2024-25Q1", "2024-25 Q1", "MI04", 9, 9, None, "complete", False),
    ]
    sc = scorecard([ind], history=history)
    html = render_html(sc)
    row = html.split('id="MI04"')[1].split("</tr>")[0]
    assert re.search(r">\s*9\s*<", row) and ">c<" in row.replace(" ", "") and "12" in row
    wb = openpyxl.load_workbook(write_workbook(sc, tmp_path / "h.xlsx"))
    rows = [[c.value for c in r] for r in wb["Data"].iter_rows(min_row=2)]
    assert [r[0] for r in rows] == ["2023-24 Q1", "2023-24 Q4", "2024-25 Q1"]
    assert rows[1][3] == "c" and rows[1][4] == "c"
    assert rows[0][3] == 12 and rows[2][3] == 9
    summary = {r[0].value: [c.value for c in r] for r in wb["Summary"].iter_rows()}
    assert summary["MI04"][10] == "c" and summary["MI04"][12] == "c"  # previous quarter and its change
    assert summary["MI04"][11] == 12 and summary["MI04"][13] == -3


# --- RAG, exceptions and sentences ------------------------------------------------------------


def test_rag_has_word_and_symbol_not_colour_alone():
    sc = scorecard(
        [
            indicator(id="A1", rag="red"),
            indicator(id="A2", rag="amber"),
            indicator(id="A3", rag="green"),
            indicator(id="A4", rag="none", polarity="neutral", target=None, amber_edge=None),
        ]
    )
    html, text = render_html(sc), render_text(sc)
    for label in ("\u25cf Red", "\u25b2 Amber", "\u2713 Green", "\u2013 Not rated"):
        assert label in html and label in text
    row = html.split('id="A1"')[1].split("</tr>")[0]
    assert "background:#B10E1E" in row and "\u25cf Red" in row


def test_exceptions_are_the_ones_the_scorecard_flags():
    sc = mixed()
    assert sc.exceptions == ["DA04", "CS03", "AT02", "MI05"]
    assert [i for i, _ in exception_sentences(sc)] == ["DA04", "CS03", "AT02", "MI05"]
    # A red the build did not flag is not listed by any output: the flag is the decision.
    unflagged = replace(
        sc, indicators=tuple(replace(i, exception=False) if i.id == "AT02" else i for i in sc.indicators)
    )
    assert [i for i, _ in exception_sentences(unflagged)] == ["DA04", "CS03", "MI05"]
    assert (
        "3 exceptions" in render_html(unflagged)
        and "[EXCEPTION]" not in render_text(unflagged).split("AT02")[1].split("\n")[0]
    )


def test_exception_sentences_are_written_from_the_data():
    sentences = dict(exception_sentences(mixed()))
    assert sentences["CS03"] == (
        "Re-referrals within 12 months rose to 25.7%, above the 22% target and outside tolerance; "
        "seven months in a row above average."
    )
    assert sentences["DA04"] == (
        "Schools notified within 24 hours (Operation Encompass) fell to 93.5%, below the 95% target but "
        "within tolerance; the latest month is below the lower limit, seven months in a row below "
        "average and nine months falling in a row."
    )
    assert sentences["AT02"].startswith(
        "Overall absence, secondary rose to 10.0%, above the 8% target and outside tolerance;"
    )
    assert "common cause" in sentences["AT02"] and "will not be met consistently" in sentences["AT02"]
    assert sentences["MI05"].startswith("Return interviews within 72 hours came in below the 80% target")


def test_spc_signal_wording_names_the_rule_its_side_and_length():
    assert signal_words(Signal("outside", "high", 1)) == "the latest month is above the upper limit"
    assert signal_words(Signal("outside", "low", 1)) == "the latest month is below the lower limit"
    assert signal_words(Signal("shift", "high", 6)) == "six months in a row above average"
    assert signal_words(Signal("shift", "low", 9)) == "nine months in a row below average"
    assert signal_words(Signal("trend", "high", 6)) == "six months rising in a row"
    assert signal_words(Signal("trend", "low", 24)) == "24 months falling in a row"
    assert signal_words(Signal("two_of_three", "high", 2)) == "two of the last three months close to the upper limit"
    assert signal_words(Signal("two_of_three", "low", 3)) == "three of the last three months close to the lower limit"
    near = indicator(spc=spc("special_cause_concern", signals=[Signal("two_of_three", "high", 2)]))
    assert spc_signals(near) == ["two of the last three months close to the upper limit"]


def test_a_conflict_names_both_sides():
    # Rules of both sides on the latest month of a red "up" indicator: shown as improvement.
    both = indicator(
        value=25.7142857,
        target=30.0,
        tolerance=3.0,
        rag="red",
        movement="up",
        polarity="up",
        exception=True,
        spc=spc(
            "special_cause_improvement",
            conflict=True,
            signals=[Signal("shift", "high", 6), Signal("trend", "low", 7)],
        ),
    )
    assert exception_sentences(scorecard([both]))[0][1].endswith(
        "; the monthly figures signal both ways, shown as special cause improvement (six months in a row "
        "above average) although seven months falling in a row."
    )


def test_summary_counts_returns_and_ratings():
    html, text = render_html(mixed()), render_text(mixed())
    for out in (html, text):
        assert "Returns: 3 of 4 received; missing: Missing from home or care episodes" in out
        assert "Ratings: 3 red, 1 amber, 1 green, 2 not rated." in out
        assert "4 exceptions" in out
    # the exceptions come first: before the first priority section
    assert html.index("Re-referrals within 12 months rose to") < html.index("Domestic abuse and its impact on children")


def test_sections_follow_the_scorecards_priority_order_and_missing_values_say_why():
    html = render_html(mixed())
    order = [html.index(p) for p in PRIORITIES]
    assert order == sorted(order)
    reordered = render_html(replace(mixed(), priorities=tuple(reversed(PRIORITIES))))
    order = [reordered.index(p) for p in PRIORITIES]
    assert order == sorted(order, reverse=True)
    row = html.split('id="AT01"')[1].split("</tr>")[0]
    assert "Missing return" in row and "\u2013 Not rated" in row


def test_direction_shows_the_builds_movement_and_judgement():
    html = render_html(mixed())
    cell = lambda i: html.split(f'id="{i}"')[1].split("</tr>")[0]  # noqa: E731
    assert "\u2193 Worsening" in cell("DA04")  # fell, for an up indicator
    assert "\u2191 Worsening" in cell("CS03")
    assert "\u2191 Up" in cell("DA01")  # neutral: the movement, no judgement
    assert "\u2013 No comparison" in cell("AT01")


def test_subject_counts_exceptions():
    assert subject_for(mixed()) == "LSCP performance scorecard 2024-25 Q1: 4 exceptions"
    assert subject_for(scorecard([cs03()])) == "LSCP performance scorecard 2024-25 Q1: 1 exception"
    assert subject_for(scorecard([])) == "LSCP performance scorecard 2024-25 Q1: 0 exceptions"


# --- HTML safety ----------------------------------------------------------------------------


def test_html_is_email_safe():
    html = render_html(mixed(), charts={"CS03": "charts/CS03.png", "DA04": "cid:chart-DA04@x"})
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html.lower() and "@import" not in html
    assert "url(" not in html
    # One <style> block, in the head: class rules and the narrow-screen media query, written once
    # (not repeated per cell); the badge colours stay inline for clients that drop it.
    head, body = html.split("</head>")
    assert html.count("<style") == 1 and "<style>" in head and "@media screen and (max-width:599px)" in head
    assert "<style" not in body
    assert 'class="b" style="background:#B10E1E;color:#FFFFFF;">\u25cf Red</span>' in body
    # each exception's chart twice: its card in the Exceptions block, then its row in its section
    assert re.findall(r'src="([^"]*)"', html) == [
        "cid:chart-DA04@x",
        "charts/CS03.png",
        "cid:chart-DA04@x",
        "charts/CS03.png",
    ]
    assert 'alt="SPC chart of Re-referrals within 12 months' in html
    assert "<table" in html and 'role="presentation"' in html


def test_html_escapes_partner_text():
    sc = scorecard([indicator(name="<img src=x onerror=alert(1)>", benchmarks=(Benchmark("england", "<b>", 1.0),))])
    html = render_html(sc)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;" in html


# --- charts ---------------------------------------------------------------------------------


def test_charts_are_png_sparklines_for_indicators_with_a_series():
    from PIL import Image

    sc = mixed()
    charts = render_charts(sc)
    assert set(charts) == {"DA01", "DA04", "CS03", "CS05", "AT02", "AT01"}  # MI05 has no series
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in charts.values())
    assert Image.open(io.BytesIO(charts["CS03"])).size == (320, 96)
    assert render_charts(sc)["CS03"] == charts["CS03"]  # deterministic bytes

    def has(png, rgb):
        pixels = Image.open(io.BytesIO(png)).convert("RGB").getdata()
        return any(all(abs(a - b) < 12 for a, b in zip(p, rgb)) for p in pixels)

    orange, blue = (0xED, 0x8B, 0x00), (0x00, 0x5E, 0xB8)  # NHS England's Making Data Count colours
    # special-cause points are coloured by the build's judgement of them
    assert has(charts["CS03"], orange) and not has(charts["CS03"], blue)
    good = replace(
        sc.indicator("CS03"),
        spc=replace(
            sc.indicator("CS03").spc, series=series(RUN_OF_SEVEN, special=range(17, 24), judgement="improvement")
        ),
    )
    png = render_charts(scorecard([good]))["CS03"]
    assert has(png, blue) and not has(png, orange)


# --- Excel ----------------------------------------------------------------------------------


def test_workbook_sheets_panes_formats_and_conditional_formatting(tmp_path):
    path = write_workbook(mixed(), tmp_path / "out" / "scorecard.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Exceptions", "Summary", "Monthly", "Indicator charts", "Definitions", "Data", "Charts"]
    ws = wb["Summary"]
    assert ws["A1"].value == "LSCP performance scorecard 2024-25 Q1"
    assert "generated 15 July 2024 at 06:00" in ws["A2"].value
    assert ws.freeze_panes == "D7"
    assert wb["Data"].freeze_panes == "A2" and wb["Definitions"].freeze_panes == "C2"
    assert [c.value for c in ws[6]][:5] == ["ID", "Indicator", "Exception", "OBA question", "Value"]
    assert ws.column_dimensions["B"].width >= 30
    rules = [(str(cf.sqref), r) for cf in ws.conditional_formatting for r in cf.rules]
    assert len(rules) == 4 and all(ref.startswith("J7:J") for ref, _ in rules)
    formulas = " ".join(r.formula[0] for _, r in rules)
    for label in ("\u25cf Red", "\u25b2 Amber", "\u2713 Green", "\u2013 Not rated"):
        assert label in formulas
    red = next(r for _, r in rules if "Red" in r.formula[0])
    assert red.dxf.fill.fgColor.rgb.endswith("B10E1E") or red.dxf.fill.bgColor.rgb.endswith("B10E1E")
    rows = {row[0].value: row for row in ws.iter_rows(min_row=7)}
    cs03_row = rows["CS03"]
    assert cs03_row[2].value == "Yes" and rows["DA01"][2].value is None  # the Exception mark
    assert cs03_row[4].value == 25.7 and cs03_row[4].number_format == '#,##0.0"%"'
    assert cs03_row[9].value == "\u25cf Red"
    assert cs03_row[18].value.startswith("Re-referrals within 12 months rose to 25.7%")
    assert cs03_row[19].value == "Commentary awaited"
    assert rows["DA01"][4].value == 5460 and rows["DA01"][4].number_format == "#,##0"
    assert rows["AT01"][4].value == "Missing return"
    definitions = {row[0].value: [c.value for c in row] for row in wb["Definitions"].iter_rows(min_row=2)}
    assert list(definitions) == [i.id for i in mixed().indicators]
    assert definitions["CS03"][2:4] == ["a test definition in plain words", "a test definition"]
    assert definitions["CS03"][8] == "Lower is better" and definitions["CS03"][9] == 22
    assert definitions["CS03"][11] == "Children's social work referrals (csws_referrals)"
    assert rows["CS03"][15].value == "England 22.4%"


def test_workbook_never_contains_a_formula(tmp_path):
    nasty = indicator(
        id="X99",
        name='=HYPERLINK("http://evil.invalid","click")',
        definition="+cmd|' /C calc'!A0",
        source="@SUM(A1:A9)",
        source_title="@SUM(A1:A9)",
        oba="-1+2",
        benchmarks=(Benchmark("england", "-1+2", 5.0), Benchmark("region", "=1+1", 6.0)),
        value=-2.5,
        previous=earlier(0.5, -3.0),
        polarity="neutral",
        target=None,
        tolerance=None,
        amber_edge=None,
        rag="none",
        direction="not_applicable",
        movement="down",
    )
    sc = scorecard(
        [nasty],
        returns=[Return("=cmd()", "received", 3, "=cmd()", "+agency")],
        history=[HistoryRow("2024-25Q1", "=1+1", "X99", -1.0, 1, 2, "complete", False)],
    )
    path = write_workbook(sc, tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path)
    strings = text_cells(wb, ("=", "+", "-", "@"))
    assert '\'=HYPERLINK("http://evil.invalid","click")' in strings
    assert "'+cmd|' /C calc'!A0" in strings and "'=1+1" in strings and "'=cmd() (+agency)" in strings
    assert any(s.startswith("'-1+2 5.0") for s in strings)  # the benchmarks cell
    summary = {row[0].value: row for row in wb["Summary"].iter_rows()}
    assert summary["X99"][4].value == -2.5 and summary["X99"][4].data_type == "n"  # numbers stay numbers
    assert summary["X99"][12].value == -3.0 and summary["X99"][12].data_type == "n"


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
    msg = build_scorecard_email(
        sc,
        sender="scorecard@lscp.invalid",
        recipients=["pmsg@lscp.invalid", "chair@lscp.invalid"],
        workbook=workbook,
        charts=charts,
    )
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
    icons = icons_used(sc)
    # one part per sparkline, and one per distinct SPC icon however many rows show it
    assert len(images) == len(charts) + len(icons)
    # DA01 neutral high; DA04 (up) concern low, CS03 (down) concern high, CS05 (down) improvement
    # low; AT02 and MI05 common cause; AT01 too few months (no icon); DA04, CS03, CS05 and MI05
    # hit and miss, AT02 fail
    assert set(icons) == {
        "variation-neutral-high",
        "variation-concern-low",
        "variation-concern-high",
        "variation-improvement-low",
        "variation-common-cause",
        "assurance-hit-and-miss",
        "assurance-fail",
    }
    referenced = re.findall(r'src="cid:([^"]+)"', html)
    cids = {}
    for img in images:
        assert img.get_content_type() == "image/png"
        assert img.get_content_disposition() == "inline"
        assert img.get_content().startswith(b"\x89PNG")
        cids[img["Content-ID"].strip("<>")] = img.get_filename()
    assert set(cids) == set(referenced) and len(cids) == len(charts) + len(icons)  # all used, all there
    by_file = {name: cid for cid, name in cids.items()}
    # one attachment, referenced by every row that shows it
    assert referenced.count(by_file["variation-common-cause.png"]) == 2  # AT02, MI05
    assert referenced.count(by_file["assurance-hit-and-miss.png"]) == 4
    assert 'alt="Variation icon: orange, H"' in html
    assert ">Special cause concern: high</span>" in html and ">Fails the target consistently</span>" in html
    assert len(html.encode()) < 100_000  # the HTML part stays small: icons are references, not copies
    assert "http://" not in html and "https://" not in html
    assert attachment.get_content_type() == XLSX
    assert attachment.get_filename() == "LSCP-scorecard-2024-25Q1.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    assert wb.sheetnames[:2] == ["Exceptions", "Summary"]  # the full order: test_workbook.py


def test_email_needs_recipients(tmp_path):
    workbook = write_workbook(mixed(), tmp_path / "s.xlsx")
    with pytest.raises(ValueError, match="recipient"):
        build_scorecard_email(mixed(), sender="a@b.invalid", recipients=[], workbook=workbook, charts={})


def test_outputs_cope_with_an_empty_quarter(tmp_path):
    sc = scorecard([], returns=[])
    assert "No exceptions" in render_html(sc)
    assert "No exceptions" in render_text(sc)
    assert render_charts(sc) == {}
    wb = openpyxl.load_workbook(write_workbook(sc, tmp_path / "e.xlsx"))
    assert wb.sheetnames == ["Exceptions", "Summary", "Monthly", "Indicator charts", "Definitions", "Data", "Charts"]
    assert wb["Exceptions"]["A5"].value == "No exceptions: no indicator is red or showing special cause concern."
    assert wb["Monthly"].max_row == 1 and not wb["Indicator charts"]._charts


# --- plain English, benchmarks, commentary and the exceptions first (issue 19) ------------------


def test_html_and_text_show_the_plain_definition_not_the_technical_one():
    sc = scorecard(
        [
            indicator(
                definition="Referrals with outcome nfa, of those where outcome is known.",
                plain_definition="Of the referrals with a known outcome, the share that ended with no further action.",
            )
        ]
    )
    html, text = render_html(sc), render_text(sc)
    for out in (html, text):
        assert "the share that ended with no further action" in out
        assert "outcome nfa" not in out  # the technical one stays in the JSON and the workbook
    row = html.split('id="X01"')[1].split("</tr>")[0]
    assert "the share that ended with no further action" in row  # where the reader looks
    definitions = html.split(">Definitions</h2>")[1]
    assert "the share that ended with no further action" in definitions and "csws_referrals" not in definitions


def test_every_shipped_indicator_has_a_plain_definition_without_column_names():
    for ind in load_catalogue():
        assert ind.plain_definition and ind.plain_definition != ind.definition, ind.id
        assert not re.search(r"\b[a-z]+_[a-z_]+\b|\b(true|false|nfa)\b", ind.plain_definition), ind.id
        assert ind.plain_definition.endswith(".") and ind.plain_definition[0].isupper(), ind.id


def test_benchmarks_column_only_when_a_comparator_has_a_value_and_names_the_year():
    html = render_html(scorecard([indicator(), indicator(id="X02")]))
    assert ">Benchmarks" not in html and "none loaded" not in html
    assert "none loaded" not in render_text(scorecard([indicator()]))
    same_year = scorecard(
        [
            indicator(
                benchmarks=(
                    Benchmark("england", "England", 22.4, "2024-25"),
                    Benchmark("region", "Region", 21.0, "2024-25"),
                )
            ),
            indicator(id="X02"),
        ]
    )
    html = render_html(same_year)
    assert html.count('<th scope="col"') - html.count(">Definitions") > 0
    assert ">Benchmarks, 2024-25</th>" in html  # one year: named once, in the heading
    row = html.split('id="X01"')[1].split("</tr>")[0]
    assert "England: 22.4%" in row and "Region: 21.0%" in row
    other = html.split('id="X02"')[1].split("</tr>")[0]
    assert "England" not in other and "none loaded" not in other  # a blank cell, not "none loaded"
    assert "Benchmarks: England, 2024-25: 22.4%; Region, 2024-25: 21.0%" in render_text(same_year)
    mixed_years = render_html(
        scorecard(
            [
                indicator(
                    benchmarks=(
                        Benchmark("england", "England", 22.4, "2024-25"),
                        Benchmark("statistical_neighbours", "Statistical neighbours", 21.2, "2023-24"),
                    )
                )
            ]
        )
    )
    assert ">Benchmarks</th>" in mixed_years
    assert "England, 2024-25: 22.4%" in mixed_years and "Statistical neighbours, 2023-24: 21.2%" in mixed_years


def test_every_sections_table_has_the_same_column_plan():
    html = render_html(mixed())
    sections = [s.split("</table>")[0] for s in html.split('<table class="t st"')[1:]][:3]
    plans = [re.findall(r'<col width="(\d+)%">', s) for s in sections]
    assert len(plans) == 3 and plans[0] == plans[1] == plans[2] and sum(map(int, plans[0])) == 100
    assert int(plans[0][0]) == max(map(int, plans[0]))  # the indicator column: the widest
    assert len(plans[0]) == 9  # CS03 has an England benchmark: the benchmarks column is in the plan


def test_commentary_under_its_indicator_and_awaited_for_an_exception_without_it():
    from datetime import datetime

    from pipelines.model import Commentary

    written = Commentary(
        "Re-referrals rose after the <front door> restructure; a multi-agency audit reports in September.",
        "Sam Lead (Head of Service)",
        datetime(2024, 7, 10, 14, 30),
    )
    sc = mixed()
    sc = replace(
        sc,
        indicators=tuple(
            replace(i, commentary=written)
            if i.id == "CS03"
            else replace(i, commentary=Commentary("Steady.", "Ann Officer", datetime(2024, 7, 9)))
            if i.id == "CS05"
            else i
            for i in sc.indicators
        ),
    )
    assert sc.indicator("CS03").commentary_awaited is False and sc.indicator("DA04").commentary_awaited is True
    html, text = render_html(sc), render_text(sc)
    card = html.split('id="x-CS03"')[1].split('class="ex"')[0]
    assert "a multi-agency audit reports in September" in card and "&lt;front door&gt;" in card
    assert "Sam Lead (Head of Service), 10 July 2024" in card and "Commentary awaited" not in card
    for awaited in ("DA04", "AT02", "MI05"):
        assert "Commentary awaited" in html.split(f'id="x-{awaited}"')[1].split('class="ex"')[0]
        assert f'href="#x-{awaited}">Commentary awaited' in html.split(f'id="{awaited}"')[1].split("</tr>")[0]
    # a non-exception's commentary shows under it, in its row
    row = html.split('id="CS05"')[1].split("</tr>")[0]
    assert "Steady." in row and "Ann Officer, 9 July 2024" in row
    assert "Commentary (Sam Lead (Head of Service), 10 July 2024): Re-referrals rose" in text
    assert text.count("Commentary awaited from the lead officer.") == 3
    assert "Commentary (Ann Officer, 9 July 2024): Steady." in text


def test_exceptions_come_first_with_chart_commentary_and_what_to_look_at():
    html = render_html(mixed(), charts={"CS03": "charts/CS03.png", "DA04": "charts/DA04.png"})
    block = html.split('id="exceptions"')[1].split("</td></tr>")[0]
    assert re.findall(r'<div class="ex" id="x-([^"]+)">', block) == ["DA04", "CS03", "AT02", "MI05"]
    assert html.index('id="exceptions"') < html.index("Domestic abuse and its impact on children</h2>")
    cs03 = block.split('id="x-CS03"')[1].split('class="ex"')[0]
    assert '<img class="ch" src="charts/CS03.png" width="320" height="96"' in cs03
    assert (
        "What to look at:</strong> The orange points at the right of the chart (seven months in a row above average)"
        in cs03
    )
    assert "the gap to the 22% target (the dotted red line)" in cs03
    # within a section, its exceptions first (then the catalogue's order), named at its top
    first = html.split("Domestic abuse and its impact on children</h2>")[1].split("</table>")[0]
    assert re.findall(r'<tr id="([^"]+)">', first) == ["DA04", "DA01"]
    assert 'Exception in this section, first below: <a href="#DA04">' in first
    second = html.split("Identification and assessment of need</h2>")[1].split("</table>")[0]
    assert re.findall(r'<tr id="([^"]+)">', second) == ["CS03", "CS05"]


def test_chart_text_alternative_says_what_the_chart_shows_and_no_values_when_disclosive():
    sc = mixed()
    html = render_html(sc, charts={i.id: f"charts/{i.id}.png" for i in sc.indicators})
    alts = dict(re.findall(r'<tr id="([^"]+)">.*?alt="(SPC chart[^"]*)"', html, re.S))
    assert alts["DA01"] == (
        "SPC chart of Domestic incidents reported to police, 24 monthly points from Jul 2022 to Jun 2024; "
        "the latest month is above the upper limit (1,950; mean 1,700, limits 1,500 to 1,900); "
        "Special cause: unusually high: the latest month is above the upper limit."
    )
    assert alts["AT02"].startswith("SPC chart of Overall absence, secondary, 24 monthly points")
    assert (
        "the latest month is below the mean, within the limits (9.7%; mean 9.9%, limits 9.0% to 10.8%)" in alts["AT02"]
    )
    assert "target 8% (dotted red line); Common cause: no significant change." in alts["AT02"]
    # CS03 is disclosive: where the latest month sits and the signal, never a value
    assert alts["CS03"] == (
        "SPC chart of Re-referrals within 12 months, 24 monthly points from Jul 2022 to Jun 2024; the latest "
        "month is above the mean, within the limits; target 22% (dotted red line); Special cause: concern: "
        "seven months in a row above average; no values given, as the chart is about identifiable children."
    )
    assert not re.search(r"\d+\.\d", alts["CS03"])
    assert "MI05" not in alts  # no monthly figures: no chart, no alt


def test_an_indicator_page_shows_its_plain_definition_commentary_and_what_to_look_at(tmp_path):
    from pipelines.render import write_indicator_pages

    sc = mixed()
    pages = write_indicator_pages(sc, tmp_path, icons={}, charts={})
    page = (tmp_path / pages["CS03"]).read_text(encoding="utf-8")
    assert "a test definition" in page and "Commentary awaited" in page
    assert "What to look at:</strong> The orange points at the right of the chart" in page
    assert "Commentary" not in (tmp_path / pages["CS05"]).read_text(encoding="utf-8")  # not an exception


def test_the_json_carries_the_plain_definition_beside_the_technical_one():
    import json

    from pipelines.contract import check_contract, schema_path

    sc = scorecard([indicator(id="CS03", plain_definition="The share of referrals for a child referred before.")])
    contract = sc.contract()
    check_contract(contract)  # the published schema: a text of at least one character
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    assert "plain_definition" in json.dumps(schema)
    [ind] = contract["indicators"]
    assert ind["definition"] == "a test definition"
    assert ind["plain_definition"] == "The share of referrals for a child referred before."
    assert list(ind)[list(ind).index("definition") + 1] == "plain_definition"


def test_commentary_date_is_the_uk_date_it_was_written():
    from datetime import datetime

    from pipelines.model import Commentary

    late = Commentary("Line one.\nLine two.", "Sam Lead", datetime(2024, 7, 10, 23, 30))  # naive UTC: 00:30 BST
    html = render_html(replace(scorecard([cs03()]), indicators=(replace(cs03(), commentary=late),)))
    card = html.split('id="x-CS03"')[1]
    assert "Sam Lead, 11 July 2024" in card and "Line one.\nLine two." in card
