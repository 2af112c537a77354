"""Turn a identified sheet into typed rows, rejecting each bad row with every reason it has.

Structural rules (blank rows, totals rows, missing key, duplicate key, type parsing) are applied
here; the source's row rules run as its Great Expectations suite (see ``expectations.py``).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

import numpy as np
import pandas as pd

from .columns import DATE_KINDS, TypedColumn, type_column
from .expectations import ROW, run_suite
from .identify import Layout
from .month_first import Survey
from .receipts import ReasonTally
from .values import is_blank

_PANDAS_TYPES = {"int": "Int64", "number": "float64"}


@dataclass
class RowProblem:
    row: int  # row number in the original sheet (1-based)
    reasons: list[str]
    cells: list[object]  # the row as sent


@dataclass
class Checked:
    """A whole sheet checked in one chunk (``check_rows``): the accepted rows (every source
    column, typed, plus ROW), the rejected rows' problems, and the file's ``FileChecks`` (counts,
    reasons, month-first verdict), which ``decide`` reads."""

    rows: pd.DataFrame
    problems: list[RowProblem]
    checks: FileChecks


@dataclass
class FileChecks:
    """What checking a file a chunk of rows at a time carries from each chunk to the next: the
    keys seen (for duplicates anywhere in the file), the month-first survey, the counts and the
    reasons. ``decide`` reads it once the whole file is seen."""

    layout: Layout
    today: datetime
    keys: KeyIndex = field(default_factory=lambda: KeyIndex())
    survey: Survey = field(default_factory=Survey)
    tally: ReasonTally = field(default_factory=ReasonTally)
    totals_rows: int = 0
    accepted: int = 0
    rejected: int = 0
    month_first: str | None = None  # set once the whole file is seen (``finish``)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def data_rows(self) -> int:
        return self.accepted + self.rejected

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.data_rows if self.data_rows else 0.0

    def reasons(self) -> list[dict]:
        return self.tally.result()


def _is_totals_row(cells: list[object]) -> bool:
    for cell in cells:
        if not is_blank(cell):
            return str(cell).strip().lower().startswith("total")
    return False


def _columns_of(body: list[list[object]], width: int):
    """position -> that column's cells (None past a short row's end), each handed over once so
    it can be let go after typing. Rows shortened by a csv's trimmed trailing blanks are
    transposed in one go when no row is much wider than the last mapped column."""
    if not body:
        return lambda position: []
    if min(map(len, body)) >= width:
        return lambda position: list(map(itemgetter(position), body))
    if max(map(len, body)) <= width + 50:
        columns = dict(enumerate(itertools.zip_longest(*body)))
        return lambda position: columns.pop(position, None) or [None] * len(body)
    return lambda position: [r[position] if position < len(r) else None for r in body]


def _all_of(masks: list[np.ndarray], n: int) -> np.ndarray:
    return np.logical_and.reduce(masks) if masks else np.ones(n, dtype=bool)


def check_rows(layout: Layout, today: datetime | None = None) -> Checked:
    """The whole sheet checked in one chunk (``check_chunk``), with the month-first verdict."""
    state = FileChecks(layout, today or datetime.now())
    first = layout.header_index + 1
    body = layout.sheet.rows[first:]
    frame, problems = check_chunk(state, body, first)
    if state.survey.needs_texts():
        state.survey.add_texts(date_cells(layout, body))
    state.month_first = state.survey.verdict()
    return Checked(rows=frame, problems=problems, checks=state)


def date_cells(layout: Layout, body: list[list[object]]) -> dict[str, list]:
    """Header as sent -> the raw cells of each mapped date column of ``body`` (for the survey)."""
    cells_at = _columns_of(body, max(layout.columns, default=-1) + 1)
    return {
        layout.mapped[name]: cells_at(position)
        for position, name in layout.columns.items()
        if layout.source.column(name).type in DATE_KINDS
    }


def _add_time(timings: dict[str, float], stage: str, started: float) -> None:
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


def check_chunk(state: FileChecks, body: list[list[object]], start: int) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Check ``body``, the sheet's rows from 0-based index ``start``: type every column at once
    (``columns.py``), sort out blank, totals and keyless rows, find keys repeated in it or in an
    earlier chunk, then run the source's suite over its typed rows in one go. Returns the
    accepted rows (typed, with their sheet row numbers in ``ROW``) and the rejected rows' problems
    in sheet order; ``state`` keeps the counts, reasons, keys and month-first survey."""
    layout = state.layout
    started = time.perf_counter()
    source = layout.source
    problems: list[RowProblem] = []
    n = len(body)
    cells_at = _columns_of(body, max(layout.columns, default=-1) + 1)
    typed: dict[str, TypedColumn] = {}
    dates: dict[str, list] = {}  # header as sent -> raw cells, for every mapped date column
    for position, name in layout.columns.items():
        raw = cells_at(position)
        column = source.column(name)
        typed[name] = type_column(raw, column, key=name in source.key)
        if column.type in DATE_KINDS:
            dates[layout.mapped[name]] = raw
    del cells_at
    state.survey.add(dates, {layout.mapped[name]: typed[name].errors for name in typed})
    del dates
    mapped_blank = _all_of([t.blank for t in typed.values()], n)
    key_blank = _all_of([t.blank for name, t in typed.items() if name in source.key], n)
    missing_key = "missing key: " + ", ".join(layout.mapped[k] for k in source.key if k in layout.mapped) + " is blank"
    for i in np.flatnonzero(key_blank).tolist():
        cells = body[i]
        if mapped_blank[i] and all(is_blank(c) for c in cells):
            continue
        if _is_totals_row(cells):
            state.totals_rows += 1
        else:
            problems.append(RowProblem(start + i + 1, [missing_key], cells))

    candidates = np.flatnonzero(~key_blank)
    frame = _frame(layout, typed, candidates, start)
    errors: dict[int, dict[str, str]] = {}  # position in ``frame`` -> column -> reason
    where = {int(i): j for j, i in enumerate(candidates.tolist())} if any(t.errors for t in typed.values()) else {}
    for name, typed_column in typed.items():
        for i, reason in typed_column.errors.items():
            if i in where:
                errors.setdefault(where[i], {})[name] = f"{layout.mapped[name]} {reason}"
    del typed
    for j, reason in _duplicate_keys(frame, source, layout.mapped, state.keys).items():
        errors.setdefault(j, {})["__key"] = reason
    _add_time(state.timings, "map_type", started)

    started = time.perf_counter()
    failures = {}
    if len(frame):
        failures = run_suite(source.name, _for_suite(frame, source), layout.mapped, state.today)
    rejected = np.zeros(len(frame), dtype=bool)
    row_numbers = frame[ROW].to_numpy()
    for j in sorted(set(errors) | {int(np.searchsorted(row_numbers, r)) for r in failures}):
        row_number = int(row_numbers[j])
        unreadable = errors.get(j, {})
        reasons = list(unreadable.values())
        for failed, reason in failures.get(row_number, []):
            if failed in unreadable:  # the value was unreadable: that reason already says so
                continue
            if reason not in reasons:
                reasons.append(reason)
        if reasons:
            rejected[j] = True
            problems.append(RowProblem(row_number, reasons, body[candidates[j]]))
    accepted = frame[~rejected].reset_index(drop=True)
    problems.sort(key=lambda p: p.row)
    state.accepted += len(accepted)
    state.rejected += len(problems)
    state.tally.add(problems)
    _add_time(state.timings, "validate", started)
    return accepted, problems


