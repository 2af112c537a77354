"""The Excel workbook attached to the scorecard email, for the board to read and the analyst to
work in. Its sheets, in order (``SHEETS``):

- **Exceptions**: each exception with its rating, SPC signal in words, its sentence and the lead
  officer's commentary (or "Commentary awaited"), then a native Excel chart of each;
- **Summary**: laid out like the HTML, an Exception column next to the names;
- **Monthly**: every indicator's SPC series, a row per month (value, mean, limits, target, the
  rules that hold for the point and its signal), the ranges the charts draw;
- **Indicator charts**: a native line chart per indicator (value, mean, limits, target as series
  referencing the Monthly sheet's rows of that indicator; special cause points coloured);
- **Definitions**: each definition in plain English, then the technical one, and the catalogue;
- **Data**: every indicator's quarterly history;
- **Charts**: each indicator's Making Data Count chart as a picture (as in the archive), with its
  SPC icons' meaning in words (the only chart of a disclosive indicator: drawn without numbers).

Every sheet prints landscape, fitted to the page's width, with its header rows repeated and its
header frozen.

A disclosive indicator's monthly numbers are not written (the Monthly sheet says so and no native
chart is drawn for it): small monthly counts could identify children, and the quarter less the
months shown would give away a month shown as ``c``. Its picture on the Charts sheet has no axis
numbers, as the archive's.

Formula injection: partner and analyst text (names, benchmark labels, sources) could begin with
``=``, ``+``, ``-`` or ``@`` and would then run as a formula when a board member opens the
file. Every text cell goes through :func:`safe_text`, which prefixes such text with a single
quote ``'`` (visible, unambiguous, and kept if the sheet is saved as CSV), and is written with
data type string. Numbers are written as numbers, so they never need the guard. No cell holds a
formula (the RAG fills are conditional formatting rules, not cells).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference, Series
from openpyxl.chart.marker import DataPoint, Marker
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.drawing.line import LineProperties
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..catalogue import Unit
from ..model import IndicatorResult, Scorecard
from ..xlsx import safe_text
from .charts import (
    CHART_HEIGHT_IN,
    CHART_WIDTH_IN,
    COMMON,
    LIMIT,
    LINE,
    MEAN,
    POINT_COLOURS,
    POINT_WORDS,
    TARGET,
    WORKBOOK_DPI,
    axis_label,
    render_full_charts,
)
from .formatting import SUPPRESSED
from .labels import POLARITY_WORDS, RAG, RAG_FILLS, RAG_FONTS, data_status_word
from .view import IndicatorView, ScorecardView, build_view

HEADER_FILL = PatternFill("solid", start_color="DEE0E2", end_color="DEE0E2")
SECTION_FILL = PatternFill("solid", start_color="D2E2F1", end_color="D2E2F1")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
RULE = Border(bottom=Side(style="thin", color="0B0C0C"))
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
RIGHT = Alignment(horizontal="right", vertical="top")

SHEETS = ("Exceptions", "Summary", "Monthly", "Indicator charts", "Definitions", "Data", "Charts")
UK_TIME = ZoneInfo("Europe/London")
COMMENTARY_AWAITED = "Commentary awaited"
DISCLOSIVE_CHART = (
    "A disclosive indicator: its monthly numbers are not in this workbook, so its chart is a picture without them."
)
DISCLOSIVE_CHART_ELSEWHERE = (
    "A disclosive indicator: its monthly numbers are not in this workbook; its picture on the Charts sheet has none."
)
NOT_SHOWN = "Numbers not shown: a disclosive indicator (its picture on the Charts sheet has no axis numbers)"

EXCEPTION_COLUMNS = (
    ("ID", 7),
    ("Indicator", 30),
    ("Rating", 12),
    ("SPC signal", 22),
    ("Target assurance", 20),
    ("Exception", 45),
    ("Commentary", 50),
    ("Commentary by", 18),
    ("Written (UK time)", 15),
)
SUMMARY_COLUMNS = (
    ("ID", 7),
    ("Indicator", 36),
    ("Exception", 10),
    ("OBA question", 20),
    ("Value", 12),
    ("Numerator", 11),
    ("Denominator", 12),
    ("Target", 10),
    ("Tolerance", 10),
    ("RAG", 13),
    ("Previous quarter", 12),
    ("Same quarter last year", 12),
    ("Change on previous quarter", 13),
    ("Change on same quarter last year", 13),
    ("Direction of travel", 16),
    ("Benchmarks", 24),
    ("SPC variation", 28),
    ("SPC assurance", 24),
    ("Exception sentence", 60),
    ("Commentary", 60),
)
SUMMARY_RAG_COLUMN = 10
MONTHLY_COLUMNS = (
    ("ID", 7),
    ("Indicator", 36),
    ("Month", 10),
    ("Value", 11),
    ("Mean", 11),
    ("Lower limit", 11),
    ("Upper limit", 11),
    ("Target", 10),
    ("Rules", 30),
    ("Signal", 26),
    ("Note", 40),
)
DATA_COLUMNS = (
    ("Quarter", 11),
    ("ID", 7),
    ("Indicator", 40),
    ("Value", 12),
    ("Numerator", 11),
    ("Denominator", 12),
    ("Data status", 15),
)
DEFINITION_COLUMNS = (
    ("ID", 7),
    ("Indicator", 36),
    ("Definition", 60),
    ("Technical definition", 60),
    ("Priority", 30),
    ("OBA question", 22),
    ("Unit", 11),
    ("Decimals", 9),
    ("Polarity", 18),
    ("Target", 9),
    ("Tolerance", 10),
    ("Source", 34),
    ("Disclosive", 10),
)
RULE_WORDS = (
    ("outside_high / outside_low", "the month is above the upper limit / below the lower limit"),
    ("shift_high / shift_low", "one of a run of months all above / all below the mean"),
    ("trend_high / trend_low", "one of a run of months each higher / each lower than the one before"),
    ("two_of_three_high / _low", "two of three months in a row close to the upper / lower limit"),
)
JUDGEMENT_WORDS = {judgement: POINT_WORDS[colour] for judgement, colour in POINT_COLOURS.items()}

# The chart picture, in pixels as Excel shows it, and the rows it covers (default rows are 20
# pixels high).
CHART_PX = (round(CHART_WIDTH_IN * WORKBOOK_DPI), round(CHART_HEIGHT_IN * WORKBOOK_DPI))
CHART_ROWS = CHART_PX[1] // 20 + 1
# A native chart's size (cm) and the rows it covers (default rows are 0.53 cm high).
NATIVE_CHART_CM = (24.0, 9.0)
NATIVE_CHART_ROWS = 18


def put(
    ws: Worksheet,
    row: int,
    column: int,
    value: Any,
    *,
    number_format: str | None = None,
    font: Font | None = None,
    alignment: Alignment | None = None,
    fill: PatternFill | None = None,
) -> Any:
    """Write one cell: numbers and dates as such, everything else as guarded text of type string."""
    cell = ws.cell(row=row, column=column)
    if value is None:
        pass
    elif isinstance(value, (int, float, datetime, date)) and not isinstance(value, bool):
        cell.value = value
        if number_format:
            cell.number_format = number_format
    else:
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        cell.value = safe_text(value)
        cell.data_type = "s"
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    if fill:
        cell.fill = fill
    return cell


def _quoted(words: str) -> str:
    """Unit words as a literal in a number format (the catalogue allows no double quote)."""
    return f'"{words}"' if words else ""


def number_format(unit: Unit | None, decimals: int) -> str:
    """Show the decimals and the unit while the cell keeps a plain number."""
    base = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return base + (_quoted(unit.after_value) if unit else "")


def change_format(unit: Unit, decimals: int) -> str:
    """Signed changes, with the unit's change words (a percentage changes by points)."""
    base = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    suffix = _quoted(unit.after_change)
    return f"+{base}{suffix};-{base}{suffix};{base}{suffix}"


