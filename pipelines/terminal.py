"""How the command line shows long work: progress bars on a terminal (rich), plain lines elsewhere.

On a terminal, intake shows a bar over the files and one for the file in hand, moving through its
stages (reading, checking N rows, pseudonymising, loading) as the file's child process reports them
(``pipelines.progress``); each file's outcome line is printed above the bars as it finishes. When
the output is not a terminal (a log, a pipe, cron) only the outcome lines are printed, as before.
The bars show file names, stages and counts, never a file's content.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from .intake.inbox import display_name
from .progress import FILE_STAGES, listening


def on_terminal() -> bool:
    return sys.stdout.isatty()


class IntakeDisplay:
    """The callbacks ``run_intake`` takes (``starting``, ``progress``), shown as bars or lines."""

    def __init__(self, bars=None):
        self.bars = bars
        self.files = bars.add_task("files", total=None) if bars else None
        self.file = bars.add_task("", total=len(FILE_STAGES), visible=False) if bars else None
        self.name = ""

    def starting(self, index: int, total: int, path: Path) -> None:
        if self.bars is None:
            return
        self.name = display_name(path.name)
        self.bars.update(self.files, total=total, description=f"file {index} of {total}")
        self.bars.reset(self.file, total=len(FILE_STAGES), visible=True, description=f"{self.name}: opening")

    def stage(self, name: str, rows: int | None, of: int | None = None) -> None:
        if self.bars is None:
            return
        if of is not None and rows is not None:  # a big file, a chunk at a time: the bar counts its rows
            self.bars.update(
                self.file,
                total=max(of, 1),
                completed=min(rows, of),
                description=f"{self.name}: {name} {rows:,} rows ({min(rows, of) * 100 // max(of, 1)}% of about {of:,})",
            )
            return
        step = FILE_STAGES.index(name) if name in FILE_STAGES else 0
        count = f" {rows:,} rows" if rows is not None else ""
        self.bars.update(self.file, total=len(FILE_STAGES), completed=step, description=f"{self.name}: {name}{count}")

    def outcome(self, index: int, total: int, outcome) -> None:
        line = f"[{index}/{total}] {outcome.line()}"
        if self.bars is None:
            print(line, flush=True)
            return
        self.bars.console.print(line, markup=False, highlight=False, soft_wrap=True)
        self.bars.update(self.files, total=total, completed=index)
        self.bars.update(self.file, total=len(FILE_STAGES), completed=len(FILE_STAGES), visible=False)


@contextlib.contextmanager
def intake_display() -> Iterator[IntakeDisplay]:
    """Bars while the block runs on a terminal; plain lines otherwise."""
    if not on_terminal():
        yield IntakeDisplay()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    display = IntakeDisplay(bars)
    with bars, listening(display.stage):
        yield display


@contextlib.contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner with ``message`` on a terminal while the block runs (e.g. writing a big file);
    nothing elsewhere (the command's result line says what was done)."""
    if not on_terminal():
        yield
        return
    from rich.console import Console

    with Console().status(message):
        yield
