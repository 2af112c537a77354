"""The Excel workbook attached to the scorecard email: Summary, Data, Definitions and Charts
sheets (Charts: each indicator's Making Data Count chart as an image, with its SPC icons'
meaning in words).

Formula injection: partner and analyst text (names, benchmark labels, sources) could begin with
``=``, ``+``, ``-`` or ``@`` and would then run as a formula when a board member opens the
file. Every text cell goes through :func:`safe_text`, which prefixes such text with a single
quote ``'`` (visible, unambiguous, and kept if the sheet is saved as CSV), and is written with
data type string. Numbers are written as numbers, so they never need the guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..catalogue import Unit
from ..model import Scorecard
from ..xlsx import safe_text
from .charts import CHART_HEIGHT_IN, CHART_WIDTH_IN, WORKBOOK_DPI, render_full_charts
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

SUMMARY_COLUMNS = (
    ("ID", 7),
    ("Indicator", 36),
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
    ("Exception", 60),
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
    ("Priority", 30),
    ("OBA question", 22),
    ("Definition", 70),
    ("Unit", 11),
    ("Decimals", 9),
    ("Polarity", 18),
    ("Target", 9),
    ("Tolerance", 10),
    ("Source", 34),
    ("Disclosive", 10),
)


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
    """Write one cell: numbers as numbers, everything else as guarded text of type string."""
    cell = ws.cell(row=row, column=column)
    if value is None:
        pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
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
    """Write the workbook: Summary (as the HTML), Data (the scorecard's history rows),
    Definitions (its indicators) and Charts (``charts``: indicator id -> full chart PNG at the
    workbook's size, ``FullChart.workbook``; drawn here when not given)."""
    view = build_view(scorecard)
    if charts is None:
        charts = {i: chart.workbook for i, chart in render_full_charts(scorecard).items()}
    wb = Workbook()
    wb.properties.creator = "LSCP performance scorecard"
    wb.properties.title = view.title
    _summary_sheet(wb.active, view)
    _data_sheet(wb.create_sheet("Data"), scorecard, view)
    _definitions_sheet(wb.create_sheet("Definitions"), view)
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


def _summary_sheet(ws: Worksheet, view: ScorecardView) -> None:
    ws.title = "Summary"
    put(ws, 1, 1, view.title, font=TITLE)
    put(
        ws,
        2,
        1,
        "; ".join(filter(None, [view.period_text, f"generated {view.generated_text}" if view.generated_text else ""])),
    )
    put(ws, 3, 1, view.summary_lines[0])
    put(ws, 4, 1, view.summary_lines[1] + f" Exceptions: {len(view.exceptions)} (see the Exception column).")
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
            _summary_row(ws, row, ind)
            row += 1
    last = row - 1
    rag_col = get_column_letter(9)
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
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)  # header rows and ID/name stay put
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

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


def _summary_row(ws: Worksheet, row: int, ind: IndicatorView) -> None:
    fmt = number_format(ind.unit, ind.decimals)
    chg = change_format(ind.unit, ind.decimals)
    count_fmt = "#,##0"

    def shown(number: float | int | None, text: str, style: str = fmt) -> tuple[Any, str]:
        return number if number is not None else (text if text not in ("n/a", "") else None), style

    cells = [
        (ind.id, None),
        (ind.name, None),
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
    ]
    for col, (value, style) in enumerate(cells, start=1):
        numeric_col = 4 <= col <= 13 and col != 9
        align = RIGHT if numeric_col else (WRAP if col in (2, 15, 18) else TOP)
        put(ws, row, col, value, number_format=style, alignment=align)


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
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(DATA_COLUMNS))}{max(len(rows) + 1, 1)}"


def _definitions_sheet(ws: Worksheet, view: ScorecardView) -> None:
    _header(ws, 1, DEFINITION_COLUMNS)
    for n, ind in enumerate(view.indicators, start=2):
        cells = [
            ind.id,
            ind.name,
            ind.priority,
            ind.oba,
            ind.definition,
            ind.unit.code,
            ind.decimals,
            POLARITY_WORDS.get(ind.polarity, ind.polarity),
            ind.target_number,
            ind.tolerance_number,
            f"{ind.source_title} ({ind.source})" if ind.source_title != ind.source else ind.source,
            "Yes" if ind.disclosive else "No",
        ]
        for col, value in enumerate(cells, start=1):
            put(ws, n, col, value, alignment=WRAP if col in (2, 3, 5, 11) else TOP)
    ws.freeze_panes = "C2"


# The chart image on the Charts sheet, in pixels as Excel shows it, and the rows it covers
# (default rows are 20 pixels high).
CHART_PX = (round(CHART_WIDTH_IN * WORKBOOK_DPI), round(CHART_HEIGHT_IN * WORKBOOK_DPI))
CHART_ROWS = CHART_PX[1] // 20 + 1


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
