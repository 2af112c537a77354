"""Police domestic incidents: monthly West Yorkshire Police extracts for the Leeds district.

Calibrated to the Leeds annual report: about 60 incidents a day, about 24% with a child present,
a third involving a repeat victim. Volumes rise in summer and over Christmas and New Year;
Operation Encompass notifications slip in school holidays, so DA04 dips below 90% at times.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from ..periods import Month
from . import cells
from .leeds import WARDS
from .rand import Weighted, chance, clamp, poisson, stream
from .timeline import Timeline, annual_wave, run_date
from .writers import Column, render, write_xlsx

SOURCE = "police_domestic_incidents"
PER_DAY = 58.5
WEEKDAY = (0.94, 0.94, 0.94, 0.94, 0.97, 1.16, 1.11)  # Monday..Sunday, mean 1
HOURS = Weighted(
    {
        h: w
        for h, w in enumerate(
            [4, 3, 2.5, 2, 1.5, 1, 1, 1.5, 2, 2.5, 3, 3, 3.5, 3.5, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 6.5, 6, 5]
        )
    }
)
CHILDREN = Weighted({1: 48, 2: 30, 3: 14, 4: 8})
RISK = Weighted({"standard": 60, "medium": 30, "high": 10})
WARD = Weighted(WARDS)

LAYOUTS = [
    (
        "Occurrence Date",
        "Occurrence Number",
        "District",
        "Children Present (Y/N)",
        "No. of Children",
        "Repeat Victim",
        "DASH Risk Level",
        "Operation Encompass Notification Date",
    ),
    (
        "Reported Date",
        "Incident Ref",
        "Ward",
        "Child(ren) Present",
        "Number of Children",
        "Repeat",
        "DASH Risk",
        "Encompass Notified",
    ),
    (
        "Date Reported",
        "Incident Number",
        "Area",
        "Child Present",
        "Children Count",
        "Repeat Incident",
        "Risk Level",
        "School Notified",
    ),
]
FIELDS = (
    "reported_at",
    "incident_ref",
    "district",
    "children_present",
    "children_count",
    "repeat_victim",
    "risk_level",
    "school_notified_at",
)


def _expected(d: date, timeline: Timeline, scale: float) -> float:
    season = annual_wave(d, (7, 15), 0.08)
    if (d.month == 12 and d.day >= 24) or (d.month == 1 and d.day <= 2):
        season *= 1.25
    drift = 1 + 0.03 * timeline.years_before_end(d)
    return PER_DAY * scale * season * WEEKDAY[d.weekday()] * drift


def _encompass_rate(month: Month, rng: random.Random) -> float:
    """Share of child-present incidents notified to school within 24 hours this month."""
    holiday = {8: 0.06, 12: 0.045, 4: 0.02, 7: 0.015}.get(month.month, 0.0)
    return clamp(0.94 - holiday + rng.gauss(0, 0.012), 0.84, 0.985)


def incidents(month: Month, timeline: Timeline, rng: random.Random, scale: float) -> list[dict]:
    """Canonical incident records for one month, in reporting order."""
    effect = 1 + rng.gauss(0, 0.025)
    encompass = _encompass_rate(month, rng)
    repeat_rate = clamp(0.352 + 0.012 * (1 - timeline.years_before_end(month.start)) + rng.gauss(0, 0.01), 0.3, 0.42)
    present_rate = clamp(0.244 + rng.gauss(0, 0.006), 0.2, 0.3)
    out: list[dict] = []
    for d in timeline.days(month):
        n = poisson(rng, _expected(d, timeline, scale) * effect)
        times: list[tuple[int, int]] = sorted((HOURS(rng), rng.randrange(60)) for _ in range(n))
        for seq, (hour, minute) in enumerate(times, start=1):
            reported = datetime(d.year, d.month, d.day, hour, minute)
            present = None if chance(rng, 0.015) else chance(rng, present_rate)
            count: int | None
            if present:
                count = CHILDREN(rng)
            elif present is False:
                count = 0 if chance(rng, 0.6) else None
            else:
                count = None
            out.append(
                {
                    "incident_ref": f"13{d:%y%m%d}-{seq:04d}",
                    "reported_at": reported,
                    "children_present": present,
                    "children_count": count,
                    "repeat_victim": None if chance(rng, 0.012) else chance(rng, repeat_rate),
                    "risk_level": None if chance(rng, 0.03) else RISK(rng),
                    "school_notified_at": _notified(reported, present, encompass, timeline, rng),
                    "district": None if chance(rng, 0.005) else WARD(rng),
                }
            )
    return out


def _notified(
    reported: datetime, present: bool | None, rate: float, timeline: Timeline, rng: random.Random
) -> datetime | None:
    if not present or chance(rng, 0.015):
        return None
    if chance(rng, rate / 0.985):
        hours = rng.uniform(0.5, 23.9)
    else:
        hours = rng.uniform(24.2, 110.0)
    notified = (reported + timedelta(hours=hours)).replace(second=0, microsecond=0)
    return notified if notified <= timeline.horizon else None


def write(out_dir: Path, timeline: Timeline, seed: int, scale: float) -> tuple[list[Path], int]:
    """One xlsx per month, laid out like a force analyst's export (titles, header, totals row)."""
    rng = stream(seed, SOURCE)
    files, total = [], 0
    for index, month in enumerate(timeline.months):
        records = incidents(month, timeline, rng, scale)
        style = random.Random(rng.getrandbits(64))
        headers = LAYOUTS[index % len(LAYOUTS)]
        bools = ["YN", "YesNo", "10"]
        style.shuffle(bools)
        date_format = cells.datetime_cell(style, [0.0, 0.25, 1.0][index % 3])
        formats = {
            "reported_at": date_format,
            "incident_ref": cells.as_is,
            "district": cells.as_is,
            "children_present": cells.boolean(bools[0]),
            "children_count": cells.as_is,
            "repeat_victim": cells.boolean(bools[1]),
            "risk_level": cells.enum(
                {v: v.title() for v in ("standard", "medium", "high")}, style.choice(["as_is", "upper"])
            ),
            "school_notified_at": date_format,
        }
        columns = [Column(f, h, formats[f]) for f, h in zip(FIELDS, headers)]
        run = run_date(month)
        preamble = [["West Yorkshire Police - Domestic Incidents Extract"], ["Leeds District"]]
        if index % 2 == 0:
            preamble.append([f"Period: {month.start:%d/%m/%Y} to {month.end:%d/%m/%Y}"])
        preamble += [[f"Run date: {run:%d/%m/%Y}"], []]
        children = sum(r["children_count"] or 0 for r in records)

        def footer(count: int, children=children) -> list[object]:
            return [f"Total incidents: {count}", None, None, None, children]

        path = out_dir / f"WYP_DomesticIncidents_{month.code}.xlsx"
        total += write_xlsx(
            path,
            sheet="Domestic Incidents",
            preamble=preamble,
            header=[c.header for c in columns],
            rows=render(columns, records),
            footer=footer,
            stamp=datetime.combine(run, datetime.min.time()).replace(hour=7),
            creator="WYP Analysis",
        )
        files.append(path)
    return files, total
