"""One big file of one source, for benchmarks: a missing-episodes csv or a police xlsx of N rows.

A regional consortium (or a backfill) can send one extract covering years; the benchmarks need
such a file at a given size. The rows come from the same models as ``generate`` (the monthly
files' records, over as many months and at as large a scale as it takes to reach N rows), written
with one house style throughout: the first header layout, UK date-times, Y/N flags. Every value
stays valid, and keys stay unique (episode and incident references are numbered per month and
per day). Deterministic: the same arguments give the same file.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path

from ..periods import Month, Quarter
from . import cells, missing, police
from .rand import stream
from .timeline import Timeline, run_date
from .writers import Column, render, write_csv, write_xlsx

# Rows a year at scale 1 (Leeds), used to pick a scale that reaches N rows in a few years.
_PER_YEAR = {missing.SOURCE: 2_500, police.SOURCE: 21_500}
_YEARS = {missing.SOURCE: 4, police.SOURCE: 1}
BULK_SOURCES = tuple(_PER_YEAR)


def _scale(source: str, rows: int, attempt: int) -> float:
    """A scale at which ``_YEARS[source]`` years hold comfortably more than ``rows`` rows."""
    return max(0.01, rows / (_PER_YEAR[source] * _YEARS[source]) * 1.15 * (1.5**attempt))


def write_missing_csv(out_dir: Path, rows: int, *, seed: int = 42, end_quarter: Quarter | None = None) -> Path:
    """``MissingEpisodes_bulk_<rows>.csv``: ``rows`` episodes, comma-separated UTF-8, one layout."""
    end = end_quarter or Quarter.latest_complete(date.today())
    timeline = Timeline.ending(end, 4 * _YEARS[missing.SOURCE])
    for attempt in range(8):
        rng = stream(seed, f"bulk:{missing.SOURCE}")
        by_month = missing.episodes(timeline, rng, _scale(missing.SOURCE, rows, attempt))
        if sum(len(records) for records in by_month.values()) >= rows:
            break
    else:  # pragma: no cover - the scale grows by half each attempt
        raise RuntimeError("could not generate enough missing episodes")
    flag = cells.boolean("YN", text=True)
    moment = cells.datetime_text("uk")
    formats = {
        "episode_id": cells.as_is,
        "child_id": cells.as_is,
        "sex": cells.enum({"female": "F", "male": "M"}),
        "missing_from": moment,
        "returned_at": moment,
        "return_interview_completed_at": moment,
        "looked_after": flag,
        "cse_risk": flag,
        "return_interview_offered": flag,
        "_location": cells.as_is,
    }
    headers = missing.LAYOUTS[0]
    columns = [Column(f, h, formats[f]) for f, h in zip(missing.FIELDS, headers)]

    def records():
        left = rows
        for month in timeline.months:
            for record in by_month[month]:
                if left == 0:
                    return
                left -= 1
                yield record

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"MissingEpisodes_bulk_{rows}.csv"
    write_csv(path, header=list(headers), rows=render(columns, records()))
    return path


def write_police_xlsx(out_dir: Path, rows: int, *, seed: int = 42, end_quarter: Quarter | None = None) -> Path:
    """``WYP_DomesticIncidents_bulk_<rows>.xlsx``: ``rows`` incidents on one sheet, with the force's
    title rows and totals row; a quarter of the date-times as UK text, the rest date cells."""
    end = end_quarter or Quarter.latest_complete(date.today())
    timeline = Timeline.ending(end, 4 * _YEARS[police.SOURCE])
    for attempt in range(8):
        rng = stream(seed, f"bulk:{police.SOURCE}")
        scale = _scale(police.SOURCE, rows, attempt)
        records: list[dict] = []
        for month in timeline.months:
            records.extend(police.incidents(month, timeline, rng, scale))
            if len(records) >= rows:
                break
        if len(records) >= rows:
            break
    else:  # pragma: no cover
        raise RuntimeError("could not generate enough police incidents")
    del records[rows:]
    style = random.Random(rng.getrandbits(64))
    date_format = cells.datetime_cell(style, 0.25)
    formats = {
        "reported_at": date_format,
        "incident_ref": cells.as_is,
        "district": cells.as_is,
        "children_present": cells.boolean("YN"),
        "children_count": cells.as_is,
        "repeat_victim": cells.boolean("YesNo"),
        "risk_level": cells.enum({v: v.title() for v in ("standard", "medium", "high")}),
        "school_notified_at": date_format,
    }
    headers = police.LAYOUTS[0]
    columns = [Column(f, h, formats[f]) for f, h in zip(police.FIELDS, headers)]
    first, last = records[0]["reported_at"].date(), records[-1]["reported_at"].date()
    run = run_date(Month.of(last))
    preamble = [
        ["West Yorkshire Police - Domestic Incidents Extract"],
        ["Leeds District"],
        [f"Period: {first:%d/%m/%Y} to {last:%d/%m/%Y}"],
        [f"Run date: {run:%d/%m/%Y}"],
        [],
    ]
    children = sum(r["children_count"] or 0 for r in records)

    def footer(count: int) -> list[object]:
        return [f"Total incidents: {count}", None, None, None, children]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"WYP_DomesticIncidents_bulk_{rows}.xlsx"
    write_xlsx(
        path,
        sheet="Domestic Incidents",
        preamble=preamble,
        header=list(headers),
        rows=render(columns, records),
        footer=footer,
        stamp=datetime.combine(run, datetime.min.time()).replace(hour=7),
        creator="WYP Analysis",
    )
    return path


def write_bulk(out_dir: Path, source: str, rows: int, *, seed: int = 42, end_quarter: Quarter | None = None) -> Path:
    """One file of ``rows`` data rows of ``source`` (one of ``BULK_SOURCES``)."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if source == missing.SOURCE:
        return write_missing_csv(out_dir, rows, seed=seed, end_quarter=end_quarter)
    if source == police.SOURCE:
        return write_police_xlsx(out_dir, rows, seed=seed, end_quarter=end_quarter)
    raise ValueError(f"no bulk writer for {source}: use one of {', '.join(BULK_SOURCES)}")


__all__ = ["BULK_SOURCES", "write_bulk", "write_missing_csv", "write_police_xlsx"]
