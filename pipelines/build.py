"""Build one quarter's scorecard: compute, decide, check the contract, store in the marts,
then render JSON/HTML/Excel/charts from the marts and email it. ``render_quarter`` does the
second half alone: a built quarter's files again, from the marts, with no staging table read.

Files are written to a temporary folder and swapped into ``out/<quarter>/`` at the end, under a
lock per quarter, so a rebuild replaces the quarter's files, two builds at once never mix their
files, and a failed build never leaves half a scorecard. The values are computed first, all
at once (``build_values``: one statement per indicator and 16 periods, on two connections side
by side), then the scorecard and the workbook's history sheet are made from them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from .config import Settings
from .contract import check_contract
from .faults import checkpoint
from .model import Scorecard
from .periods import Quarter, require_ended
from .warehouse import open_warehouse

# Connections computing indicators side by side in a build: the reference machine has 2 cores.
BUILD_WORKERS = min(2, os.cpu_count() or 1)


@dataclass
class BuildResult:
    quarter: str
    folder: Path
    json: Path
    html: Path
    xlsx: Path
    index: Path
    exceptions: list[str]
    email: str | None  # where the email went: "sent to host:port", the .eml path, or "queued in ..."
    awaiting_commentary: list[str] = field(default_factory=list)  # exceptions shown "commentary awaited"

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


@contextlib.contextmanager
def _quarter_lock(out: Path, quarter: Quarter) -> Iterator[None]:
    with open(out / f".{quarter.code}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(scorecard: Scorecard, final: Path) -> dict[str, bytes]:
    """Render every file into a temporary folder, then swap it in; returns the sparklines (the
    email's charts). The folder: scorecard.json, scorecard.html, scorecard.xlsx, charts/ (the
    sparklines), icons/ (the SPC icons shown) and indicators/ (a page and full chart per
    indicator). The contract is checked before anything is written."""
    from .render import (
        render_charts,
        render_full_charts,
        render_html,
        write_icons,
        write_indicator_pages,
        write_workbook,
    )

    contract = scorecard.contract()
    check_contract(contract)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        (staging / "scorecard.json").write_text(json.dumps(contract, indent=2) + "\n", encoding="utf-8")
        charts = render_charts(scorecard)
        (staging / "charts").mkdir()
        for indicator_id, png in charts.items():
            (staging / "charts" / f"{indicator_id}.png").write_bytes(png)
        icons = write_icons(scorecard, staging)
        full = render_full_charts(scorecard)  # each drawn once, for the pages and the workbook
        pages = write_indicator_pages(scorecard, staging, icons=icons, charts={i: c.page for i, c in full.items()})
        html = render_html(scorecard, charts={i: f"charts/{i}.png" for i in charts}, icons=icons, pages=pages)
        (staging / "scorecard.html").write_text(html, encoding="utf-8")
        write_workbook(scorecard, staging / "scorecard.xlsx", charts={i: c.workbook for i, c in full.items()})
        staging.chmod(0o700)
        if final.exists():
            retired = final.with_name(f".{final.name}-old")
            shutil.rmtree(retired, ignore_errors=True)
            final.rename(retired)
            staging.rename(final)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return charts


def _write_outputs(settings: Settings, scorecard: Scorecard) -> tuple[Path, dict[str, bytes]]:
    """The quarter's folder and archive index, from the scorecard the marts hold."""
    from .render import write_archive_index

    quarter = Quarter.parse(scorecard.quarter)
    final = settings.out / quarter.code
    with _quarter_lock(settings.out, quarter):
        charts = _publish(scorecard, final)
        write_archive_index(settings.out)
    return final, charts


def _result(settings: Settings, scorecard: Scorecard, final: Path, email: str | None) -> BuildResult:
    return BuildResult(
        quarter=scorecard.quarter,
        folder=final,
        json=final / "scorecard.json",
        html=final / "scorecard.html",
        xlsx=final / "scorecard.xlsx",
        index=settings.out / "index.html",
        exceptions=list(scorecard.exceptions),
        email=email,
        awaiting_commentary=[i.id for i in scorecard.indicators if i.commentary_awaited],
    )


class NoReturns(RuntimeError):
    """No partner return arrived for the quarter: a scorecard of it would be empty, so none is
    built, published or emailed (the analyst is told instead)."""


