"""The static archive: ``out/index.html`` lists every built quarter with its headline counts.

Built from the ``scorecard.json`` files on disk (not the warehouse), so it always matches what
was published; rewritten after each build.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .templating import render


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
