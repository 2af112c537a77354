"""``scorecard demo``: the whole job on the embedded default, with synthetic data, and a portal
account for each role (a data officer of the police return, the analyst, a board member), each
with a freshly generated password printed at the end. Run again, it gives the same accounts new
passwords (and unlocks them) instead of failing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from .build import BuildResult, build_quarter
from .config import Settings
from .generate import generate, write_bad_files
from .intake import IntakeRun, pending_files, run_intake
from .intake.pseudonym import demo_key
from .periods import Quarter

DEMO_QUARTERS = 12
DEMO_SEED = 42
# (role, email, sources): one demo account per role; .invalid is never a real mail domain.
DEMO_ACCOUNTS = (
    ("data_officer", "police.officer@demo.lscp.invalid", ("police_domestic_incidents",)),
    ("analyst", "analyst@demo.lscp.invalid", ()),
    ("board", "board@demo.lscp.invalid", ()),
)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str = field(default="", repr=False)  # shown once, on the terminal; only its hash is stored


def demo_accounts(settings: Settings) -> list[DemoLogin]:
    """Create the demo accounts (or give existing ones a new password): one login per role."""
    from .portal.accounts import add_user, find_user, set_password_hash
    from .portal.passwords import hash_password
    from .warehouse import connect_warehouse, init_warehouse

    engine = connect_warehouse(settings.warehouse_url)
    try:
        init_warehouse(engine)
        logins = []
        for role, email, sources in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(12)  # 16 characters
            existing = find_user(engine, email)
            if existing is None:
                add_user(engine, email, role, sources, password_hash=hash_password(password))
            else:
                set_password_hash(engine, existing.user_id, hash_password(password))
                role = existing.role
            logins.append(DemoLogin(role, email, password))
        return logins
    finally:
        engine.dispose()


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

    logins = demo_accounts(settings)
    say("")
    say(f"The partner portal: {settings.portal.url}/")
    say("  Start it in another terminal, from this folder (plain http on this machine, so cookies without https):")
    say(f"    SCORECARD_PORTAL_SECURE_COOKIES=false {_scorecard_command()} serve")
    say("  Demo logins (new passwords each time the demo runs):")
    width = max(len(login.email) for login in logins)
    for login in logins:
        say(f"    {login.role:12} {login.email:{width}}  password: {login.password}")
    return run, result


def _scorecard_command() -> str:
    """How to run ``scorecard`` from here: the virtual environment's own, when the demo runs from
    one that is not activated (``make demo`` runs ``.venv/bin/scorecard``), else the plain name."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "scorecard"
    on_path = shutil.which("scorecard")
    if beside.exists() and (on_path is None or Path(on_path).resolve() != beside.resolve()):
        try:
            return str(beside.relative_to(Path.cwd()))
        except ValueError:
            return str(beside)
    return "scorecard"
