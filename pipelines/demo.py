"""``scorecard demo``: the whole job on the embedded default, with synthetic data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from .build import BuildResult, build_quarter
from .config import Settings
from .generate import generate, write_bad_files
from .intake import IntakeRun, pending_files, run_intake
from .intake.pseudonym import demo_key
from .periods import Quarter

DEMO_QUARTERS = 12
DEMO_SEED = 42


def run_demo(
    settings: Settings, *, quarters: int = DEMO_QUARTERS, seed: int = DEMO_SEED, today: date | None = None, say=print
) -> tuple[IntakeRun, BuildResult]:
    if not settings.pseudonym_key:
        settings = settings.with_key(demo_key(settings.key_file))
        say(f"No SCORECARD_PSEUDONYM_KEY set: using the demo key in {settings.key_file} (owner-only).")
    settings.ensure_folders()
    latest = Quarter.latest_complete(today or date.today())
    say(
        f"Writing {quarters} quarters of synthetic partner extracts ({latest.shift(1 - quarters).label} to {latest.label}) into {settings.inbox} ..."
    )
    generated = generate(settings.inbox, quarters=quarters, seed=seed, end_quarter=latest)
    bad = write_bad_files(settings.inbox, seed=seed, end_quarter=latest)
    say(f"  {len(generated.files)} partner files and {len(bad)} deliberately bad files.")

    say("Intake: processing the inbox ...")
    files = pending_files(settings.inbox, settle_seconds=0)
    run = run_intake(
        replace(settings, settle_seconds=0), files=files, progress=lambda i, n, o: say(f"  [{i}/{n}] {o.line()}")
    )
    accepted = len(run.accepted)
    say(f"  {accepted} accepted, {len(run.outcomes) - accepted} rejected; receipts in {settings.receipts}")

    say(f"Building the scorecard for {latest.label} ...")
    result = build_quarter(settings, latest, email=True)
    say("")
    say(
        f"Scorecard for {latest.label}: {len(result.exceptions)} exception(s): {', '.join(result.exceptions) or 'none'}"
    )
    say(f"  JSON : {result.json}")
    say(f"  HTML : {result.html}   (open it in a browser)")
    say(f"  Excel: {result.xlsx}")
    say(f"  Email: {result.email}")
    say(f"  Every built quarter: {result.index}")
    say(f"  Receipts: {settings.receipts}   Archive: {settings.archive}   Rejected: {settings.rejected}")
    say(f"  Warehouse: {settings.warehouse_url}")
    return run, result
