"""Lead officers' commentary on the scorecard's indicators: why a figure moved, what is being done.

Kept in the warehouse (``indicator_commentary``), one row per entry: a new entry for an indicator
and quarter supersedes the earlier ones, which are kept (what a published scorecard said can be
found again); the latest (by ``written_at``, then entry id) is the one shown. Entered through the
portal (``pipelines.portal.routes.commentary``) or ``scorecard comment`` on the command line.

The build reads the latest entries of its quarter into ``IndicatorResult.commentary``
(``build.compute_quarter``), so the outputs show what the build decided and no renderer looks the
warehouse up. Before the build emails, ``awaiting_commentary`` says which exceptions of the
quarter's last build have none yet.

The text is plain text, at most ``MAX_CHARS`` characters, shown escaped wherever it appears and
never turned into markup. It is never written to a log or the audit log (only which indicator
and quarter were commented on).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from .catalogue import load_catalogue
from .decide import is_exception
from .model import Commentary, IndicatorResult, Scorecard
from .periods import Quarter
from .warehouse.schema import indicator_commentary, mart_indicator_quarter

MAX_CHARS = 2000
MAX_AUTHOR = 254


class CommentaryError(ValueError):
    """Commentary that cannot be kept, with why in plain English."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def clean_text(text: str) -> str:
    """The text as kept: line endings made ``\\n``, blank lines and spaces at either end removed.
    Refused (``CommentaryError``) when empty, longer than ``MAX_CHARS`` or holding control
    characters other than line breaks and tabs."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise CommentaryError("the commentary is empty: write what moved and what is being done")
    if len(text) > MAX_CHARS:
        raise CommentaryError(
            f"the commentary is {len(text):,} characters long: at most {MAX_CHARS:,} are kept, so shorten it"
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise CommentaryError("the commentary holds control characters: write it as plain text")
    return text


def clean_author(author: str) -> str:
    author = " ".join(author.split())
    if not author:
        raise CommentaryError("the commentary needs an author: who wrote it")
    if len(author) > MAX_AUTHOR or any(unicodedata.category(c) == "Cc" for c in author):
        raise CommentaryError(f"the author must be a name or email address of at most {MAX_AUTHOR} characters")
    return author


def indicator_names() -> dict[str, str]:
    """{indicator id: name} in catalogue order."""
    return {ind.id: ind.name for ind in load_catalogue()}


def add_commentary(
    engine: Engine, quarter: Quarter, indicator_id: str, text: str, author: str, *, at: datetime | None = None
) -> Commentary:
    """Keep a new entry for the indicator and quarter (the earlier ones stay, superseded) and
    return it as a build will read it. ``CommentaryError`` for an indicator not in the catalogue
    or text that cannot be kept."""
    names = indicator_names()
    if indicator_id not in names:
        raise CommentaryError(f"no indicator {indicator_id!r}: the indicators are {', '.join(names)}")
    entry = Commentary(
        text=clean_text(text), author=clean_author(author), written_at=(at or utcnow()).replace(microsecond=0)
    )
    with engine.begin() as conn:
        conn.execute(
            insert(indicator_commentary).values(
                quarter=quarter.code,
                indicator_id=indicator_id,
                text=entry.text,
                author=entry.author,
                written_at=entry.written_at,
            )
        )
    return entry


def latest_commentary(connectable: Engine | Connection, quarter: Quarter) -> dict[str, Commentary]:
    """{indicator id: its latest commentary} for the quarter (indicators without one left out)."""
    query = (
        select(indicator_commentary)
        .where(indicator_commentary.c.quarter == quarter.code)
        .order_by(indicator_commentary.c.written_at, indicator_commentary.c.commentary_id)
    )
    if isinstance(connectable, Engine):
        with connectable.connect() as conn:
            rows = conn.execute(query).mappings().all()
    else:
        rows = connectable.execute(query).mappings().all()
    found: dict[str, Commentary] = {}
    for row in rows:  # oldest first: the last one of each indicator wins
        found[row["indicator_id"]] = Commentary(text=row["text"], author=row["author"], written_at=row["written_at"])
    return found


def commentary_history(engine: Engine, quarter: Quarter, indicator_id: str) -> list[Commentary]:
    """Every entry for the indicator and quarter, newest first (the first is the one shown)."""
    query = (
        select(indicator_commentary)
        .where(indicator_commentary.c.quarter == quarter.code, indicator_commentary.c.indicator_id == indicator_id)
        .order_by(indicator_commentary.c.written_at.desc(), indicator_commentary.c.commentary_id.desc())
    )
    with engine.connect() as conn:
        return [
            Commentary(text=r["text"], author=r["author"], written_at=r["written_at"])
            for r in conn.execute(query).mappings()
        ]


def with_commentary(scorecard: Scorecard, found: dict[str, Commentary]) -> Scorecard:
    """The scorecard with each indicator's latest commentary (None where there is none)."""
    return replace(scorecard, indicators=tuple(replace(i, commentary=found.get(i.id)) for i in scorecard.indicators))


def built_exceptions(engine: Engine, quarter: Quarter) -> list[str] | None:
    """The exceptions of the quarter's last build as it decided them (from the marts), in
    catalogue order; None when the quarter has not been built."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                mart_indicator_quarter.c.indicator_id,
                mart_indicator_quarter.c.rag,
                mart_indicator_quarter.c.spc_variation,
            ).where(mart_indicator_quarter.c.quarter == quarter.code)
        ).all()
    if not rows:
        return None
    order = {ind_id: n for n, ind_id in enumerate(indicator_names())}
    found = [r.indicator_id for r in rows if is_exception(r.rag, r.spc_variation or "")]
    return sorted(found, key=lambda i: (order.get(i, len(order)), i))


@dataclass(frozen=True)
class Awaiting:
    """The exceptions of a quarter's last build, and those with no commentary in the warehouse now."""

    quarter: Quarter
    built: bool
    exceptions: list[str]
    awaiting: list[str]
    names: dict[str, str]

    def line(self) -> str:
        """``N exception(s) awaiting commentary: ...``, or why there is nothing to list."""
        if not self.built:
            return f"{self.quarter.label} has not been built yet: build it without email to see its exceptions"
        return awaiting_line(self.awaiting, self.names)


def awaiting_line(ids: Iterable[str], names: dict[str, str]) -> str:
    ids = list(ids)
    if not ids:
        return "0 exception(s) awaiting commentary"
    listed = "; ".join(f"{i} {names[i]}" if i in names else i for i in ids)
    return f"{len(ids)} exception(s) awaiting commentary: {listed}"


def awaiting_commentary(engine: Engine, quarter: Quarter) -> Awaiting:
    """Which exceptions of the quarter's last build have no commentary yet (entries made since
    the build count: the next build will show them)."""
    names = indicator_names()
    exceptions = built_exceptions(engine, quarter)
    if exceptions is None:
        return Awaiting(quarter=quarter, built=False, exceptions=[], awaiting=[], names=names)
    have = latest_commentary(engine, quarter)
    return Awaiting(
        quarter=quarter,
        built=True,
        exceptions=exceptions,
        awaiting=[i for i in exceptions if i not in have],
        names=names,
    )


def awaited_in(indicators: Iterable[IndicatorResult]) -> list[str]:
    """The exceptions of a built scorecard that have no commentary ("commentary awaited")."""
    return [i.id for i in indicators if i.commentary_awaited]
