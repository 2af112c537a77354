"""Children's social work referrals: quarterly extracts from the case-management system.

About 10,000 referrals a year, 18-22% with domestic abuse identified. Re-referrals are not a flag
but a pattern: each referral is, with the month's re-referral probability, for a child already
referred in the 365 days before, so CS03 emerges from (child, date) pairs exactly as the pipeline
computes it, from the first month of the span (see ``History``).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from ..periods import Month, Quarter
from . import cells
from .leeds import FIRST_NAMES, SURNAMES, TEAMS
from .rand import Weighted, chance, clamp, poisson, stream
from .timeline import Timeline, run_date
from .writers import Column, render, write_xlsx

SOURCE = "csws_referrals"
PER_YEAR = 9_950
WEEKDAY = (1.3, 1.32, 1.32, 1.32, 1.34, 0.2, 0.2)  # referrals are accepted on working days
SOURCES = {"police": 28, "school": 20, "health": 15, "local_authority": 9, "individual": 10, "other": 18}

LAYOUTS = [
    (
        "Referral Number",
        "Mosaic ID",
        "Child Name",
        "Date of Referral",
        "Source of Referral",
        "DA Factor",
        "Referral Outcome",
        "Worker",
    ),
    ("Referral ID", "Child ID", None, "Referral Date", "Referral Source", "Domestic Abuse", "Outcome", "Team"),
    ("Referral Ref", "LCS ID", "Child Name", "REFERRAL_DATE", "Source", "Domestic Abuse Factor", "Next Step", None),
]
FIELDS = ("referral_id", "child_id", "_name", "referral_date", "referral_source", "domestic_abuse", "outcome", "_extra")
DATE_STYLES = [{"cell": 0.75, "uk_short": 0.25}, {"named": 1.0}, {"cell": 0.5, "uk": 0.5}]


def _season(d: date) -> float:
    if (d.month == 12 and d.day >= 21) or (d.month == 1 and d.day <= 2):
        return 0.5
    return {8: 0.78, 9: 1.1, 7: 0.95}.get(d.month, 1.03)


class History:
    """Who was referred when, over the last two years: enough to pick a re-referred child."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.by_day: dict[date, list[str]] = {}
        self.last: dict[str, date] = {}
        self.next_number = 100_000 + rng.randrange(50_000)
        self.names: dict[str, str] = {}

    def new_child(self) -> str:
        self.next_number += self.rng.randint(1, 3)
        child = f"MOS{self.next_number:06d}"
        self.names[child] = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(SURNAMES)}"
        return child

    def recent_child(self, d: date, first: date, today: dict[str, None]) -> str | None:
        """A child with a referral 1..365 days before ``d`` (and none yet today)."""
        span = min(365, (d - first).days)
        for _ in range(12):
            if span < 1:
                return None
            gap = 1 + int(self.rng.expovariate(1 / 110))
            if gap > span:
                gap = self.rng.randint(1, span)
            candidates = self.by_day.get(d - timedelta(days=gap))
            if candidates:
                child = self.rng.choice(candidates)
                if child not in today:
                    return child
        return None

    def lapsed_child(self, d: date, today: dict[str, None]) -> str | None:
        """A child referred before but not in the 365 days before ``d``."""
        candidates = self.by_day.get(d - timedelta(days=self.rng.randint(366, 729)))
        if candidates:
            child = self.rng.choice(candidates)
            if self.last[child] < d - timedelta(days=365) and child not in today:
                return child
        return None

    def add(self, child: str, d: date) -> None:
        self.by_day.setdefault(d, []).append(child)
        self.last[child] = d
        old = d - timedelta(days=730)
        self.by_day.pop(old, None)


