"""What the portal tells a user about commentary outside its own pages: the exceptions of the
latest quarter built that await their commentary (``pipelines.commentary`` keeps it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from ..catalogue import load_catalogue
from ..commentary import awaiting_commentary
from ..periods import Quarter
from ..warehouse.schema import mart_scorecard
from .accounts import PortalUser


@dataclass(frozen=True)
class CommentaryDue:
    quarter: Quarter
    ids: list[str]  # the exceptions awaiting commentary this user may write, catalogue order


def commentary_due(engine: Engine, user: PortalUser) -> CommentaryDue | None:
    """The latest quarter built and its exceptions awaiting commentary that ``user`` may write;
    None when nothing is built, the user may comment on nothing, or nothing awaits them."""
    if not user.can_comment:
        return None
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(mart_scorecard.c.quarter))).scalar_one_or_none()
    if latest is None:
        return None
    quarter = Quarter.parse(latest)
    sources = {ind.id: ind.source for ind in load_catalogue()}
    ids = [i for i in awaiting_commentary(engine, quarter).awaiting if user.can_comment_on(sources.get(i))]
    return CommentaryDue(quarter=quarter, ids=ids) if ids else None
