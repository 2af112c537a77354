#!/usr/bin/env python
"""Benchmark: how long the portal's pages take with five years of 10x-scale data (issue 17).

    .venv/bin/python benchmarks/portal_pages.py                      # 20 quarters at 10x, SQLite and PostgreSQL
    .venv/bin/python benchmarks/portal_pages.py --scale 2 --engines sqlite   # smaller and quicker
    .venv/bin/python benchmarks/portal_pages.py --render                     # the section again from the json

A script, not a test (the target is not asserted). For each engine: a fresh warehouse, five years
(20 quarters, ``--quarters``) of synthetic partner extracts at ``--scale`` (written once with
``scorecard generate`` into ``--work`` and kept for the next run) taken in by the product's
intake, the last ``--built`` quarters built; then a data officer (of the police return), a board
member and the analyst are created, the real portal is started (``scorecard serve``: uvicorn on a
free 127.0.0.1 port, in its own process, via ``tests/portal_server.py``), each signs in through
the login form, and each page their role may open is fetched ``--runs`` times after two warm-up
requests: the times are wall-clock at the client (the whole HTTP request over loopback).

Pages: ``/``, ``/returns``, ``/submissions``, ``/check``, ``/scorecards``, ``/scorecards/{quarter}``, an indicator page,
``/status``, ``/audit``, ``/users``. A page that answers 404 is not built in this version of the portal: it is recorded
as such and not timed, so the script runs before and after every page exists.

Writes ``benchmarks/portal_pages.json`` and the section between the ``portal-pages`` markers in
``benchmarks/analysis.md`` and ``benchmarks/RESULTS.md`` (target: median and 95th percentile
under 200 ms for every page).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

END_QUARTER = "2026-27Q2"
SEED = 42
KEY = "benchmark-key-not-secret"
PASSWORD = "benchmark password not secret"
TARGET_MS = 200.0
PG_ADMIN_URL = os.environ.get("SCORECARD_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RESULTS = HERE / "portal_pages.json"
MARK_BEGIN, MARK_END = "<!-- portal-pages: begin -->", "<!-- portal-pages: end -->"

ROLES = {
    "data_officer": ("officer@bench.lscp.invalid", ("police_domestic_incidents",)),
    "board": ("board@bench.lscp.invalid", ()),
    "analyst": ("analyst@bench.lscp.invalid", ()),
}
# Which pages each role opens (a page a role may not open is not timed for it).
PAGES = {
    "data_officer": ["/", "/returns", "/submissions", "/check"],
    "board": ["/", "/scorecards", "/scorecards/{quarter}", "/scorecards/{quarter}/indicators/DA01"],
    "analyst": [
        "/",
        "/returns",
        "/submissions",
        "/scorecards",
        "/scorecards/{quarter}",
        "/status",
        "/audit",
        "/users",
    ],
}


def say(text: str) -> None:
    print(text, flush=True)


def generated(work: Path, quarters: int, scale: float) -> Path:
    from pipelines.generate import generate
    from pipelines.periods import Quarter

    folder = work / f"portal-q{quarters}-x{scale:g}"
    done = folder / ".complete"
    if done.exists():
        say(f"Using the extracts already in {folder}")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    began = time.monotonic()
    say(f"Generating {quarters} quarters at {scale:g}x scale into {folder} ...")
    generate(folder, quarters=quarters, seed=SEED, end_quarter=Quarter.parse(END_QUARTER), scale=scale)
    done.write_text(f"{time.monotonic() - began:.0f} s\n")
    return folder


def warehouse_for(engine_name: str, home: Path) -> tuple[str, object]:
    """A fresh warehouse URL and a function that drops it afterwards."""
    if engine_name == "sqlite":
        return f"sqlite:///{home / 'warehouse.db'}", lambda: None
    from sqlalchemy import create_engine, text

    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


def prepare(engine_name: str, files: Path, work: Path, built: int) -> tuple[dict[str, str], dict]:
    """A home and warehouse with every file taken in, quarters built and one account per role."""
    from pipelines.build import build_quarter
    from pipelines.config import load_settings
    from pipelines.intake import run_intake
    from pipelines.periods import Quarter
    from pipelines.portal.accounts import add_user
    from pipelines.portal.passwords import hash_password
    from pipelines.warehouse import connect_warehouse, init_warehouse

    home = work / f"portal-home-{engine_name}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url, drop = warehouse_for(engine_name, home)
    env = {
        "SCORECARD_HOME": str(home),
        "SCORECARD_WAREHOUSE_URL": url,
        "SCORECARD_PSEUDONYM_KEY": KEY,
        "SCORECARD_SETTLE_SECONDS": "0",
    }
    settings = load_settings(env)
    settings.ensure_folders()
    for path in sorted(files.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, settings.inbox / path.name)
    began = time.monotonic()
    say(f"[{engine_name}] intake of {len(list(settings.inbox.iterdir()))} files (set-up, not measured) ...")
    run = run_intake(settings)
    intake_seconds = time.monotonic() - began
    last = Quarter.parse(END_QUARTER)
    began = time.monotonic()
    for back in range(built - 1, -1, -1):
        quarter = last.shift(-back)
        say(f"[{engine_name}] building {quarter.label} ...")
        build_quarter(settings, quarter, email=False)
    build_seconds = time.monotonic() - began
    engine = connect_warehouse(url)
    init_warehouse(engine)
    for role, (email, sources) in ROLES.items():
        add_user(engine, email, role, sources, password_hash=hash_password(PASSWORD))
    rows = _rows_held(engine)
    engine.dispose()
    facts = {
        "files": len(run.outcomes),
        "accepted": len(run.accepted),
        "rows_in_warehouse": rows,
        "setup_intake_seconds": round(intake_seconds, 1),
        "setup_build_seconds": round(build_seconds, 1),
        "quarters_built": built,
        "drop": drop,
    }
    return env, facts


def _rows_held(engine) -> int:
    from sqlalchemy import func, select

    from pipelines.sources import partner_sources
    from pipelines.warehouse.schema import table_for

    with engine.connect() as conn:
        return sum(
            conn.execute(select(func.count()).select_from(table_for(s.name))).scalar_one() for s in partner_sources()
        )


def signed_in(base: str, email: str):
    import httpx

    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no CSRF token in the login form"
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
    )
    assert response.status_code == 303, f"{email} could not sign in: {response.status_code}"
    return client


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def time_pages(base: str, runs: int) -> list[dict]:
    quarter = END_QUARTER
    measured = []
    for role, pages in PAGES.items():
        client = signed_in(base, ROLES[role][0])
        for template in pages:
            path = template.format(quarter=quarter)
            began = time.perf_counter()
            first = client.get(path)
            first_ms = (time.perf_counter() - began) * 1000
            entry: dict = {"role": role, "page": template, "path": path, "status": first.status_code}
            if first.status_code == 404:
                entry["note"] = "not in this version of the portal"
                measured.append(entry)
                say(f"  {role:12} {path:24} 404: not in this version of the portal")
                continue
            client.get(path)  # second warm-up
            times = []
            for _ in range(runs):
                began = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                if response.status_code != first.status_code:
                    raise RuntimeError(f"{path} answered {response.status_code}, then {first.status_code}")
            entry.update(
                first_ms=round(first_ms, 1),
                runs=runs,
                bytes=len(first.content),
                median_ms=round(statistics.median(times), 1),
                p95_ms=round(percentile(times, 0.95), 1),
                max_ms=round(max(times), 1),
            )
            entry["within_target"] = entry["median_ms"] < TARGET_MS and entry["p95_ms"] < TARGET_MS
            measured.append(entry)
            say(
                f"  {role:12} {path:24} {first.status_code}  median {entry['median_ms']:7.1f} ms  "
                f"p95 {entry['p95_ms']:7.1f} ms  ({len(first.content):,} bytes)"
            )
        client.close()
    return measured


def render(document: dict) -> str:
    lines = [
        MARK_BEGIN,
        "### The portal's pages (issue 17)",
        "",
        "`benchmarks/portal_pages.py` (a script, not part of `make bench` or the tests): the warehouse "
        f"holds {document['quarters']} quarters (five years) of synthetic extracts at "
        f"{document['scale']:g}x scale"
        + ("" if document["scale"] >= 10 else " (smaller than the 10x the issue names, to fit the time available)")
        + f", taken in by the product's intake, with the last {document['quarters_built']} quarters built; "
        "the real portal (`scorecard serve`, uvicorn) runs in its own process; a data officer (police), "
        "a board member and the analyst sign in through the form and each page their role opens is "
        f"fetched {document['runs']} times after two warm-up requests (wall-clock at the client, over "
        f"loopback). Target: median and 95th percentile under {TARGET_MS:.0f} ms. The returns and "
        "status pages keep what they count from the warehouse until the next load or build "
        "(`status.warehouse_state`), so the first request after a load counts again: that is the "
        "first-request column (the first request of each page in the run; a page whose counts an "
        "earlier page already made is warm there too). Measured "
        f"{document['date']} on {document['machine']['cores']} cores (load average at the start "
        f"{document['machine']['load']}), other sessions' work running beside it.",
        "",
        "| engine | rows in warehouse | role | page | status | first request ms | median ms | p95 ms | bytes |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in document["engines"]:
        for page in run["pages"]:
            if page["status"] == 404:
                timing = "not in this version | | | "
            else:
                first = f"{page['first_ms']:.1f}" if "first_ms" in page else ""
                timing = f"{first} | {page['median_ms']:.1f} | {page['p95_ms']:.1f} | {page['bytes']:,}"
            lines.append(
                f"| {run['engine']} | {run['rows_in_warehouse']:,} | {page['role']} | `{page['page']}` | "
                f"{page['status']} | {timing} |"
            )
    slow = [
        f"{run['engine']} {p['role']} {p['page']}"
        for run in document["engines"]
        for p in run["pages"]
        if p.get("within_target") is False
    ]
    missing = sorted({p["page"] for run in document["engines"] for p in run["pages"] if p["status"] == 404})
    lines.append("")
    lines.append("Every page timed is within the target." if not slow else f"Over the target: {', '.join(slow)}.")
    if missing:
        lines.append(
            f"Not yet in the portal when this ran (404, not timed): {', '.join(f'`{m}`' for m in missing)}; "
            "run the script again once they are. Until then the times above are only those of the pages "
            "this version has (which may be placeholders), and say nothing about the missing ones."
        )
    lines.append(MARK_END)
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if MARK_BEGIN in text and MARK_END in text:
        before, rest = text.split(MARK_BEGIN, 1)
        after = rest.split(MARK_END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0, help="volume multiplier (default 10)")
    parser.add_argument("--quarters", type=int, default=20, help="quarters of history (default 20: five years)")
    parser.add_argument("--built", type=int, default=4, help="how many of the latest quarters to build (default 4)")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite, postgresql or both (default)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scorecard-bench"), help="work folder")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the results files alone")
    parser.add_argument("--render", action="store_true", help="only write the section again from portal_pages.json")
    args = parser.parse_args(argv)
    if args.render:
        section = render(json.loads(RESULTS.read_text(encoding="utf-8")))
        for path in (HERE / "analysis.md", HERE / "RESULTS.md"):
            write_section(path, section)
        print(section)
        return 0
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    from tests.portal_server import running_portal

    args.work.mkdir(parents=True, exist_ok=True)
    files = generated(args.work, args.quarters, args.scale)
    document: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "scale": args.scale,
        "quarters": args.quarters,
        "quarters_built": args.built,
        "runs": args.runs,
        "target_ms": TARGET_MS,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        },
        "engines": [],
    }
    for engine_name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        env, facts = prepare(engine_name, files, args.work, args.built)
        drop = facts.pop("drop")
        try:
            say(f"[{engine_name}] the portal, signed in as each role:")
            with running_portal({k: v for k, v in env.items()}) as base:
                pages = time_pages(base, args.runs)
        finally:
            drop()
        document["engines"].append({"engine": engine_name, **facts, "pages": pages})
    section = render(document)
    print(section)
    if not args.no_write:
        RESULTS.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        for path in (HERE / "analysis.md", HERE / "RESULTS.md"):
            write_section(path, section)
        say(f"Wrote {RESULTS} and the portal section of {HERE / 'analysis.md'} and {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
