"""UK financial-year quarters and calendar months.

Q1 is April-June, Q4 is January-March of the following calendar year. A quarter is written
``2024-25 Q1`` for people and ``2024-25Q1`` on the command line and in file names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
_QUARTER_RE = re.compile(r"^\s*(\d{4})-(\d{2})\s*Q([1-4])\s*$", re.IGNORECASE)


class PeriodError(ValueError):
    """A quarter written in a form we do not recognise."""


class QuarterNotEnded(PeriodError):
    """The quarter has not ended yet: a scorecard of it would show part of a quarter as a whole one."""


def require_ended(quarter: Quarter, today: date | None = None) -> None:
    """``QuarterNotEnded`` unless ``quarter`` ended before ``today`` (the UK date by default)."""
    today = today or datetime.now(UK).date()
    if today <= quarter.end:
        raise QuarterNotEnded(
            f"{quarter.label} has not ended (it ends on {quarter.end.day} {quarter.end:%B %Y}): "
            "a scorecard of it would show part of a quarter, so none is built"
        )


def add_months(d: date, months: int) -> date:
    """First day of the month ``months`` after ``d``'s month."""
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end_exclusive(self) -> date:
        return add_months(self.start, 1)

    @property
    def end(self) -> date:
        return self.end_exclusive - timedelta(days=1)

    @property
    def label(self) -> str:
        return self.start.strftime("%b %Y")

    @property
    def code(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        d = add_months(self.start, months)
        return Month(d.year, d.month)

    @classmethod
    def of(cls, d: date) -> Month:
        return cls(d.year, d.month)


@dataclass(frozen=True, order=True)
class Quarter:
    """A financial quarter: ``fy_start`` is the calendar year in which its financial year starts."""

    fy_start: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = _QUARTER_RE.match(text or "")
        if not m:
            raise PeriodError(f"'{text}' is not a quarter: write it like 2024-25Q1 (financial year, then Q1-Q4)")
        start, end_two, q = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if (start + 1) % 100 != end_two:
            raise PeriodError(
                f"'{text}' is not a financial year: the second year must follow the first, "
                f"as in {start}-{(start + 1) % 100:02d}Q{q}"
            )
        return cls(start, q)

    @classmethod
    def containing(cls, d: date) -> Quarter:
        fy = d.year if d.month >= 4 else d.year - 1
        q = ((d.month - 4) % 12) // 3 + 1
        return cls(fy, q)

    @classmethod
    def latest_complete(cls, today: date) -> Quarter:
        """The latest quarter that ended before ``today``."""
        return cls.containing(today).shift(-1)

    @classmethod
    def for_run(cls, moment: datetime) -> Quarter:
        """The quarter a scheduled build at ``moment`` reports: the latest one that ended before
        the run, judged on the UK date of the moment (a naive moment is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return cls.latest_complete(moment.astimezone(UK).date())

    @property
    def code(self) -> str:
        return f"{self.fy_start}-{(self.fy_start + 1) % 100:02d}Q{self.q}"

    @property
    def label(self) -> str:
        return f"{self.fy_start}-{(self.fy_start + 1) % 100:02d} Q{self.q}"

    @property
    def financial_year(self) -> str:
        return f"{self.fy_start}-{(self.fy_start + 1) % 100:02d}"

    @property
    def start(self) -> date:
        return add_months(date(self.fy_start, 4, 1), 3 * (self.q - 1))

    @property
    def end_exclusive(self) -> date:
        return add_months(self.start, 3)

    @property
    def end(self) -> date:
        return self.end_exclusive - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end_exclusive - self.start).days

    @property
    def months(self) -> list[Month]:
        first = Month.of(self.start)
        return [first.shift(i) for i in range(3)]

    def shift(self, quarters: int) -> Quarter:
        index = self.fy_start * 4 + (self.q - 1) + quarters
        return Quarter(index // 4, index % 4 + 1)

    def __str__(self) -> str:
        return self.code
