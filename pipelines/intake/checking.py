"""Turn a identified sheet into typed rows, rejecting each bad row with every reason it has.

Structural rules (blank rows, totals rows, missing key, duplicate key, type parsing) are applied
here; the source's row rules run as its Great Expectations suite (see ``expectations.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from .expectations import ROW, run_suite
from .identify import Layout
from .values import InvalidValue, is_blank, parse_value

_PANDAS_TYPES = {"int": "Int64", "number": "float64", "date": "datetime64[ns]", "datetime": "datetime64[ns]"}


@dataclass
class RowProblem:
    row: int  # row number in the original sheet (1-based)
    reasons: list[str]
    cells: list[object]  # the row as sent


@dataclass
class Checked:
    layout: Layout
    records: list[dict] = field(default_factory=list)  # canonical column -> typed value, plus ROW
    problems: list[RowProblem] = field(default_factory=list)
    totals_rows: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds: map_type, validate

    @property
    def data_rows(self) -> int:
        return len(self.records) + len(self.problems)

    @property
    def rejected_share(self) -> float:
        return len(self.problems) / self.data_rows if self.data_rows else 0.0


def _is_totals_row(cells: list[object]) -> bool:
    for cell in cells:
        if not is_blank(cell):
            return str(cell).strip().lower().startswith("total")
    return False


def check_rows(layout: Layout, today: datetime | None = None) -> Checked:
    today = today or datetime.now()
    started = time.perf_counter()
    source = layout.source
    checked = Checked(layout=layout)
    key_positions = [p for p, name in layout.columns.items() if name in source.key]
    candidates: list[tuple[int, list[object], dict, dict[str, list[str]]]] = []
    seen_keys: dict[tuple, int] = {}

    for index in range(layout.header_index + 1, len(layout.sheet.rows)):
        cells = layout.sheet.rows[index]
        row_number = index + 1
        if all(is_blank(c) for c in cells):
            continue
        if all(is_blank(cells[p]) if p < len(cells) else True for p in key_positions):
            if _is_totals_row(cells):
                checked.totals_rows += 1
            else:
                checked.problems.append(RowProblem(row_number, ["missing key: " + ", ".join(layout.mapped[k] for k in source.key if k in layout.mapped) + " is blank"], cells))
            continue
        record: dict = {}
        errors: dict[str, list[str]] = {}
        for position, name in layout.columns.items():
            raw = cells[position] if position < len(cells) else None
            try:
                record[name] = parse_value(raw, source.column(name), key=name in source.key)
            except InvalidValue as exc:
                record[name] = None
                errors.setdefault(name, []).append(f"{layout.mapped[name]}: {exc}")
        key = tuple(record.get(k) for k in source.key)
        if None not in key:
            if key in seen_keys:
                errors.setdefault("__key", []).append(
                    f"duplicate key: {', '.join(str(k) for k in key)} already appears in row {seen_keys[key]}"
                )
            else:
                seen_keys[key] = row_number
        candidates.append((row_number, cells, record, errors))

    checked.timings["map_type"] = time.perf_counter() - started
    started = time.perf_counter()
    if candidates:
        frame = _frame(layout, candidates)
        failures = run_suite(
            source.name, frame, layout.mapped, today, frozenset(c.name for c in source.columns if c.personal)
        )
    else:
        failures = {}

    for row_number, cells, record, errors in candidates:
        reasons = [r for rs in errors.values() for r in rs]
        for column, reason in failures.get(row_number, []):
            if column in errors:  # the value was unreadable: that reason already says so
                continue
            if reason not in reasons:
                reasons.append(reason)
        if reasons:
            checked.problems.append(RowProblem(row_number, reasons, cells))
        else:
            record[ROW] = row_number
            checked.records.append(record)
    checked.problems.sort(key=lambda p: p.row)
    checked.timings["validate"] = time.perf_counter() - started
    return checked


def _frame(layout: Layout, candidates) -> pd.DataFrame:
    # Every column of the source, those the file lacks as blanks: a row rule may depend on an
    # absent optional column ("an interview date only when a return date is given").
    names = [c.name for c in layout.source.columns]
    data = {ROW: [c[0] for c in candidates]}
    for name in names:
        data[name] = [c[2].get(name) for c in candidates]
    frame = pd.DataFrame(data)
    for name in names:
        kind = layout.source.column(name).type
        if kind in _PANDAS_TYPES:
            frame[name] = frame[name].astype(_PANDAS_TYPES[kind]) if kind in ("int", "number") else pd.to_datetime(frame[name])
        else:
            frame[name] = frame[name].astype(object)
    return frame
