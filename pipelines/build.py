"""Build one quarter's scorecard: compute and store, render JSON/HTML/Excel/charts, email it.

Files are written to a temporary folder and swapped into ``out/<quarter>/`` at the end, so a
rebuild replaces the quarter's files and a failed build never leaves half a scorecard.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .config import Settings
from .periods import Quarter
from .warehouse import connect_warehouse, init_warehouse


@dataclass
class BuildResult:
    quarter: str
    folder: Path
    json: Path
    html: Path
    xlsx: Path
    index: Path
    exceptions: list[str]
    email: str | None  # where the email went: "sent to host:port" or the .eml path

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def build_quarter(settings: Settings, quarter: Quarter, *, email: bool = True, generated_at: datetime | None = None) -> BuildResult:
    from .catalogue import load_catalogue
    from .mail import deliver
    from .render import build_scorecard_email, render_charts, render_html, write_archive_index, write_workbook
    from .scorecard import build_scorecard, indicator_history, store_scorecard

    settings.ensure_folders()
    engine = connect_warehouse(settings.warehouse_url)
    try:
        init_warehouse(engine)
        scorecard = build_scorecard(
            engine, quarter, suppression_threshold=settings.suppression_threshold, generated_at=generated_at
        )
        store_scorecard(engine, scorecard)
        history = indicator_history(engine, quarter, suppression_threshold=settings.suppression_threshold)
    finally:
        engine.dispose()

    final = settings.out / quarter.code
    staging = Path(tempfile.mkdtemp(prefix=f".{quarter.code}-", dir=settings.out))
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
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
        where = deliver(message, settings.mail, settings.outbox)
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