def write_workbook(scorecard: Scorecard, path: Path, *, charts: Mapping[str, bytes] | None = None) -> Path:
    """Write the workbook's sheets (``SHEETS``, module docstring); ``charts``: indicator id ->
    full chart PNG at the workbook's size (``FullChart.workbook``), drawn here when not given."""
    view = build_view(scorecard)
    if charts is None:
        charts = {i: chart.workbook for i, chart in render_full_charts(scorecard).items()}
    wb = Workbook()
    wb.properties.creator = "LSCP performance scorecard"
    wb.properties.title = view.title
    exceptions = wb.active
    exceptions.title = "Exceptions"
    summary = wb.create_sheet("Summary")
    monthly = wb.create_sheet("Monthly")
    blocks = _monthly_sheet(monthly, scorecard)
    _exceptions_sheet(exceptions, scorecard, view, monthly, blocks, charts)
    _summary_sheet(summary, scorecard, view)
    _indicator_charts_sheet(wb.create_sheet("Indicator charts"), scorecard, view, monthly, blocks)
    _definitions_sheet(wb.create_sheet("Definitions"), scorecard, view)
    _data_sheet(wb.create_sheet("Data"), scorecard, view)
    _charts_sheet(wb.create_sheet("Charts"), view, charts)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _header(ws: Worksheet, row: int, columns: Sequence[tuple[str, int]]) -> None:
    for col, (title, width) in enumerate(columns, start=1):
        put(ws, row, col, title, font=BOLD, fill=HEADER_FILL, alignment=Alignment(wrap_text=True, vertical="bottom"))
        ws.cell(row=row, column=col).border = RULE
        ws.column_dimensions[get_column_letter(col)].width = width


