"""The analyst's reference files: mid-year child population and comparator benchmarks.

Population is ONS-like (Leeds has about 190,000 children, slowly rising); benchmarks give each
rated indicator England, statistical-neighbour and core-city values for each financial year.
"""

from __future__ import annotations

import math
from pathlib import Path

from .rand import stream
from .timeline import Timeline
from .writers import write_csv

# indicator: (England, statistical neighbours, core cities) in a recent year
BENCHMARKS = {
    "CS03": (22.4, 21.2, 23.8),
    "CS05": (17.5, 18.6, 20.9),
    "AT01": (5.5, 5.7, 6.1),
    "AT02": (9.0, 9.4, 10.1),
    "AT03": (15.0, 15.8, 17.2),
    "AT04": (26.0, 26.9, 28.6),
    "DA04": (92.0, 91.0, 89.5),
    "MI05": (76.0, 78.5, 72.0),
}
COMPARATORS = ("England", "Statistical Neighbours", "Core Cities")
ATTENDANCE = {"AT01", "AT02", "AT03", "AT04"}


def population(year: int) -> int:
    """Children aged 0-17 in Leeds: about 186,000 in 2015, levelling off towards 193,000."""
    return round(186_000 + 7_000 * (1 - math.exp(-(year - 2015) / 8)))


def write_population(out_dir: Path, timeline: Timeline, seed: int) -> tuple[list[Path], int]:
    rng = stream(seed, "population")
    years = range(timeline.start.fy_start, timeline.last_day.year + 1)
    rows = [[year, f"{population(year) + rng.randint(-150, 150):,}"] for year in years]
    path = out_dir / "ONS_MidYear_Population_0-17.csv"
    count = write_csv(
        path,
        header=["Year", "Population 0-17"],
        rows=rows,
        preamble=[["ONS mid-year population estimates: Leeds, children aged 0 to 17"], []],
    )
    return [path], count


def write_benchmarks(out_dir: Path, timeline: Timeline, seed: int) -> tuple[list[Path], int]:
    rng = stream(seed, "benchmarks")
    rows = []
    for fy in timeline.financial_years:
        period = f"{fy}-{(fy + 1) % 100:02d}"
        for indicator, values in BENCHMARKS.items():
            trend = 1 - 0.025 * (fy - 2023) if indicator in ATTENDANCE else 1.0
            for comparator, value in zip(COMPARATORS, values):
                rows.append([indicator, comparator, period, f"{value * trend * (1 + rng.gauss(0, 0.01)):.1f}"])
    path = out_dir / "Benchmarks.csv"
    count = write_csv(path, header=["Indicator", "Comparator", "Period", "Value"], rows=rows)
    return [path], count
