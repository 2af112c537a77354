"""The span of quarters a generated file set covers, and the shared notions of time in it.

Drift is measured back from the end of the span so that the latest year is always the one that
looks worst (that is what the scorecard should flag), however many quarters are generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..periods import Month, Quarter


@dataclass(frozen=True)
class Timeline:
    start: Quarter
    end: Quarter

    @classmethod
    def ending(cls, end: Quarter, quarters: int) -> Timeline:
        if quarters < 1:
            raise ValueError("quarters must be at least 1")
        return cls(end.shift(-(quarters - 1)), end)

    @property
    def quarters(self) -> list[Quarter]:
        out, q = [], self.start
        while q <= self.end:
            out.append(q)
            q = q.shift(1)
        return out

    @property
    def months(self) -> list[Month]:
        return [m for q in self.quarters for m in q.months]

    @property
    def first_day(self) -> date:
        return self.start.start

    @property
    def last_day(self) -> date:
        return self.end.end

    @property
    def horizon(self) -> datetime:
        """The extract time: nothing in any file is later than this (so nothing is in the future)."""
        return datetime.combine(self.last_day, datetime.min.time()).replace(hour=23, minute=59)

    def days(self, month: Month) -> list[date]:
        return [month.start + timedelta(days=i) for i in range((month.end_exclusive - month.start).days)]

    def years_before_end(self, d: date) -> float:
        return max(0.0, (self.last_day - d).days / 365.25)

    @property
    def financial_years(self) -> list[int]:
        return sorted({q.fy_start for q in self.quarters})


def annual_wave(d: date, peak: tuple[int, int], amplitude: float) -> float:
    """1 + amplitude on the peak (month, day) each year, 1 - amplitude six months away."""
    phase = (d - date(d.year, *peak)).days / 365.25
    return 1.0 + amplitude * math.cos(2 * math.pi * phase)


def run_date(month: Month) -> date:
    """When a partner would run the extract for a month: the third working day after it."""
    d, working = month.end_exclusive, 0
    while True:
        if d.weekday() < 5:
            working += 1
            if working == 3:
                return d
        d += timedelta(days=1)