def row_height(values: Sequence[Any], columns: Sequence[tuple[str, int]]) -> float:
    """Points for a row whose wrapped text fits its columns (not every program sizes rows of
    wrapped text itself): 15 points a line, a line about 1.1 characters per unit of width."""
    lines = [
        math.ceil(len(value) / (width * 1.1))
        for value, (_, width) in zip(values, columns)
        if isinstance(value, str) and value
    ]
    return 15.0 * max([1, *lines])


def _print_setup(ws: Worksheet, title_rows: str, freeze: str) -> None:
    """Landscape on A4, fitted to one page wide (as many pages long as it needs), the header rows
    repeated on every page and frozen on screen."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows
    ws.freeze_panes = freeze


def commentary_cells(ind: IndicatorResult) -> tuple[str | None, str | None, datetime | None]:
    """(text, author, when in UK time) of the indicator's commentary; "Commentary awaited" for an
    exception without one; nothing for any other indicator without one."""
    if ind.commentary is not None:
        written = ind.commentary.written_at.replace(tzinfo=UTC).astimezone(UK_TIME).replace(tzinfo=None)
        return ind.commentary.text, ind.commentary.author, written
    if ind.commentary_awaited:
        return COMMENTARY_AWAITED, None, None
    return None, None, None


def commentary_text(ind: IndicatorResult) -> str | None:
    """The commentary in one cell: ``text (author, 3 November 2026)``."""
    text, author, written = commentary_cells(ind)
    if author is None or written is None:
        return text
    return f"{text} ({author}, {written.day} {written:%B %Y})"


# --- Exceptions -----------------------------------------------------------------------------


def _exceptions_sheet(
    ws: Worksheet,
    scorecard: Scorecard,
    view: ScorecardView,
    monthly: Worksheet,
    blocks: Mapping[str, tuple[int, int]],
    pictures: Mapping[str, bytes],
) -> None:
    put(ws, 1, 1, f"Exceptions: {view.title}", font=TITLE)
    put(ws, 2, 1, view.summary_lines[-1] if view.summary_lines else "")
    header_row = 4
    _header(ws, header_row, EXCEPTION_COLUMNS)
    ws.row_dimensions[header_row].height = 30
    row = header_row + 1
    for ind in view.exceptions:
        result = scorecard.indicator(ind.id)
        text, author, written = commentary_cells(result)
        cells = [
            ind.id,
            ind.name,
            ind.rag_badge.label,
            ind.variation_icon.words if ind.variation_icon else "No SPC judgement",
            ind.assurance_icon.words if ind.assurance_icon else "No assurance (no target)",
            ind.sentence,
            text,
            author,
            written,
        ]
        for col, value in enumerate(cells, start=1):
            put(
                ws,
                row,
                col,
                value,
                number_format="d mmm yyyy hh:mm",
                alignment=WRAP if col in (2, 4, 5, 6, 7, 8) else TOP,
                font=BOLD if value == COMMENTARY_AWAITED else None,
            )
        ws.row_dimensions[row].height = row_height(cells, EXCEPTION_COLUMNS)
        row += 1
    if not view.exceptions:
        put(ws, row, 1, "No exceptions: no indicator is red or showing special cause concern.")
        row += 1
    # header rows only: a frozen column would tear the charts below the table when scrolling across
    _print_setup(ws, f"{header_row}:{header_row}", f"A{header_row + 1}")
    row += 1
    for ind in view.exceptions:
        row = _chart_block(ws, row, scorecard.indicator(ind.id), ind, monthly, blocks, pictures)


# --- Summary --------------------------------------------------------------------------------


def _summary_sheet(ws: Worksheet, scorecard: Scorecard, view: ScorecardView) -> None:
    put(ws, 1, 1, view.title, font=TITLE)
    put(
        ws,
        2,
        1,
        "; ".join(filter(None, [view.period_text, f"generated {view.generated_text}" if view.generated_text else ""])),
    )
    put(ws, 3, 1, view.summary_lines[0])
    put(
        ws,
        4,
        1,
        view.summary_lines[1]
        + f" Exceptions: {len(view.exceptions)} (marked in the Exception column; the Exceptions sheet has each "
        "with its commentary).",
    )
    header_row = 6
    _header(ws, header_row, SUMMARY_COLUMNS)
    ws.row_dimensions[header_row].height = 45
    row = header_row + 1
    first = row
    for priority, rows in view.sections:
        for col in range(1, len(SUMMARY_COLUMNS) + 1):
            ws.cell(row=row, column=col).fill = SECTION_FILL
        put(ws, row, 1, priority, font=BOLD)
        row += 1
        for ind in rows:
            _summary_row(ws, row, ind, scorecard.indicator(ind.id))
            row += 1
    last = row - 1
    rag_col = get_column_letter(SUMMARY_RAG_COLUMN)
    if last >= first:
        for code, badge in RAG.items():
            fill = PatternFill("solid", start_color=RAG_FILLS[code], end_color=RAG_FILLS[code])
            ws.conditional_formatting.add(
                f"{rag_col}{first}:{rag_col}{last}",
                FormulaRule(
                    formula=[f'${rag_col}{first}="{badge.label}"'],
                    fill=fill,
                    font=Font(color=RAG_FONTS[code], bold=True),
                    stopIfTrue=True,
                ),
            )
    # header rows, ID, name and the Exception mark stay put
    _print_setup(ws, f"{header_row}:{header_row}", ws.cell(row=header_row + 1, column=4).coordinate)

    row += 1
    put(ws, row, 1, "Returns received and missing", font=BOLD)
    row += 1
    for ret in view.returns:
        put(ws, row, 2, ret.title + (f" ({ret.agency})" if ret.agency else ""))
        put(ws, row, 3, ret.badge.label)
        put(ws, row, 4, ret.rows_text)
        row += 1
    row += 1
    put(ws, row, 1, "Notes", font=BOLD)
    if view.revision_notes:
        row += 1
        put(ws, row, 2, "Figures revised since they were published (late or corrected partner returns):")
        for note in view.revision_notes:
            row += 1
            put(ws, row, 2, note)
    put(ws, row + 1, 2, view.suppression_note)
    put(
        ws,
        row + 2,
        2,
        "RAG compares the value, rounded as shown, with the target; amber is within "
        "tolerance. Values are rounded half away from zero; the Data sheet holds them unrounded.",
    )


def _summary_row(ws: Worksheet, row: int, ind: IndicatorView, result: IndicatorResult) -> None:
    fmt = number_format(ind.unit, ind.decimals)
    chg = change_format(ind.unit, ind.decimals)
    count_fmt = "#,##0"

    def shown(number: float | int | None, text: str, style: str = fmt) -> tuple[Any, str]:
        return number if number is not None else (text if text not in ("n/a", "") else None), style

    cells = [
        (ind.id, None),
        (ind.name, None),
        ("Yes" if ind.is_exception else None, None),
        (ind.oba, None),
        shown(ind.value_number, ind.value_text),
        shown(ind.numerator_number, ind.numerator_text, count_fmt),
        shown(ind.denominator_number, ind.denominator_text, count_fmt),
        (ind.target_number, fmt),
        (ind.tolerance_number, number_format(None, ind.decimals)),
        (ind.rag_badge.label, None),
        shown(ind.previous_number, ind.previous_text),
        shown(ind.last_year_number, ind.last_year_text),
        shown(ind.change_previous_number, ind.change_previous_text, chg),
        shown(ind.change_last_year_number, ind.change_last_year_text, chg),
        (ind.direction_text, None),
        (ind.benchmarks_text, None),
        (ind.variation_icon.words if ind.variation_icon else None, None),
        (ind.assurance_icon.words if ind.assurance_icon else None, None),
        (ind.sentence, None),
        (commentary_text(result), None),
    ]
    for col, (value, style) in enumerate(cells, start=1):
        numeric_col = 5 <= col <= 14 and col != SUMMARY_RAG_COLUMN
        align = RIGHT if numeric_col else (WRAP if col in (2, 16, 19, 20) else TOP)
        put(ws, row, col, value, number_format=style, alignment=align, font=BOLD if col == 3 else None)


# --- Monthly and the native charts ----------------------------------------------------------


def _month(code: str) -> date:
    year, month = code.split("-")
    return date(int(year), int(month), 1)


def _monthly_sheet(ws: Worksheet, scorecard: Scorecard) -> dict[str, tuple[int, int]]:
    """A row per month of each indicator's series, in the scorecard's order, oldest month first;
    returns indicator id -> (first row, last row) of its months, for the charts."""
    _header(ws, 1, MONTHLY_COLUMNS)
    blocks: dict[str, tuple[int, int]] = {}
    row = 2
    for ind in scorecard.indicators:
        if not ind.spc.series:
            continue
        first = row
        fmt = number_format(ind.unit, ind.decimals)
        for point in ind.spc.series:
            put(ws, row, 1, ind.id)
            put(ws, row, 2, ind.name)
            put(ws, row, 3, _month(point.month), number_format="mmm yyyy", alignment=TOP)
            if ind.disclosive:
                put(ws, row, 11, NOT_SHOWN)
            else:
                for col, number in enumerate(
                    (point.value, point.mean, point.lower_limit, point.upper_limit, ind.target), start=4
                ):
                    put(ws, row, col, number, number_format=fmt, alignment=RIGHT)
            put(ws, row, 9, ", ".join(point.rules) if point.rules else None)
            put(ws, row, 10, JUDGEMENT_WORDS.get(point.judgement or "", "Common cause"))
            row += 1
        blocks[ind.id] = (first, row - 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(MONTHLY_COLUMNS))}{max(row - 1, 1)}"
    _print_setup(ws, "1:1", "D2")
    return blocks


def _line_series(
    monthly: Worksheet, column: int, rows: tuple[int, int], title: str, colour: str, *, dash: str | None = None
) -> Series:
    series = Series(Reference(monthly, min_col=column, min_row=rows[0], max_row=rows[1]), title=title)
    series.graphicalProperties.line = LineProperties(solidFill=colour.lstrip("#"), w=19050, prstDash=dash)
    series.marker = Marker(symbol="none")
    series.smooth = False
    return series


def _y_range(ind: IndicatorResult) -> tuple[float, float]:
    """The y axis from a little below the lowest line or point to a little above the highest (not
    from zero, which would flatten the variation the chart is for); never below zero for figures
    that cannot be negative."""
    numbers = [
        float(n) for p in ind.spc.series for n in (p.value, p.mean, p.lower_limit, p.upper_limit) if n is not None
    ]
    if ind.target is not None:
        numbers.append(float(ind.target))
    low, high = min(numbers), max(numbers)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    step = 10 ** math.floor(math.log10(high - low + 2 * pad)) / 5  # round ends: 4 to 22, not 5.74 to 20.86
    bottom = math.floor((low - pad) / step) * step
    if low >= 0 > bottom:
        bottom = 0.0
    return round(bottom, 6), round(math.ceil((high + pad) / step) * step, 6)


def native_chart(ind: IndicatorResult, monthly: Worksheet, rows: tuple[int, int]) -> LineChart:
    """The indicator's SPC chart as an Excel line chart over its rows of the Monthly sheet: the
    value (special cause points coloured by the build's judgement), the mean, the limits
    (dashed) and the target (when it has one)."""
    chart = LineChart()
    chart.title = f"{ind.id} {ind.name}"
    chart.width, chart.height = NATIVE_CHART_CM
    chart.y_axis.title = axis_label(ind)
    chart.y_axis.number_format = number_format(None, ind.decimals)
    chart.x_axis.number_format = "mmm yyyy"
    chart.x_axis.delete = False  # Excel hides axes that do not say they are shown
    chart.y_axis.delete = False
    chart.legend.position = "b"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = _y_range(ind)
    value = Series(Reference(monthly, min_col=4, min_row=rows[0], max_row=rows[1]), title="Value")
    value.graphicalProperties.line = LineProperties(solidFill=LINE.lstrip("#"), w=19050)
    value.marker = Marker(symbol="circle", size=6)
    value.marker.graphicalProperties = GraphicalProperties(solidFill=COMMON.lstrip("#"))
    value.marker.graphicalProperties.line.solidFill = COMMON.lstrip("#")
    value.smooth = False
    for index, point in enumerate(ind.spc.series):
        colour = POINT_COLOURS.get(point.judgement or "")
        if colour:
            fill = GraphicalProperties(solidFill=colour.lstrip("#"))
            fill.line.solidFill = colour.lstrip("#")
            # the line into the point in its colour too: LibreOffice colours a point's marker from
            # it, and a point's line left without a colour is drawn in the program's own
            segment = GraphicalProperties(ln=LineProperties(solidFill=colour.lstrip("#"), w=19050))
            value.dPt.append(DataPoint(idx=index, marker=Marker(symbol="circle", size=7, spPr=fill), spPr=segment))
    chart.series.append(value)
    chart.series.append(_line_series(monthly, 5, rows, "Mean", MEAN))
    chart.series.append(_line_series(monthly, 6, rows, "Lower limit", LIMIT, dash="dash"))
    chart.series.append(_line_series(monthly, 7, rows, "Upper limit", LIMIT, dash="dash"))
    if ind.target is not None:
        chart.series.append(_line_series(monthly, 8, rows, "Target", TARGET, dash="lgDashDot"))
    chart.set_categories(Reference(monthly, min_col=3, min_row=rows[0], max_row=rows[1]))
    return chart


def _chart_block(
    ws: Worksheet,
    row: int,
    result: IndicatorResult,
    ind: IndicatorView,
    monthly: Worksheet,
    blocks: Mapping[str, tuple[int, int]],
    pictures: Mapping[str, bytes] | None = None,
) -> int:
    """An indicator's heading, its SPC words and its native chart from ``row``; for a disclosive
    indicator its picture without numbers (from ``pictures``) or where to find it; the row after."""
    put(ws, row, 1, ind.id, font=BOLD)
    put(ws, row, 2, ind.name, font=BOLD)
    put(ws, row + 1, 2, ind.spc_text or "No SPC judgement")
    rows = blocks.get(ind.id)
    if rows is None:
        put(ws, row + 2, 2, "No monthly figures to chart.")
        return row + 4
    if result.disclosive:
        png = (pictures or {}).get(ind.id)
        put(ws, row + 2, 2, DISCLOSIVE_CHART if png else DISCLOSIVE_CHART_ELSEWHERE)
        if png is None:
            return row + 4
        image = SheetImage(BytesIO(png))
        image.width, image.height = CHART_PX
        ws.add_image(image, f"B{row + 3}")
        return row + 3 + CHART_ROWS + 1
    ws.add_chart(native_chart(result, monthly, rows), f"B{row + 2}")
    return row + 2 + NATIVE_CHART_ROWS + 1


def _indicator_charts_sheet(
    ws: Worksheet, scorecard: Scorecard, view: ScorecardView, monthly: Worksheet, blocks: Mapping[str, tuple[int, int]]
) -> None:
    put(ws, 1, 1, f"Indicator charts: {view.label}", font=TITLE)
    put(
        ws,
        2,
        1,
        "Each chart draws its indicator's rows of the Monthly sheet: the monthly value (grey dots; orange "
        "special cause concern, blue improvement, purple special cause with no better direction), the mean, "
        "the process limits (dashed; they step where they were recalculated) and the target (red).",
    )
    ws.column_dimensions["A"].width = 9
    ws.column_dimensions["B"].width = 60
    row = 3
    put(ws, row, 1, "Rules on the Monthly sheet:", font=BOLD)
    for codes, words in RULE_WORDS:
        row += 1
        put(ws, row, 1, codes)
        put(ws, row, 3, words)
    row += 2
    for ind in view.indicators:
        row = _chart_block(ws, row, scorecard.indicator(ind.id), ind, monthly, blocks)
    _print_setup(ws, "1:2", "A3")


# --- Definitions, Data, Charts --------------------------------------------------------------


def _data_sheet(ws: Worksheet, scorecard: Scorecard, view: ScorecardView) -> None:
    """The history rows, as the build ordered and suppressed them."""
    _header(ws, 1, DATA_COLUMNS)
    indicators = {i.id: i for i in view.indicators}
    rows = scorecard.history
    for n, r in enumerate(rows, start=2):
        ind = indicators[r.indicator_id]
        put(ws, n, 1, r.label)
        put(ws, n, 2, r.indicator_id)
        put(ws, n, 3, ind.name)
        if r.suppressed:
            for col in (4, 5, 6):
                put(ws, n, col, SUPPRESSED, alignment=RIGHT)
        else:
            put(ws, n, 4, r.value, number_format=number_format(ind.unit, ind.decimals))
            put(ws, n, 5, r.numerator, number_format="#,##0")
            put(ws, n, 6, r.denominator, number_format="#,##0")
        put(ws, n, 7, data_status_word(r.data_status))
    ws.auto_filter.ref = f"A1:{get_column_letter(len(DATA_COLUMNS))}{max(len(rows) + 1, 1)}"
    _print_setup(ws, "1:1", "A2")


def _definitions_sheet(ws: Worksheet, scorecard: Scorecard, view: ScorecardView) -> None:
    _header(ws, 1, DEFINITION_COLUMNS)
    for n, ind in enumerate(view.indicators, start=2):
        cells = [
            ind.id,
            ind.name,
            scorecard.indicator(ind.id).plain_definition,
            ind.definition,
            ind.priority,
            ind.oba,
            ind.unit.code,
            ind.decimals,
            POLARITY_WORDS.get(ind.polarity, ind.polarity),
            ind.target_number,
            ind.tolerance_number,
            f"{ind.source_title} ({ind.source})" if ind.source_title != ind.source else ind.source,
            "Yes" if ind.disclosive else "No",
        ]
        for col, value in enumerate(cells, start=1):
            put(ws, n, col, value, alignment=WRAP if col in (2, 3, 4, 5, 12) else TOP)
    _print_setup(ws, "1:1", "C2")


def _charts_sheet(ws: Worksheet, view: ScorecardView, charts: Mapping[str, bytes]) -> None:
    """Per indicator: its name, the SPC icons' meaning in words, and its chart (or why there
    is none), one under another in the scorecard's order."""
    put(ws, 1, 1, f"Making Data Count charts: {view.label}", font=TITLE)
    put(
        ws,
        2,
        1,
        "Each dot is a month; solid line the mean, dashed lines the process limits (a step where they "
        "were recalculated), red dash-dot line the target. Orange dots: special cause concern; blue: "
        "improvement; purple: special cause with no better direction; grey: common cause.",
    )
    ws.column_dimensions["A"].width = 16
    row = 4
    for ind in view.indicators:
        put(ws, row, 1, ind.id, font=BOLD)
        put(ws, row, 2, ind.name, font=BOLD)
        put(ws, row + 1, 1, "Variation")
        put(ws, row + 1, 2, ind.variation_icon.words if ind.variation_icon else "No SPC judgement")
        put(ws, row + 2, 1, "Assurance")
        put(ws, row + 2, 2, ind.assurance_icon.words if ind.assurance_icon else "No assurance (no target)")
        png = charts.get(ind.id)
        if png is None:
            put(ws, row + 3, 2, "No monthly figures to chart.")
            row += 5
            continue
        image = SheetImage(BytesIO(png))
        image.width, image.height = CHART_PX
        ws.add_image(image, f"B{row + 3}")
        row += 3 + CHART_ROWS + 1
    _print_setup(ws, "1:2", "A3")
