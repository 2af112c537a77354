"""Deliberately bad files for the demo, so the receipts have something to say.

1. A staff rota: a spreadsheet that matches no source's header ("no recognised header").
2. A missing-episodes return with five bad rows among a few hundred good ones: the file is accepted
   and exactly those rows are rejected, each with its reason.
3. A referrals export with US month-first dates: most rows fail, so the whole file is rejected
   (more than 10% bad rows) and nothing from it is loaded.

Their keys use their own prefixes (``RIS-``, ``USX``) so they never overwrite generated rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from ..periods import Quarter
from .leeds import FIRST_NAMES, SURNAMES
from .rand import chance, stream
from .writers import write_csv, write_xlsx

ROTA_HEADER = ["Name", "Role", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Hours"]
MISSING_HEADER = [
    "MFH Ref",
    "CHILD",
    "Gender",
    "MIS_START",
    "MIS_END",
    "CLA",
    "CSE Risk",
    "RHI Offered",
    "RHI Completed",
]
REFERRAL_HEADER = ["Referral ID", "Child ID", "Referral Date", "Referral Source", "Domestic Abuse", "Outcome"]


def _rota(inbox: Path, rng, quarter: Quarter) -> Path:
    month = quarter.months[-1]
    week = month.start + timedelta(days=(7 - month.start.weekday()) % 7)
    rows = []
    for _ in range(14):
        shifts = [rng.choice(["9-5", "8-4", "12-8", "OFF", "AL", "10-6"]) for _ in range(7)]
        rows.append(
            [
                f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                rng.choice(["Social Worker", "Team Manager", "Business Support", "Advanced Practitioner"]),
                *shifts,
                sum(8 for s in shifts if "-" in s),
            ]
        )
    path = inbox / f"Staff_Rota_wc_{week:%Y-%m-%d}.xlsx"
    write_xlsx(
        path,
        sheet="Rota",
        preamble=[[f"Front Door staff rota - week commencing {week:%d/%m/%Y}"], []],
        header=ROTA_HEADER,
        rows=rows,
        stamp=datetime.combine(week, datetime.min.time()),
        creator="Team Manager",
    )
    return path


def _missing(inbox: Path, rng, quarter: Quarter) -> Path:
    month = quarter.months[-1]
    horizon = datetime.combine(month.end, datetime.min.time()).replace(hour=23, minute=59)
    rows = []
    for n in range(1, 241):
        start = datetime.combine(month.start + timedelta(days=rng.randrange(month.end.day)), datetime.min.time())
        start = start.replace(hour=rng.choice(range(12, 24)), minute=rng.randrange(60))
        returned = start + timedelta(minutes=rng.randint(60, 60 * 48))
        back: datetime | None = returned
        done: datetime | None = returned + timedelta(minutes=rng.randint(180, 60 * 70)) if chance(rng, 0.85) else None
        if back is not None and back > horizon:
            back = done = None
        elif done is not None and done > horizon:
            done = None
        rows.append(
            [
                f"RIS-{month.year % 100:02d}{month.month:02d}-{n:04d}",
                f"WYP9{rng.randrange(10**6):06d}",
                rng.choice(["F", "M"]),
                f"{start:%d/%m/%Y %H:%M}",
                f"{back:%d/%m/%Y %H:%M}" if back else "",
                rng.choice(["Y", "N", "N", "N"]),
                rng.choice(["Y", "N", "N", "N", "N"]),
                "Y" if back else "",
                f"{done:%d/%m/%Y %H:%M}" if done else "",
            ]
        )
    # Five bad rows, each with one plain problem a data officer can fix.
    rows[17][3] = f"31/02/{month.year} 18:30"  # no such date
    rows[58][1] = ""  # child id missing
    rows[101][4] = (datetime.strptime(rows[101][3], "%d/%m/%Y %H:%M") - timedelta(hours=5)).strftime("%d/%m/%Y %H:%M")
    rows[101][8] = ""  # returned before going missing
    rows[150][2] = "X"  # not a recognised sex
    rows[199][5] = "Maybe"  # not yes or no
    path = inbox / f"MissingEpisodes_{month.code}_resubmitted.csv"
    write_csv(path, header=MISSING_HEADER, rows=rows)
    return path


def _us_dates(inbox: Path, rng, quarter: Quarter) -> Path:
    rows = []
    days = (quarter.end - quarter.start).days + 1
    for n in range(1, 151):
        d = quarter.start + timedelta(days=rng.randrange(days))
        if d.day <= 12 and chance(rng, 0.8):  # mostly days after the 12th: impossible day-first
            d = d.replace(day=rng.randint(13, 28))
        rows.append(
            [
                f"USX{n:06d}",
                f"MOS9{rng.randrange(10**5):05d}",
                f"{d.month:02d}/{d.day:02d}/{d.year}",
                rng.choice(["Police", "School", "Health"]),
                rng.choice(["Y", "N", "N", "N"]),
                rng.choice(["Single Assessment", "NFA", "Early Help"]),
            ]
        )
    path = inbox / f"CSWS_Referrals_{quarter.financial_year}_Q{quarter.q}_US_export.csv"
    write_csv(path, header=REFERRAL_HEADER, rows=rows)
    return path


def write_bad_files(inbox: Path, *, seed: int = 42, end_quarter: Quarter | None = None) -> list[Path]:
    """Write the three bad files into ``inbox`` (for the last month or quarter of ``end_quarter``)."""
    quarter = end_quarter or Quarter.latest_complete(date.today())
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    rng = stream(seed, "bad-files")
    return [_rota(inbox, rng, quarter), _missing(inbox, rng, quarter), _us_dates(inbox, rng, quarter)]