def compute_quarter(
    settings: Settings, quarter: Quarter, *, generated_at: datetime | None = None, claim_revisions: bool = True
) -> Scorecard:
    """Compute, decide and check one quarter and store it in the marts; what the outputs will
    show. ``QuarterNotEnded`` for a quarter still running or to come, ``NoReturns`` when no
    partner return arrived for it (nothing is stored in either case).

    Its notes list the revisions of earlier quarters' published figures that no scorecard has
    carried yet (``pipelines.revisions``): this is the next scorecard, and they become its own
    (a rebuild of it shows them again). ``claim_revisions=False`` (a republication by the
    revision check itself) keeps only the ones it already carried.

    Each indicator carries the latest commentary entered for the quarter (``pipelines.commentary``);
    commentary entered later shows after the next build of the quarter."""
    from .commentary import latest_commentary, with_commentary
    from .marts import store_scorecard
    from .revisions import footnotes_for

    require_ended(quarter)
    settings.ensure_folders()
    with open_warehouse(settings.warehouse_url) as engine:
        built = computed_scorecard(engine, settings, quarter, generated_at=generated_at)
        built = replace(built, revisions=footnotes_for(engine, quarter, claim=claim_revisions))
        # The lead officers' commentary as it stands now: the outputs show what this build read.
        built = with_commentary(built, latest_commentary(engine, quarter))
        check_contract(built.contract())  # an invalid scorecard never reaches the marts
        store_scorecard(engine, built)
        checkpoint("after_marts_stored")
    return built


def computed_scorecard(
    engine: Engine, settings: Settings, quarter: Quarter, *, generated_at: datetime | None = None
) -> Scorecard:
    """The quarter's scorecard computed and decided from the warehouse as it stands (nothing
    stored, no notes); ``NoReturns`` when no partner return arrived for it."""
    from .scorecard import build_scorecard, build_values

    # Every value the scorecard and the history sheet show, computed once, side by side.
    values = build_values(engine, quarter, workers=BUILD_WORKERS)
    built = build_scorecard(
        engine,
        quarter,
        suppression_threshold=settings.suppression_threshold,
        generated_at=generated_at,
        values_cache=values,
    )
    if built.returns and all(r.status == "missing" for r in built.returns):
        raise NoReturns(
            f"no partner return has arrived for {quarter.label}: no scorecard was built or sent "
            "(check the inbox and the receipts, or build a quarter that has data)"
        )
    return built


def email_quarter(settings: Settings, quarter: Quarter) -> str:
    """Email a rendered quarter to the sub group: the scorecard the marts hold, with the workbook
    and charts its folder holds. Sent once per build (a retry after a mail failure that queued it,
    or a rerun of this step alone, sends nothing twice); returns where it went."""
    from .mail import deliver_or_queue, flush_queue
    from .marts import load_scorecard
    from .render import build_scorecard_email

    with open_warehouse(settings.warehouse_url) as engine:
        scorecard = load_scorecard(engine, quarter)
    final = settings.out / quarter.code
    sent = settings.out / ".sent" / f"{quarter.code}-{scorecard.generated_at.replace(':', '')}"
    if sent.exists():
        return sent.read_text(encoding="utf-8")
    charts = {png.stem: png.read_bytes() for png in sorted((final / "charts").glob("*.png"))}
    message = build_scorecard_email(
        scorecard,
        sender=settings.mail.sender,
        recipients=settings.mail.pmsg_recipients,
        workbook=final / "scorecard.xlsx",
        charts=charts,
    )
    flush_queue(settings.mail, settings.outbox)
    where = deliver_or_queue(message, settings.mail, settings.outbox)
    sent.parent.mkdir(parents=True, exist_ok=True)
    sent.write_text(where, encoding="utf-8")
    return where


def build_quarter(
    settings: Settings,
    quarter: Quarter,
    *,
    email: bool = True,
    generated_at: datetime | None = None,
    before_email: Callable[[Scorecard], None] | None = None,
) -> BuildResult:
    """The whole build: compute (into the marts), render (from the marts), email. The DAG runs
    the same three steps as separate tasks, so a retry redoes only the one that failed.
    ``before_email`` is handed the scorecard built, once its files are written and before it is
    emailed (``scorecard build`` prints the exceptions awaiting commentary there)."""
    built = compute_quarter(settings, quarter, generated_at=generated_at)
    result = render_quarter(settings, quarter)
    if before_email is not None:
        before_email(built)
    if email:
        result.email = email_quarter(settings, quarter)
    return result


def render_quarter(settings: Settings, quarter: Quarter) -> BuildResult:
    """Write a built quarter's JSON, HTML, charts and workbook again from the marts alone
    (nothing is computed, no staging table is read, no email is sent); ``marts.NotBuilt`` if
    the quarter was never built."""
    from .marts import load_scorecard

    settings.ensure_folders()
    with open_warehouse(settings.warehouse_url) as engine:
        scorecard = load_scorecard(engine, quarter)
    final, _ = _write_outputs(settings, scorecard)
    return _result(settings, scorecard, final, None)