def referrals(
    month: Month, timeline: Timeline, history: History, rng: random.Random, scale: float, nfa: float, ids: list[int]
) -> list[dict]:
    """Canonical referral records for one month."""
    ybe = timeline.years_before_end(month.start)
    rereferral = clamp(0.243 - 0.01 * ybe + rng.gauss(0, 0.008), 0.18, 0.3)
    da = clamp(0.188 + 0.012 * ybe + rng.gauss(0, 0.008), 0.15, 0.25)
    nfa = clamp(nfa + rng.gauss(0, 0.01), 0.12, 0.3)
    rest = 1 - nfa
    outcome = Weighted(
        {"assessment": 0.58 * rest / 0.8, "early_help": 0.17 * rest / 0.8, "other": 0.05 * rest / 0.8, "nfa": nfa}
    )
    mix: dict[str, float] = dict(SOURCES)
    if month.month == 8:
        mix["school"] = 6
    source: Weighted[str] = Weighted(mix)
    out: list[dict] = []
    for d in timeline.days(month):
        expected = PER_YEAR / 365.25 * scale * WEEKDAY[d.weekday()] * _season(d)
        today: dict[str, None] = {}  # insertion-ordered: a set's order would vary between runs
        for _ in range(poisson(rng, expected)):
            child = history.recent_child(d, timeline.first_day, today) if chance(rng, rereferral) else None
            if child is None:
                child = (history.lapsed_child(d, today) if chance(rng, 0.06) else None) or history.new_child()
            today[child] = None
            src = None if chance(rng, 0.01) else source(rng)
            p_da = da * (2.2 if src == "police" else 0.533)
            pending = (timeline.last_day - d).days < 14
            ids[0] += 1
            out.append(
                {
                    "referral_id": f"REF{ids[0]:07d}",
                    "child_id": child,
                    "_name": history.names[child],
                    "referral_date": d,
                    "referral_source": src,
                    "domestic_abuse": None if chance(rng, 0.004) else chance(rng, p_da),
                    "outcome": None if chance(rng, 0.25 if pending else 0.015) else outcome(rng),
                    "_extra": rng.choice(TEAMS),
                }
            )
        for child in today:
            history.add(child, d)
    return out


def _nfa_walk(rng: random.Random, quarters: list[Quarter]) -> dict[Quarter, float]:
    """NFA share drifts quarter to quarter around 20%, so CS05 wanders between green and red."""
    level, out = rng.gauss(0.2, 0.02), {}
    for q in quarters:
        level = clamp(0.2 + 0.6 * (level - 0.2) + rng.gauss(0, 0.032), 0.13, 0.29)
        out[q] = level
    return out


def write(out_dir: Path, timeline: Timeline, seed: int, scale: float) -> tuple[list[Path], int]:
    """One xlsx per quarter; header spellings and date styles vary between quarters."""
    rng = stream(seed, SOURCE)
    history = History(stream(seed, SOURCE + ":children"))
    nfa = _nfa_walk(rng, timeline.quarters)
    ids = [1_200_000 + rng.randrange(100_000)]
    files, total = [], 0
    for index, quarter in enumerate(timeline.quarters):
        records = [r for m in quarter.months for r in referrals(m, timeline, history, rng, scale, nfa[quarter], ids)]
        style = random.Random(rng.getrandbits(64))
        headers = LAYOUTS[index % len(LAYOUTS)]
        workers = [f"{style.choice(FIRST_NAMES)} {style.choice(SURNAMES)}" for _ in range(12)]
        for r in records:
            if headers[7] == "Worker":
                r["_extra"] = style.choice(workers)
        formats = {
            "referral_id": cells.as_is,
            "child_id": cells.as_is,
            "_name": cells.as_is,
            "referral_date": cells.date_cell(style, DATE_STYLES[index % len(DATE_STYLES)]),
            "referral_source": cells.enum(
                {
                    "police": "Police",
                    "school": "School",
                    "health": "Health",
                    "local_authority": style.choice(["LA", "Local Authority"]),
                    "individual": "Individual",
                    "other": "Other",
                }
            ),
            "domestic_abuse": cells.boolean(style.choice(["YN", "YesNo"])),
            "outcome": cells.enum(
                {
                    "assessment": style.choice(["Single Assessment", "Child and Family Assessment", "C&F Assessment"]),
                    "nfa": style.choice(["No Further Action", "NFA"]),
                    "early_help": "Early Help",
                    "other": "Other",
                }
            ),
            "_extra": cells.as_is,
        }
        columns = [Column(f, h, formats[f]) for f, h in zip(FIELDS, headers) if h]
        run = run_date(quarter.months[-1])
        preamble = (
            []
            if index % 3 == 1
            else [["Children's Social Work Service - referrals accepted"], [f"Quarter: {quarter.label}"], []]
        )
        path = out_dir / f"CSWS_Referrals_{quarter.financial_year}_Q{quarter.q}.xlsx"
        total += write_xlsx(
            path,
            sheet="Referrals",
            preamble=preamble,
            header=[c.header for c in columns],
            rows=render(columns, records),
            stamp=datetime.combine(run, datetime.min.time()).replace(hour=8),
            creator="CSWS Performance",
        )
        files.append(path)
    return files, total