def _frame(layout: Layout, typed: dict[str, TypedColumn], candidates: np.ndarray, first: int) -> pd.DataFrame:
    """The candidate rows, typed. Every column of the source, those the file lacks as blanks: a
    row rule may depend on an absent optional column ("an interview date only when a return date
    is given")."""
    data: dict[str, object] = {ROW: candidates + first + 1}
    for column in layout.source.columns:
        kind = column.type
        found = typed.get(column.name)
        if kind in DATE_KINDS:
            values = (
                found.values[candidates] if found else np.full(len(candidates), np.datetime64("NaT"), "datetime64[us]")
            )
            data[column.name] = pd.Series(values, dtype="datetime64[us]")
            continue
        objects = np.empty(len(candidates), dtype=object)
        if found:
            every = np.empty(len(found.values), dtype=object)
            every[:] = found.values
            objects[:] = every[candidates]
        series = pd.Series(objects, dtype=object)
        data[column.name] = series.astype(_PANDAS_TYPES[kind]) if kind in _PANDAS_TYPES else series
    return pd.DataFrame(data)


def _for_suite(frame: pd.DataFrame, source) -> pd.DataFrame:
    """Great Expectations compares date-times in one vectorised step only as ``datetime64[ns]``
    (otherwise one Python call per value); dates outside that type's range (before 1677 or after
    2262) keep microseconds and take the slow path."""
    out = frame.copy(deep=False)
    for column in source.columns:
        if column.type in DATE_KINDS:
            values = out[column.name]
            present = values.dropna()
            if present.empty or (present.min() >= _NS_MIN and present.max() <= _NS_MAX):
                out[column.name] = values.astype("datetime64[ns]")
    return out


