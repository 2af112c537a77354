"""The Excel workbook attached to the scorecard email: Summary, Data and Definitions sheets.

Formula injection: partner and analyst text (names, benchmark labels, sources) could begin with
``=``, ``+``, ``-`` or ``@`` and would then run as a formula when a board member opens the
file. Every text cell goes through :func:`safe_text`, which prefixes such text with a single
quote ``'`` (visible, unambiguous, and kept if the sheet is saved as CSV), and is written with
data type string. Numbers are written as numbers, so they never need the guard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..xlsx import safe_text
from .formatting import DEFAULT_SUPPRESSION_THRESHOLD, SUPPRESSED, is_small
from .labels import RAG, RAG_FILLS, RAG_FONTS, data_status_word
from .view import IndicatorView, build_view, source_title


HEADER_FILL = PatternFill("solid", start_color="DEE0E2", end_color="DEE0E2")
SECTION_FILL = PatternFill("solid", start_color="D2E2F1", end_color="D2E2F1")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
RULE = Border(bottom=Side(style="thin", color="0B0C0C"))
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
RIGHT = Alignment(horizontal="right", vertical="top")

POLARITY_WORDS = {"up": "Higher is better", "down": "Lower is better", "neutral": "No better direction (monitored)"}

SUMMARY_COLUMNS = (
    ("ID", 7), ("Indicator", 36), ("OBA question", 20), ("Value", 12), ("Numerator", 11),
    ("Denominator", 12), ("Target", 10), ("Tolerance", 10), ("RAG", 13), ("Previous quarter", 12),
    ("Same quarter last year", 12), ("Change on previous quarter", 13),
    ("Change on same quarter last year", 13), ("Direction of travel", 16), ("Benchmarks", 24),
    ("SPC variation", 28), ("SPC assurance", 24), ("Exception", 60),
)
DATA_COLUMNS = (
    ("Quarter", 11), ("ID", 7), ("Indicator", 40), ("Value", 12), ("Numerator", 11),
    ("Denominator", 12), ("Data status", 15),
)
DEFINITION_COLUMNS = (
    ("ID", 7), ("Indicator", 36), ("Priority", 30), ("OBA question", 22), ("Definition", 70),
    ("Unit", 11), ("Decimals", 9), ("Polarity", 18), ("Target", 9), ("Tolerance", 10),
    ("Source", 34), ("Disclosive", 10),
)


def put(ws: Worksheet, row: int, column: int, value: Any, *, number_format: str | None = None,
        font: Font | None = None, alignment: Alignment | None = None, fill: PatternFill | None = None):
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


def number_format(unit: str | None, decimals: int) -> str:
    """Show the decimals and the unit while the cell keeps a plain number."""
    base = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    if unit == "%":
        return base + '"%"'
    if unit in (None, "", "count"):
        return base
    return f'{base}" {unit}"'


def change_format(unit: str | None, decimals: int) -> str:
    """Signed changes; a percentage changes by percentage points."""
    base = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    suffix = '" pts"' if unit == "%" else ""
    return f"+{base}{suffix};-{base}{suffix};{base}{suffix}"


def write_workbook(
    scorecard: Mapping[str, Any],
    path: Path,
    *,
    catalogue: Sequence[Any] | None = None,
    history: Iterable[Mapping[str, Any]] | None = None,
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
) -> Path:
    """Write the workbook; ``history`` rows feed the Data sheet (else the current quarter only)."""
    view = build_view(scorecard, suppression_threshold=suppression_threshold)
    wb = Workbook()
    wb.properties.creator = "LSCP performance scorecard"
    wb.properties.title = view.title
    _summary_sheet(wb.active, view)
    _data_sheet(wb.create_sheet("Data"), scorecard, catalogue, history, suppression_threshold)
    _definitions_sheet(wb.create_sheet("Definitions"), scorecard, catalogue)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _header(ws: Worksheet, row: int, columns: Sequence[tuple[str, int]]) -> None:
    for col, (title, width) in enumerate(columns, start=1):
        put(ws, row, col, title, font=BOLD, fill=HEADER_FILL,
            alignment=Alignment(wrap_text=True, vertical="bottom"))
        ws.cell(row=row, column=col).border = RULE
        ws.column_dimensions[get_column_letter(col)].width = width


def _summary_sheet(ws: Worksheet, view) -> None:
    ws.title = "Summary"
    put(ws, 1, 1, view.title, font=TITLE)
    put(ws, 2, 1, "; ".join(filter(None, [
        view.period_text, f"generated {view.generated_text}" if view.generated_text else ""])))
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
                FormulaRule(formula=[f'${rag_col}{first}="{badge.label}"'], fill=fill,
                            font=Font(color=RAG_FONTS[code], bold=True), stopIfTrue=True),
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
    put(ws, row + 1, 2, view.suppression_note)
    put(ws, row + 2, 2, "RAG compares the value, rounded as shown, with the target; amber is within "
        "tolerance. Values are rounded half away from zero; the Data sheet holds them unrounded.")


def _summary_row(ws: Worksheet, row: int, ind: IndicatorView) -> None:
    fmt = number_format(ind.unit, ind.decimals)
    chg = change_format(ind.unit, ind.decimals)
    count_fmt = "#,##0"

    def shown(number, text, style=fmt):
        return number if number is not None else (text if text not in ("n/a", "") else None), style

    cells = [
        (ind.id, None), (ind.name, None), (ind.oba, None),
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
        (ind.variation_badge.word if ind.variation_badge else None, None),
        (ind.assurance_badge.word if ind.assurance_badge else None, None),
        (ind.sentence, None),
    ]
    for col, (value, style) in enumerate(cells, start=1):
        numeric_col = 4 <= col <= 13 and col != 9
        align = RIGHT if numeric_col else (WRAP if col in (2, 15, 18) else TOP)
        put(ws, row, col, value, number_format=style, alignment=align)


def _indicator_meta(scorecard: Mapping[str, Any], catalogue: Sequence[Any] | None) -> dict[str, dict]:
    """id -> name, unit, decimals and disclosive, from the scorecard and then the catalogue."""
    meta: dict[str, dict] = {}
    for item in catalogue or []:
        meta[str(_field(item, "id"))] = {k: _field(item, k) for k in ("id", "name", "unit", "decimals", "disclosive")}
    for ind in scorecard.get("indicators") or []:
        meta.setdefault(str(ind.get("id")), {}).update(
            {k: ind.get(k) for k in ("id", "name", "unit", "decimals", "disclosive") if ind.get(k) is not None})
    return meta


def _data_sheet(ws: Worksheet, scorecard, catalogue, history, threshold: int) -> None:
    _header(ws, 1, DATA_COLUMNS)
    meta = _indicator_meta(scorecard, catalogue)
    if history is None:
        rows = [
            {"quarter": scorecard.get("quarter"), "indicator_id": ind.get("id"), "value": ind.get("value"),
             "numerator": ind.get("numerator"), "denominator": ind.get("denominator"),
             "data_status": ind.get("data_status"), "suppressed": ind.get("suppressed")}
            for ind in scorecard.get("indicators") or []
        ]
    else:
        rows = [dict(r) for r in history]
    order = {ind_id: n for n, ind_id in enumerate(meta)}
    rows.sort(key=lambda r: (order.get(str(r.get("indicator_id")), len(order)), str(r.get("indicator_id")),
                             str(r.get("quarter"))))
    for n, r in enumerate(rows, start=2):
        ind_id = str(r.get("indicator_id") or "")
        m = meta.get(ind_id, {})
        decimals = int(m.get("decimals") or 0)
        suppressed = bool(r.get("suppressed")) or (bool(m.get("disclosive")) and is_small(r.get("numerator"), threshold))
        value = r.get("value")
        put(ws, n, 1, _quarter_label(r.get("quarter")))
        put(ws, n, 2, ind_id)
        put(ws, n, 3, m.get("name") or ind_id)
        if suppressed:
            for col in (4, 5, 6):
                put(ws, n, col, SUPPRESSED, alignment=RIGHT)
        else:
            put(ws, n, 4, value, number_format=number_format(m.get("unit"), decimals))
            put(ws, n, 5, r.get("numerator"), number_format="#,##0")
            put(ws, n, 6, r.get("denominator"), number_format="#,##0")
        put(ws, n, 7, data_status_word(r.get("data_status")))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(DATA_COLUMNS))}{max(len(rows) + 1, 1)}"


def _definitions_sheet(ws: Worksheet, scorecard, catalogue) -> None:
    _header(ws, 1, DEFINITION_COLUMNS)
    items = list(catalogue) if catalogue else list(scorecard.get("indicators") or [])
    for n, item in enumerate(items, start=2):
        get = lambda name: _field(item, name)  # noqa: E731 - objects or dicts alike
        source = get("source")
        title, _agency = source_title(str(source or ""))
        cells = [
            get("id"), get("name"), get("priority"), get("oba"), get("definition"), get("unit"),
            get("decimals"), POLARITY_WORDS.get(get("polarity"), get("polarity")), get("target"),
            get("tolerance"), f"{title} ({source})" if source and title != source else source,
            "Yes" if get("disclosive") else "No",
        ]
        for col, value in enumerate(cells, start=1):
            put(ws, n, col, value, alignment=WRAP if col in (2, 3, 5, 11) else TOP)
    ws.freeze_panes = "C2"


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _quarter_label(code: Any) -> str:
    try:
        from pipelines.periods import Quarter

        return Quarter.parse(str(code)).label
    except Exception:
        return str(code or "")
