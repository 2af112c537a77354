"""Synthetic partner extracts for demos, tests and benchmarks, calibrated to Leeds.

``generate`` writes what the partnership's inbox would receive over a span of quarters: police
domestic incidents (monthly xlsx), children's social work referrals (quarterly xlsx), school
attendance (half-termly csv), missing episodes (monthly csv) and the analyst's population and
benchmark reference files. Each source keeps the untidiness real extracts have (title rows,
totals rows, header aliases, mixed date and yes/no spellings, Windows-1252, semicolons) so the
intake is exercised, while every value stays valid. ``write_bad_files`` adds files that are not.

Deterministic: the same arguments give byte-identical files; only the default ``end_quarter``
depends on today's date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..periods import Quarter
from . import attendance, missing, police, reference, referrals
from .bad_files import write_bad_files
from .timeline import Timeline

__all__ = ["GeneratedFiles", "generate", "write_bad_files"]


@dataclass
class GeneratedFiles:
    files: list[Path]  # every file written, in write order
    start_quarter: Quarter
    end_quarter: Quarter
    children: dict = field(default_factory=dict)  # data rows written per source


def generate(
    out_dir: Path, *, quarters: int = 12, seed: int = 42, end_quarter: Quarter | None = None, scale: float = 1.0
) -> GeneratedFiles:
    """Write realistic partner extracts for ``quarters`` financial quarters ending with
    ``end_quarter`` (default: the latest complete quarter). ``scale`` multiplies volumes
    (10 is a regional consortium); time and memory grow linearly with it.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    end = end_quarter or Quarter.latest_complete(date.today())
    timeline = Timeline.ending(end, quarters)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = GeneratedFiles(files=[], start_quarter=timeline.start, end_quarter=timeline.end)
    writers = [
        (police.SOURCE, lambda: police.write(out_dir, timeline, seed, scale)),
        (referrals.SOURCE, lambda: referrals.write(out_dir, timeline, seed, scale)),
        (attendance.SOURCE, lambda: attendance.write(out_dir, timeline, seed, scale)),
        (missing.SOURCE, lambda: missing.write(out_dir, timeline, seed, scale)),
        ("population", lambda: reference.write_population(out_dir, timeline, seed)),
        ("benchmarks", lambda: reference.write_benchmarks(out_dir, timeline, seed)),
    ]
    for source, write in writers:
        files, rows = write()
        result.files.extend(files)
        result.children[source] = rows
    return result
