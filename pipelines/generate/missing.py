"""Children missing from home or care: monthly csv returns from the return interview service.

Leeds sees about 2,500 episodes a year from about 1,000 children: most go missing once, a few
(often looked after, often at risk of exploitation) go missing again and again, so MI04 (3 or more
in a quarter) is never zero. Children arrive over time with their own missing rate (heavy-tailed)
and a period of risk; a year of unwritten history warms the model up so volumes are steady from
the first month. Return-interview timeliness slips in the latest year (MI05).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ..periods import Month
from . import cells
from .leeds import LOCATIONS
from .rand import Weighted, chance, clamp, poisson, stream
from .timeline import Timeline, annual_wave
from .writers import Column, render, write_csv

SOURCE = "missing_episodes"
ARRIVALS_PER_DAY = 2.15
RISK_DAYS = 170  # mean length of a child's period of going missing
HOURS = Weighted(
    {
        h: w
        for h, w in enumerate(
            [2, 1.5, 1, 0.7, 0.5, 0.5, 0.6, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 8.5, 8, 7, 5.5, 4, 3]
        )
    }
)

LAYOUTS = [
    (
        "MFH Ref",
        "CHILD",
        "Gender",
        "MIS_START",
        "MIS_END",
        "CLA",
        "CSE Risk",
        "RHI Offered",
        "RHI Completed",
        "Location",
    ),
    (
        "Episode ID",
        "Child ID",
        "Sex",
        "Date Missing",
        "Date Found",
        "Looked After",
        "At Risk of CSE",
        "Return Interview Offered",
        "Return Interview Date",
        "Location",
    ),
    (
        "Missing Ref",
        "Child Ref",
        "Gender",
        "Reported Missing",
        "Return Date",
        "LAC",
        "CSE",
        "RHI Offered",
        "Return Interview Completed",
        "Location Found",
    ),
]
FIELDS = (
    "episode_id",
    "child_id",
    "sex",
    "missing_from",
    "returned_at",
    "looked_after",
    "cse_risk",
    "return_interview_offered",
    "return_interview_completed_at",
    "_location",
)
FILE_FORMATS = [(",", "utf-8"), (";", "cp1252"), (",", "cp1252"), (",", "utf-8-sig"), (";", "utf-8")]
DATETIME_STYLES = ["uk", "iso", "uk_seconds"]


@dataclass(frozen=True)
class Child:
    child_id: str
    female: bool
    looked_after: bool
    cse: bool
    rate: float  # episodes a year while at risk


def _child(rng: random.Random, number: int) -> Child:
    """A child's traits, tuned so that episodes are ~28% looked after, ~20% CSE and ~54% female
    although only ~45% of the children are girls (girls who go missing do so more often)."""
    female = chance(rng, 0.45)
    looked_after = chance(rng, 0.13)
    rate = 2.08 * math.exp(rng.gauss(0, 0.75)) * (1.7 if female else 1.0) * (2.6 if looked_after else 1.0)
    rate = min(24.0, rate)
    cse = (0.113 if female else 0.041) + (0.08 if looked_after else 0) + 0.0095 * rate
    return Child(f"WYP{number:07d}", female, looked_after, chance(rng, cse), rate)


def _season(d: date) -> float:
    return annual_wave(d, (6, 1), 0.13)


def episode_times(timeline: Timeline, rng: random.Random, scale: float):
    """(child, went missing, came back) for every episode, warming up over a year before the span.

    A child's next episode starts only after they came back from the last one.
    """
    number = 1_000_000 + rng.randrange(2_000_000)
    d = timeline.first_day - timedelta(days=365)
    while d <= timeline.last_day:
        for _ in range(poisson(rng, ARRIVALS_PER_DAY * scale * _season(d))):
            number += rng.randint(1, 40)
            child = _child(rng, number)
            until = d + timedelta(days=rng.gammavariate(2, RISK_DAYS / 2) * (1.6 if child.looked_after else 1))
            start = datetime(d.year, d.month, d.day, HOURS(rng), rng.randrange(60))
            while start.date() <= min(until, timeline.last_day):
                hours = clamp(math.exp(rng.gauss(math.log(9), 1.0)), 0.75, 110)
                back = start + timedelta(minutes=round(hours * 60))
                yield child, start, back
                gap = rng.expovariate(child.rate * _season(start.date()) / 365.25)
                day = (back + timedelta(days=gap)).date()
                start = max(
                    datetime(day.year, day.month, day.day, HOURS(rng), rng.randrange(60)), back + timedelta(hours=2)
                )
        d += timedelta(days=1)


def working_time(rng: random.Random, after: datetime, before: datetime) -> datetime:
    """A whole minute between ``after`` and ``before`` in working hours (08:00-20:00), when
    return interviews happen."""
    windows, day = [], after.date()
    while day <= before.date():
        start = max(after, datetime(day.year, day.month, day.day, 8))
        end = min(before, datetime(day.year, day.month, day.day, 20))
        if end > start:
            windows.append((start, (end - start).total_seconds() // 60))
        day += timedelta(days=1)
    start, minutes = rng.choices(windows, [w for _, w in windows])[0]
    return start + timedelta(minutes=rng.randrange(int(minutes)) + 1)


def _interview_rate(month: Month, timeline: Timeline, rng: random.Random) -> float:
    """Share of returns with a return interview within 72 hours, for returns in this month."""
    slip = 0.06 * max(0.0, 1 - timeline.years_before_end(month.start))
    holiday = {8: 0.05, 12: 0.04}.get(month.month, 0.0)
    return clamp(0.83 - slip - holiday + rng.gauss(0, 0.02), 0.55, 0.95)


def episodes(timeline: Timeline, rng: random.Random, scale: float) -> dict[Month, list[dict]]:
    """Canonical episode records, bucketed by the month of ``missing_from``."""
    covered = set(timeline.months)
    interview = {m: _interview_rate(m, timeline, rng) for m in sorted(covered | {m.shift(1) for m in covered})}
    by_month: dict[Month, list[dict]] = {m: [] for m in timeline.months}
    for child, start, back in episode_times(timeline, rng, scale):
        month = Month.of(start.date())
        if month not in covered:
            continue  # warm-up history: shapes who is missing, never written
        if back > timeline.horizon or chance(rng, 0.002):
            back = None
        offered = completed = None
        if back is not None:
            offered = None if chance(rng, 0.01) else chance(rng, 0.965)
            if offered:
                q = interview[Month.of(back.date())]
                if chance(rng, q / 0.965):
                    completed = working_time(rng, back + timedelta(hours=1), back + timedelta(hours=72))
                elif chance(rng, 0.55):
                    completed = working_time(rng, back + timedelta(hours=73), back + timedelta(days=14))
                if completed is not None and completed > timeline.horizon:
                    completed = None
        by_month[month].append(
            {
                "child_id": child.child_id,
                "sex": None if chance(rng, 0.004) else ("female" if child.female else "male"),
                "missing_from": start,
                "returned_at": back,
                "looked_after": None if chance(rng, 0.003) else child.looked_after,
                "cse_risk": None if chance(rng, 0.02) else (child.cse != chance(rng, 0.04)),
                "return_interview_offered": offered,
                "return_interview_completed_at": completed,
                "_location": None if chance(rng, 0.3) else rng.choice(LOCATIONS),
            }
        )
    for month, records in by_month.items():
        records.sort(key=lambda r: (r["missing_from"], r["child_id"]))
        for seq, r in enumerate(records, start=1):
            r["episode_id"] = f"MFH-{month.year % 100:02d}{month.month:02d}-{seq:05d}"
    return by_month


def write(out_dir: Path, timeline: Timeline, seed: int, scale: float) -> tuple[list[Path], int]:
    """One csv per month, in the separators and encodings the service's exports come in."""
    rng = stream(seed, SOURCE)
    by_month = episodes(timeline, rng, scale)
    files, total = [], 0
    for index, month in enumerate(timeline.months):
        style = random.Random(rng.getrandbits(64))
        delimiter, encoding = FILE_FORMATS[(month.year * 12 + month.month) % len(FILE_FORMATS)]
        headers = LAYOUTS[index % len(LAYOUTS)]
        moment = cells.datetime_text(DATETIME_STYLES[index % len(DATETIME_STYLES)])
        flag = cells.boolean(style.choice(["YN", "YesNo", "TF", "10"]), text=True)
        formats = {
            "episode_id": cells.as_is,
            "child_id": cells.as_is,
            "sex": cells.enum(
                {"female": "F", "male": "M"} if style.random() < 0.7 else {"female": "Female", "male": "Male"}
            ),
            "missing_from": moment,
            "returned_at": moment,
            "return_interview_completed_at": moment,
            "looked_after": flag,
            "cse_risk": flag,
            "return_interview_offered": flag,
            "_location": cells.as_is,
        }
        columns = [Column(f, h, formats[f]) for f, h in zip(FIELDS, headers)]
        path = out_dir / f"MissingEpisodes_{month.code}.csv"
        total += write_csv(
            path, header=list(headers), rows=render(columns, by_month[month]), delimiter=delimiter, encoding=encoding
        )
        files.append(path)
    return files, total
