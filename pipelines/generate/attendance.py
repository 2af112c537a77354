"""School attendance: half-termly csv returns, one row per school per calendar month in the
half-term, from about 280 Leeds schools with stable URNs.

Calibrated to recent Leeds/England levels: overall absence about 6% in primary and 10% in
secondary; persistent absence about 17% and 27% of pupils; severe absence 4-5% in secondary.
Absence peaks in December-January and dips in September; it drifts down slowly over the years.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from ..periods import Month
from . import cells
from .leeds import PLACES, PRIMARY_KINDS, SAINTS, SECONDARY_KINDS
from .rand import clamp, poisson, stream
from .terms import HalfTerm, half_terms
from .timeline import Timeline
from .writers import Column, render, write_csv

SOURCE = "school_attendance"

# phase: (schools at scale 1, mean roll, sd roll, absence, unauthorised share, PA per absence,
#         severe share of pupils at the phase's mean absence, suspensions per 100 pupils a month)
PHASES = {
    "primary": (230, 330, 110, 0.060, 0.30, 2.85, 0.009, 0.15),
    "secondary": (40, 1200, 280, 0.101, 0.42, 2.68, 0.046, 2.0),
    "special": (7, 160, 50, 0.120, 0.25, 2.40, 0.060, 1.2),
    "other": (3, 120, 40, 0.220, 0.55, 2.00, 0.200, 3.0),
}
OTHER_KINDS = ["All-through", "Alternative provision", "PRU"]
SEASON = {9: 0.80, 10: 0.95, 11: 1.01, 12: 1.18, 1: 1.10, 2: 1.05, 3: 1.01, 4: 0.93, 5: 0.92, 6: 0.97, 7: 1.10}

DFE = (
    "time_period",
    "la_name",
    "school_urn",
    "school_name",
    "education_phase",
    "period_start",
    "period_end",
    "enrolments",
    "sess_possible",
    "sess_overall",
    "sess_unauthorised",
    "enrolments_pa_10_exact",
    "enrolments_pa_50_exact",
    "suspensions",
)
PLAIN = (
    "URN",
    "School Name",
    "Phase",
    "Period Start",
    "Period End",
    "Number on Roll",
    "Possible Sessions",
    "Overall Absence Sessions",
    "Unauthorised Absence Sessions",
    "PA Pupils",
    "SA Pupils",
    "Suspensions",
)
FIELDS = (
    "school_urn",
    "school_name",
    "phase",
    "period_start",
    "period_end",
    "enrolments",
    "sessions_possible",
    "sessions_absent",
    "sessions_unauthorised",
    "persistent_absentees",
    "severe_absentees",
    "suspensions",
)
DFE_PHASE = {
    "primary": "State-funded primary",
    "secondary": "State-funded secondary",
    "special": "State-funded special",
    **{k: k for k in OTHER_KINDS},
}
PLAIN_PHASE = {
    "primary": "Primary",
    "secondary": "Secondary",
    "special": "Special",
    "All-through": "All-through",
    "Alternative provision": "Alternative provision",
    "PRU": "PRU",
}


@dataclass(frozen=True)
class School:
    urn: int
    name: str
    phase: str  # canonical phase
    label: str  # phase as the school's return spells it (a key of DFE_PHASE)
    roll: int
    absence: float  # the school's typical overall absence rate


def schools(seed: int, scale: float) -> list[School]:
    """The same schools in every file of a run (URNs are how a school is tracked over time)."""
    rng = stream(seed, SOURCE + ":schools")
    counts = {phase: max(1, round(spec[0] * scale)) for phase, spec in PHASES.items()}
    total = sum(counts.values())
    urns = sorted(rng.sample(range(107_000, min(999_999, 107_000 + max(3_000, 4 * total))), total))
    rng.shuffle(urns)
    names: set[str] = set()
    out: list[School] = []
    for phase, n in counts.items():
        _, roll, sd, absence, *_ = PHASES[phase]
        for i in range(n):
            label = OTHER_KINDS[i % 3] if phase == "other" else phase
            name = _name(rng, phase, label, names)
            spread = math.exp(rng.gauss(0, 0.25) - 0.25**2 / 2)
            out.append(School(urns.pop(), name, phase, label, max(40, round(rng.gauss(roll, sd))), absence * spread))
    return sorted(out, key=lambda s: s.urn)


def _name(rng: random.Random, phase: str, label: str, taken: set[str]) -> str:
    for attempt in range(1000):
        place = rng.choice(PLACES)
        if phase == "primary":
            if rng.random() < 0.15:
                name = f"{rng.choice(SAINTS)} Catholic Primary School, {place}"
            else:
                name = f"{place} {rng.choice(PRIMARY_KINDS)}"
        elif phase == "secondary":
            name = f"{place} {rng.choice(SECONDARY_KINDS)}"
        elif phase == "special":
            name = f"{place} Specialist Inclusive Learning Centre"
        else:
            name = f"{place} {'Academy (All-through)' if label == 'All-through' else 'Learning Centre'}"
        if attempt > 50:
            name = f"{name} ({attempt})"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of school names")


def _roll(school: School, academic_year: int, seed: int) -> int:
    """Numbers on roll change each September."""
    rng = stream(seed, f"{SOURCE}:roll:{school.urn}:{academic_year}")
    return max(30, round(school.roll * (1 + 0.008 * (academic_year - 2022)) * (1 + rng.gauss(0, 0.03))))


def rows(
    half_term: HalfTerm,
    months: list[tuple],
    school_list: list[School],
    timeline: Timeline,
    city: dict[Month, float],
    rng: random.Random,
    seed: int,
) -> list[dict]:
    out: list[dict] = []
    for first, last, days in months:
        month = Month.of(first)
        drift = 1 + 0.03 * (timeline.years_before_end(first) - 0.5)
        level = SEASON[first.month] * drift * city[month]
        for school in school_list:
            _, _, _, phase_absence, unauth, pa_k, severe, suspend = PHASES[school.phase]
            roll = round(_roll(school, half_term.academic_year, seed) * (1 + rng.gauss(0, 0.004)))
            possible = round(roll * 2 * days * rng.uniform(0.985, 1.0))
            rate = clamp(school.absence * level * (1 + rng.gauss(0, 0.08)), 0.005, 0.6)
            absent = min(possible, round(possible * rate))
            persistent = min(roll, round(roll * clamp(rate * pa_k * (1 + rng.gauss(0, 0.08)), 0, 0.95)))
            severe_n = min(persistent, round(roll * severe * (rate / phase_absence) * (1 + rng.gauss(0, 0.15))))
            out.append(
                {
                    "school_urn": school.urn,
                    "school_name": school.name,
                    "phase": school.label,
                    "period_start": first,
                    "period_end": last,
                    "enrolments": roll,
                    "sessions_possible": possible,
                    "sessions_absent": absent,
                    "sessions_unauthorised": min(absent, round(absent * clamp(unauth * (1 + rng.gauss(0, 0.1)), 0, 1))),
                    "persistent_absentees": persistent,
                    "severe_absentees": max(0, severe_n),
                    "suspensions": poisson(rng, roll * suspend / 100 * days / 20),
                    "time_period": f"{half_term.academic_year}{(half_term.academic_year + 1) % 100:02d}",
                    "la_name": "Leeds",
                }
            )
    return out


def write(out_dir: Path, timeline: Timeline, seed: int, scale: float) -> tuple[list[Path], int]:
    """One csv per half-term, holding only the months inside the span."""
    rng = stream(seed, SOURCE)
    covered = set(timeline.months)
    city = {m: 1 + rng.gauss(0, 0.03) for m in timeline.months}  # city-wide shocks (illness waves)
    school_list = schools(seed, scale)
    files, total = [], 0
    for year in range(timeline.first_day.year - 1, timeline.last_day.year + 1):
        for half_term in half_terms(year):
            months = [m for m in half_term.months() if Month.of(m[0]) in covered]
            if not months:
                continue
            records = rows(half_term, months, school_list, timeline, city, rng, seed)
            dfe = half_term.number % 2 == 1
            date_format = (lambda d: d.isoformat()) if dfe else (lambda d: d.strftime("%d/%m/%Y"))
            number = cells.integer(thousands=not dfe)
            formats = {f: number for f in FIELDS[5:]}
            formats.update(
                {
                    "school_urn": cells.as_is,
                    "school_name": cells.as_is,
                    "phase": cells.enum(DFE_PHASE if dfe else PLAIN_PHASE),
                    "period_start": date_format,
                    "period_end": date_format,
                    "time_period": cells.as_is,
                    "la_name": cells.as_is,
                }
            )
            fields: tuple[str, ...]
            headers: tuple[str, ...]
            if dfe:
                fields = ("time_period", "la_name") + FIELDS
                headers = DFE
            else:
                fields, headers = FIELDS, PLAIN
            columns = [Column(f, h, formats[f]) for f, h in zip(fields, headers)]
            path = out_dir / f"Attendance_HT{half_term.number}_{half_term.label}.csv"
            total += write_csv(path, header=list(headers), rows=render(columns, records))
            files.append(path)
    return files, total
