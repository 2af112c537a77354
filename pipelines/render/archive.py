"""The static archive: ``out/index.html`` lists every built quarter with its headline counts,
and each quarter's folder holds a page per indicator (``indicators/<id>.html``) with its full
Making Data Count chart and SPC icons, linked from the quarter's scorecard page.

The index is built from the ``scorecard.json`` files on disk (not the warehouse), so it always
matches what was published; rewritten after each build. The indicator pages are written with
the rest of a quarter's files, from the same scorecard.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from ..model import IndicatorResult, Scorecard
from .charts import mdc_chart, month_label
from .icons import icons_used
from .templating import render
from .view import build_view

INDICATORS = "indicators"  # the folder of indicator pages and their charts, in a quarter's folder
ICONS = "icons"


def page_name(indicator_id: str) -> str:
    """A file name stem safe on any filesystem (catalogue ids already are)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", indicator_id).strip("-.") or "x"


def write_icons(scorecard: Scorecard, folder: Path) -> dict[str, str]:
    """Write each distinct SPC icon the scorecard shows to ``folder/icons``; icon key -> src
    relative to ``folder``."""
    (folder / ICONS).mkdir(exist_ok=True)
    srcs = {}
    for key, png in icons_used(scorecard).items():
        (folder / ICONS / f"{key}.png").write_bytes(png)
        srcs[key] = f"{ICONS}/{key}.png"
    return srcs


def full_chart_alt(indicator: IndicatorResult) -> str:
    """The chart's alt text: what it shows, no values (as safe as the chart itself)."""
    series = indicator.spc.series
    text = (
        f"Making Data Count chart of {indicator.name}: {len(series)} monthly points from "
        f"{month_label(series[0].month)} to {month_label(series[-1].month)}, with the mean and process limits"
    )
    steps = sum(
        1
        for a, b in zip(series, series[1:])
        if (a.mean, a.lower_limit, a.upper_limit) != (b.mean, b.lower_limit, b.upper_limit)
    )
    if steps:
        text += f" (recalculated {steps} time{'s' if steps != 1 else ''})"
    if indicator.target is not None:
        text += " and the target"
    kinds = sorted({p.judgement for p in series if p.judgement})
    if kinds:
        text += "; special cause points coloured: " + ", ".join(kinds)
    return text


def write_indicator_pages(
    scorecard: Scorecard, folder: Path, *, icons: Mapping[str, str], charts: Mapping[str, bytes] | None = None
) -> dict[str, str]:
    """Write a page per indicator, with its full chart beside it, to ``folder/indicators``;
    indicator id -> the page's href relative to ``folder``. ``icons`` are srcs relative to
    ``folder`` (``write_icons``); ``charts`` the full charts' PNGs by indicator id
    (``FullChart.page``; drawn here when not given)."""
    pages_dir = folder / INDICATORS
    pages_dir.mkdir(exist_ok=True)
    view = build_view(scorecard, icons={key: f"../{src}" for key, src in icons.items()})
    hrefs = {}
    for indicator, row in zip(scorecard.indicators, view.indicators):
        name = page_name(indicator.id)
        png = mdc_chart(indicator) if charts is None else charts.get(indicator.id)
        chart = None
        if png is not None:
            (pages_dir / f"{name}.png").write_bytes(png)
            chart = {"src": f"{name}.png", "alt": full_chart_alt(indicator)}
        html = render(
            "indicator.html.j2",
            autoescape=True,
            v=view,
            r=row,
            chart=chart,
            back="../scorecard.html",
            index="../../index.html",
        )
        (pages_dir / f"{name}.html").write_text(html, encoding="utf-8")
        hrefs[indicator.id] = f"{INDICATORS}/{name}.html"
    return hrefs


def _entry(folder: Path) -> dict | None:
    try:
        scorecard = json.loads((folder / "scorecard.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ratings = Counter(i.get("rag") for i in scorecard.get("indicators", []))
    returns = scorecard.get("returns", [])
    return {
        "quarter": scorecard.get("quarter", folder.name),
        "label": scorecard.get("label", folder.name),
        "generated_at": str(scorecard.get("generated_at", ""))[:16].replace("T", " "),
        "exceptions": len(scorecard.get("exceptions", [])),
        "red": ratings.get("red", 0),
        "amber": ratings.get("amber", 0),
        "green": ratings.get("green", 0),
        "received": sum(1 for r in returns if r.get("status") == "received"),
        "returns": len(returns),
        "href": f"{folder.name}/scorecard.html",
        "xlsx": f"{folder.name}/scorecard.xlsx" if (folder / "scorecard.xlsx").exists() else None,
    }


def write_archive_index(out_dir: Path) -> Path:
    """Write ``out_dir/index.html``, newest quarter first."""
    folders = [f for f in out_dir.iterdir() if not f.name.startswith(".") and (f / "scorecard.json").is_file()]
    entries = [e for e in (_entry(f) for f in folders) if e]
    entries.sort(key=lambda e: e["quarter"], reverse=True)
    path = out_dir / "index.html"
    temporary = path.with_name(".index.html.part")
    temporary.write_text(render("archive.html.j2", autoescape=True, entries=entries), encoding="utf-8")
    temporary.replace(path)
    return path
