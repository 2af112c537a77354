"""Late-return reminders: ``scorecard remind`` and the daily ``portal_reminders`` DAG.

For the last complete quarter (judged on the UK date the reminder runs), a partner source's
return is **late** when the warehouse holds none of its rows for the quarter (as ``scorecard
status`` counts returns) and the day it was due, ``due_days`` after the quarter ended (the
source's definition), has passed. Each active data officer of a late source (a portal user with
the role ``data_officer`` and that source, not disabled) gets one email for that quarter and
source, ever: each one sent is recorded in ``portal_reminders`` before it goes, so a second run
(or a retried task) sends nothing again.

A source with no active portal officer falls back to its ``SCORECARD_DATA_OFFICER_<SOURCE>``
address (the one intake sends its receipts to), also once per quarter; with neither, nobody is
reminded and the run says so.

The email names the return, the quarter and the day it was due, and links to the portal's
returns and check pages. It carries no identifier and nothing a partner sent.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from .config import Settings
from .periods import UK, Quarter
from .sources import Source, partner_sources

log = logging.getLogger(__name__)


def uk_today() -> date:
    return datetime.now(UK).date()


def due_date(source: Source, quarter: Quarter) -> date:
    """The day a quarter's return is due: ``due_days`` after the quarter's last day."""
    return quarter.end + timedelta(days=source.due_days)


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Reminder:
    source: str
    email: str
    via: str  # portal (an officer's account) | settings (SCORECARD_DATA_OFFICER_<SOURCE>)
    outcome: str  # where the message went: "sent to host:port", an outbox path, or queued


@dataclass(frozen=True)
class LateReturn:
    source: str
    title: str
    due: str  # ISO date
    reminded: tuple[str, ...]  # addresses reminded by this run
    already: tuple[str, ...]  # addresses reminded by an earlier run
    nobody: bool  # no active portal officer and no SCORECARD_DATA_OFFICER_<SOURCE>


@dataclass(frozen=True)
class ReminderRun:
    on: str  # the date judged on (ISO)
    quarter: str
    label: str
    late: tuple[LateReturn, ...]
    sent: tuple[Reminder, ...]
    not_yet_due: tuple[str, ...]  # sources missing but still within their due days
    received: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        lines = [f"Reminders on {self.on} for {self.label} ({self.quarter}):"]
        if not self.late:
            lines.append("  no return is late: nobody reminded")
        for late in self.late:
            head = f"  {late.title} ({late.source}) was due on {late.due}: "
            if late.nobody:
                lines.append(
                    head + f"late, but no active data officer on the portal and no "
                    f"SCORECARD_DATA_OFFICER_{late.source.upper()}: nobody reminded"
                )
                continue
            parts = []
            if late.reminded:
                parts.append("reminded " + ", ".join(late.reminded))
            if late.already:
                parts.append("already reminded " + ", ".join(late.already))
            lines.append(head + "; ".join(parts))
        for source in self.not_yet_due:
            lines.append(f"  {source}: not received, not yet due")
        lines.append(f"{len(self.sent)} reminder(s) sent.")
        return lines


def officers_of(engine: Engine, source: str) -> list[str]:
    """The addresses of the active (not disabled) data officers of ``source`` on the portal."""
    from .warehouse.schema import portal_user_sources, portal_users

    query = (
        select(portal_users.c.email)
        .join(portal_user_sources, portal_user_sources.c.user_id == portal_users.c.user_id)
        .where(
            portal_users.c.role == "data_officer",
            portal_users.c.disabled_at.is_(None),
            portal_user_sources.c.source == source,
        )
        .order_by(portal_users.c.email)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def reminder_email(settings: Settings, source: Source, quarter: Quarter, due: date, recipient: str) -> EmailMessage:
    """Plain English: which return, which quarter, when it was due; links to the portal."""
    url = settings.portal.url
    message = EmailMessage()
    message["Subject"] = f"Late return: {source.title}, {quarter.label}"  # short: never folded
    message["From"] = settings.mail.sender
    message["To"] = recipient
    message.set_content(
        f"Hello,\n\n"
        f"The {source.title} return ({source.agency}) for {quarter.label}, the quarter from "
        f"{_long(quarter.start)} to {_long(quarter.end)}, was due on {_long(due)}. "
        f"The scorecard has not received it yet.\n\n"
        f"Please send it through the partner portal. You can check a file before you submit it, "
        f"and see which returns the partnership holds for your sources:\n\n"
        f"  Check a file:  {url}/check\n"
        f"  Your returns:  {url}/returns\n\n"
        f"If you have sent it in the last day, it may still be waiting to be processed, and you "
        f"can ignore this message. This is the only reminder for this return and quarter.\n\n"
        f"The LSCP performance scorecard\n"
    )
    return message


def _claim(engine: Engine, quarter: Quarter, source: str, email: str) -> bool:
    """Record the reminder before it is sent; False if one was already recorded."""
    from .warehouse.schema import portal_reminders

    try:
        with engine.begin() as conn:
            conn.execute(
                insert(portal_reminders).values(
                    quarter=quarter.code,
                    source=source,
                    email=email,
                    sent_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
    except IntegrityError:
        return False
    return True


def _unclaim(engine: Engine, quarter: Quarter, source: str, email: str) -> None:
    from .warehouse.schema import portal_reminders

    with engine.begin() as conn:
        conn.execute(
            delete(portal_reminders).where(
                portal_reminders.c.quarter == quarter.code,
                portal_reminders.c.source == source,
                portal_reminders.c.email == email,
            )
        )


def send_reminders(settings: Settings, *, today: date | None = None) -> ReminderRun:
    """Remind the data officers of every late return of the last complete quarter, once each."""
    from .mail import deliver_or_queue
    from .scorecard import quarter_returns
    from .warehouse import open_warehouse

    today = today or uk_today()
    quarter = Quarter.latest_complete(today)
    sources = {s.name: s for s in partner_sources()}
    late: list[LateReturn] = []
    sent: list[Reminder] = []
    not_yet: list[str] = []
    received: list[str] = []
    with open_warehouse(settings.warehouse_url) as engine:
        with engine.connect() as conn:
            returns = quarter_returns(conn, quarter)
        for found in returns:
            source = sources[found.source]
            if found.status == "received":
                received.append(source.name)
                continue
            due = due_date(source, quarter)
            if today <= due:
                not_yet.append(source.name)
                continue
            addresses = [(a, "portal") for a in officers_of(engine, source.name)]
            fallback = settings.mail.data_officers.get(source.name)
            if not addresses and fallback:
                addresses = [(fallback.strip().lower(), "settings")]
            reminded, already = [], []
            for address, via in addresses:
                if not _claim(engine, quarter, source.name, address):
                    already.append(address)
                    continue
                try:
                    outcome = deliver_or_queue(
                        reminder_email(settings, source, quarter, due, address), settings.mail, settings.outbox
                    )
                except Exception:
                    _unclaim(engine, quarter, source.name, address)  # not sent: the next run tries again
                    raise
                log.info("reminded the data officer of %s for %s: %s", source.name, quarter.code, outcome)
                reminded.append(address)
                sent.append(Reminder(source.name, address, via, outcome))
            late.append(
                LateReturn(
                    source=source.name,
                    title=source.title,
                    due=due.isoformat(),
                    reminded=tuple(reminded),
                    already=tuple(already),
                    nobody=not addresses,
                )
            )
    return ReminderRun(
        on=today.isoformat(),
        quarter=quarter.code,
        label=quarter.label,
        late=tuple(late),
        sent=tuple(sent),
        not_yet_due=tuple(not_yet),
        received=tuple(received),
    )
