"""The static archive page lists every built quarter with its headline counts and links."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipelines.render import write_archive_index


def _write(out: Path, quarter: str, label: str, rags: list[str], exceptions: list[str]) -> None:
    folder = out / quarter
    folder.mkdir(parents=True)
    scorecard = {
        "quarter": quarter,
        "label": label,
        "generated_at": "2024-07-15T06:00:03+01:00",
        "returns": [{"source": "a", "status": "received", "rows": 3}, {"source": "b", "status": "missing", "rows": 0}],
        "exceptions": exceptions,
        "indicators": [{"id": f"X{i}", "rag": r} for i, r in enumerate(rags)],
    }
    (folder / "scorecard.json").write_text(json.dumps(scorecard))
    (folder / "scorecard.html").write_text("<html></html>")


def test_index_lists_quarters_newest_first_with_counts(tmp_path):
    _write(tmp_path, "2024-25Q1", "2024-25 Q1", ["red", "amber", "green", "green", "none"], ["X0"])
    _write(tmp_path, "2024-25Q2", "2024-25 Q2", ["red", "red", "green"], ["X0", "X1"])
    (tmp_path / "outbox").mkdir()  # not a quarter: ignored
    html = write_archive_index(tmp_path).read_text()
    rows = re.findall(r'<tr id="([^"]+)">(.*?)</tr>', html, re.S)
    assert [r[0] for r in rows] == ["2024-25Q2", "2024-25Q1"]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", body, re.S) for _, body in rows]
    assert [c.strip() for c in cells[0][1:6]] == ["2", "2", "0", "1", "1 of 2"]
    assert [c.strip() for c in cells[1][1:6]] == ["1", "1", "1", "2", "1 of 2"]
    for href in re.findall(r'href="([^"]+)"', html):
        assert (tmp_path / href).exists(), href
    assert "http" not in html and "<script" not in html


def test_index_with_nothing_built(tmp_path):
    assert "No scorecard has been built yet" in write_archive_index(tmp_path).read_text()
