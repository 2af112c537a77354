"""Build one quarter's scorecard: compute and store, render JSON/HTML/Excel/charts, email it.

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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .config import Settings
from .faults import checkpoint
from .periods import Quarter
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

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


@contextlib.contextmanager
def _quarter_lock(out: Path, quarter: Quarter):
    with open(out / f".{quarter.code}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(settings: Settings, scorecard: dict, history: list[dict], final: Path) -> dict[str, bytes]:
    """Render every file into a temporary folder, then swap it in; returns the chart images."""
    from .catalogue import load_catalogue
    from .render import render_charts, render_html, write_workbook

    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        (staging / "scorecard.json").write_text(json.dumps(scorecard, indent=2) + "\n", encoding="utf-8")
        charts = render_charts(scorecard)
        (staging / "charts").mkdir()
        for indicator_id, png in charts.items():
            (staging / "charts" / f"{indicator_id}.png").write_bytes(png)
        html = render_html(
            scorecard,
            charts={i: f"charts/{i}.png" for i in charts},
            suppression_threshold=settings.suppression_threshold,
        )
        (staging / "scorecard.html").write_text(html, encoding="utf-8")
        write_workbook(
            scorecard,
            staging / "scorecard.xlsx",
            catalogue=load_catalogue(),
            history=history,
            suppression_threshold=settings.suppression_threshold,
        )
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


def build_quarter(settings: Settings, quarter: Quarter, *, email: bool = True, generated_at: datetime | None = None) -> BuildResult:
    from .mail import deliver_or_queue, flush_queue
    from .render import build_scorecard_email, write_archive_index
    from .scorecard import build_scorecard, build_values, indicator_history, store_scorecard

    settings.ensure_folders()
    with open_warehouse(settings.warehouse_url) as engine:
        # Every value the scorecard and the history sheet show, computed once, side by side.
        values = build_values(engine, quarter, workers=BUILD_WORKERS)
        scorecard = build_scorecard(
            engine, quarter, suppression_threshold=settings.suppression_threshold, generated_at=generated_at,
            values_cache=values,
        )
        store_scorecard(engine, scorecard)
        checkpoint("after_marts_stored")
        history = indicator_history(
            engine, quarter, suppression_threshold=settings.suppression_threshold, values_cache=values
        )

    final = settings.out / quarter.code
    with _quarter_lock(settings.out, quarter):
        charts = _publish(settings, scorecard, history, final)
        write_archive_index(settings.out)

    where = None
    if email:
        message = build_scorecard_email(
            scorecard,
            sender=settings.mail.sender,
            recipients=settings.mail.pmsg_recipients,
            workbook=final / "scorecard.xlsx",
            charts=charts,
            suppression_threshold=settings.suppression_threshold,
        )
        flush_queue(settings.mail, settings.outbox)
        where = deliver_or_queue(message, settings.mail, settings.outbox)
    return BuildResult(
        quarter=quarter.code,
        folder=final,
        json=final / "scorecard.json",
        html=final / "scorecard.html",
        xlsx=final / "scorecard.xlsx",
        index=settings.out / "index.html",
        exceptions=list(scorecard["exceptions"]),
        email=where,
    )
