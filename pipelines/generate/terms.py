"""Leeds school half-terms and school days, by rule (close to the published term dates).

Attendance is reported per half-term, one row per school per calendar month inside it, so the
monthly SPC charts get a point for every month except August.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def easter(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    weekday = (32 + 2 * e + 2 * i - h - k) % 7  # "L" in Meeus's algorithm
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _weekday_on_or_after(d: date, weekday: int) -> date:
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def _weekday_on_or_before(d: date) -> date:
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def _last_monday(year: int, month: int) -> date:
    d = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    return d - timedelta(days=d.weekday())


@dataclass(frozen=True)
class HalfTerm:
    academic_year: int  # calendar year in which the academic year starts (September)
    number: int  # 1..6
    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.academic_year}-{(self.academic_year + 1) % 100:02d}"

    def months(self) -> list[tuple[date, date, int]]:
        """(first school day, last school day, school days) for each calendar month in it."""
        by_month: dict[tuple[int, int], list[date]] = {}
        for d in school_days(self.start, self.end):
            by_month.setdefault((d.year, d.month), []).append(d)
        return [(days[0], days[-1], len(days)) for days in by_month.values()]


def half_terms(academic_year: int) -> list[HalfTerm]:
    y, n = academic_year, academic_year + 1
    ht1_start = _weekday_on_or_after(date(y, 9, 3), 0) if date(y, 9, 3).weekday() >= 5 else date(y, 9, 3)
    october = _last_monday(y, 10)
    february = _weekday_on_or_after(date(n, 2, 12), 0)
    sunday = easter(n)
    if sunday >= date(n, 4, 14):  # late Easter: the break ends on Easter Monday
        ht4_end, ht5_start = sunday - timedelta(days=16), sunday + timedelta(days=2)
    else:
        ht4_end, ht5_start = sunday - timedelta(days=3), sunday + timedelta(days=15)
    spring = _last_monday(n, 5)
    return [
        HalfTerm(y, 1, ht1_start, october - timedelta(days=3)),
        HalfTerm(y, 2, october + timedelta(days=7), _weekday_on_or_before(date(y, 12, 20))),
        HalfTerm(
            y,
            3,
            _weekday_on_or_after(date(n, 1, 4), 0) if date(n, 1, 4).weekday() >= 5 else date(n, 1, 4),
            february - timedelta(days=3),
        ),
        HalfTerm(y, 4, february + timedelta(days=7), ht4_end),
        HalfTerm(y, 5, ht5_start, spring - timedelta(days=3)),
        HalfTerm(y, 6, spring + timedelta(days=7), _weekday_on_or_before(date(n, 7, 22))),
    ]


def bank_holidays(year: int) -> set[date]:
    """Bank holidays that can fall in term time (the rest are always in a holiday)."""
    may_day = _weekday_on_or_after(date(year, 5, 1), 0)
    return {may_day, easter(year) + timedelta(days=1), easter(year) - timedelta(days=2)}


def school_days(start: date, end: date) -> list[date]:
    holidays = bank_holidays(start.year) | bank_holidays(end.year)
    days, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in holidays:
            days.append(d)
        d += timedelta(days=1)
    return days