_NS_MIN, _NS_MAX = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")


class KeyIndex:
    """The keys of the rows checked so far, each as a 64-bit hash with the sheet row it first
    came in: 12 bytes a row, so a key repeated anywhere in a file of millions of rows is found
    without keeping its rows. Kept as sorted runs, merged (up to ``MERGE_UP_TO`` keys) as they
    grow, so looking a chunk's keys up costs a binary search in each of a few runs. Two different
    keys share a hash once in about 2^64 / n² files of n rows (for a million rows, once in
    some 36 million files): then the later row would be called a duplicate."""

    MERGE_UP_TO = 1_000_000

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted hashes, their first rows)

    def first_rows(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, the row its key first came in, or 0 when it has not been seen."""
        found = np.zeros(len(hashes), dtype=np.int64)
        for keys, rows in self.runs:
            at = np.searchsorted(keys, hashes)
            inside = at < len(keys)
            hit = np.zeros(len(hashes), dtype=bool)
            hit[inside] = keys[at[inside]] == hashes[inside]
            found[hit] = rows[at[hit]]
        return found

    def add(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        self.runs.append((hashes[order], rows[order].astype(np.int32)))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= len(self.runs[-1][0]) * 2:
            if len(self.runs[-2][0]) + len(self.runs[-1][0]) > self.MERGE_UP_TO:
                break
            (a, ra), (b, rb) = self.runs.pop(), self.runs.pop()
            keys, rows_ = np.concatenate([b, a]), np.concatenate([rb, ra])
            order = np.argsort(keys, kind="stable")
            self.runs.append((keys[order], rows_[order]))


def _duplicate_keys(frame: pd.DataFrame, source, headers: dict[str, str], index: KeyIndex) -> dict[int, str]:
    """Position in ``frame`` -> reason, for each row whose key appeared in an earlier row, in
    this chunk or an earlier one (``index``; the first is kept); rows with a blank or unreadable
    key part take no part. The reason names the key's columns and the earlier row, never the
    key's value. The chunk's new keys go into ``index``."""
    if not len(frame):
        return {}
    keys = list(source.key)
    complete = frame[keys].notna().all(axis=1).to_numpy()
    keyed = frame.loc[complete, keys + [ROW]]
    if not len(keyed):
        return {}
    hashes = pd.util.hash_pandas_object(keyed[keys], index=False).to_numpy()
    earlier = index.first_rows(hashes)
    repeated = keyed.duplicated(subset=keys, keep="first").to_numpy()
    first_row = earlier
    if repeated.any():
        in_chunk = keyed.groupby(keys, sort=False, dropna=False)[ROW].transform("first").to_numpy()
        first_row = np.where(earlier > 0, earlier, in_chunk)
    again = repeated | (earlier > 0)
    fresh = ~again
    index.add(hashes[fresh], keyed[ROW].to_numpy()[fresh])
    if not again.any():
        return {}
    positions = np.flatnonzero(complete)
    named = " and ".join(headers.get(k, k) for k in keys)
    return {
        int(positions[k]): f"duplicate key: the same {named} as row {int(first_row[k])} (the first is kept)"
        for k in np.flatnonzero(again).tolist()
    }
