#!/usr/bin/env python
"""Benchmarks: the product's intake and build, against a lower bound and a naive pipeline.

    make bench                                   # the full run (about two hours on 2 cores)
    .venv/bin/python benchmarks/run.py --quick   # tiny sizes: a smoke run in a few minutes
    .venv/bin/python benchmarks/run.py --workloads c,d --engines sqlite --pipelines product
    .venv/bin/python benchmarks/run.py --render  # RESULTS.md again from results.json

Workloads (generated with ``scorecard generate`` into ``--work``, default /tmp/scorecard-bench,
and kept there for the next run):

    a  two years of Leeds-scale data, all sources        generate --quarters 8 --scale 1
    b  the same at 10x (a regional consortium)            generate --quarters 8 --scale 10
    c  one missing_episodes csv of 1,000,000 rows         generate --source missing_episodes --rows 1000000
    d  one police xlsx of 200,000 rows                    generate --source police_domestic_incidents --rows 200000
    e  build one quarter over five years of 10x history   generate --quarters 20 --scale 10, intake
                                                          (set-up, not measured), build twice
    f  one missing_episodes csv of 10,000,000 rows        generate --source missing_episodes --rows 10000000
                                                          (with SCORECARD_MAX_FILE_MB=2000: it is about 940 MB)

For a-d and f, on each engine (a SQLite file; a fresh PostgreSQL database on 127.0.0.1:5432), three
pipelines run on the same files: ``product`` (``run_intake``; stage times from its outcomes),
``lower`` (lower bound) and ``naive`` (see ``references.py``). Every measured job runs in a fresh
subprocess, with the heavy modules already imported and the warehouse already created before its
clock starts; its peak memory is the subprocess's maximum resident set size (``wait4``). A job
that runs longer than ``--timeout`` minutes is stopped and recorded with the stage it was in.

Results merge into ``benchmarks/results.json`` (a partial run updates only what it ran) and
``benchmarks/RESULTS.md`` is rendered from it, with ``benchmarks/analysis.md`` (hand-written,
kept across runs) as its analysis section. ``--quick`` writes into the work folder instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

STAGES = ("read", "map_type", "validate", "pseudonymise", "load")
PIPELINES = ("product", "lower", "naive")
ENGINES = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get("SCORECARD_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
END_QUARTER = "2026-27Q2"
KEY = "benchmark-key-not-secret"

WORKLOADS = {
    "a": {
        "title": "(a) two years of Leeds-scale data, all sources",
        "kind": "intake",
        "generate": {"quarters": 8, "scale": 1},
    },
    "b": {
        "title": "(b) two years at 10x scale (a regional consortium), all sources",
        "kind": "intake",
        "generate": {"quarters": 8, "scale": 10},
    },
    "c": {
        "title": "(c) one missing_episodes csv of 1,000,000 rows",
        "kind": "intake",
        "generate": {"source": "missing_episodes", "rows": 1_000_000},
    },
    "d": {
        "title": "(d) one police xlsx of 200,000 rows",
        "kind": "intake",
        "generate": {"source": "police_domestic_incidents", "rows": 200_000},
    },
    "f": {
        "title": "(f) one missing_episodes csv of 10,000,000 rows",
        "kind": "intake",
        "generate": {"source": "missing_episodes", "rows": 10_000_000},
        "max_file_mb": 2000,  # about 940 MB: over the default 100 MB limit
        "file_seconds": 7200,
    },
    "e": {
        "title": "(e) build one quarter with five years of history at 10x scale",
        "kind": "build",
        "generate": {"quarters": 20, "scale": 10},
    },
}
QUICK = {
    "a": {"quarters": 2, "scale": 0.2},
    "b": {"quarters": 2, "scale": 0.5},
    "c": {"source": "missing_episodes", "rows": 20_000},
    "d": {"source": "police_domestic_incidents", "rows": 5_000},
    "e": {"quarters": 5, "scale": 0.3},
    "f": {"source": "missing_episodes", "rows": 50_000},
}

# Where a stopped product job was: the innermost of these functions on its main thread's stack.
STAGE_OF_FUNCTION = {
    "read_file": "read",
    "identify": "identify (read)",
    "check_rows": "map_type",
    "check_chunk": "map_type",
    "run_suite": "validate",
    "pseudonymise": "pseudonymise",
    "load_rows": "load",
    "_finish": "receipt/archive",
    "copy_from": "snapshot (hash)",
    "run_limited": "in the file's child process",
    "build_scorecard": "build: compute",
    "_publish": "build: render",
    "_read_lower": "read",
    "type_frame": "map_type",
    "_naive_validate": "validate",
    "to_sql": "load",
}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ================================ the worker (one measured job) ================================


def _preimport(kind: str) -> float:
    """Import what the job will use before its clock starts (GX alone takes seconds)."""
    started = time.perf_counter()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import great_expectations  # noqa: F401
    import openpyxl  # noqa: F401
    import pandas  # noqa: F401
    import psycopg  # noqa: F401
    import python_calamine  # noqa: F401
    import sqlalchemy  # noqa: F401

    import pipelines.intake  # noqa: F401
    import pipelines.intake.checking  # noqa: F401
    import pipelines.warehouse  # noqa: F401

    if kind == "build":
        import matplotlib  # noqa: F401

        import pipelines.build  # noqa: F401
        import pipelines.render  # noqa: F401
        import pipelines.scorecard  # noqa: F401
    return time.perf_counter() - started


def _settings(job: dict):
    from pipelines.config import load_settings

    env = {
        "SCORECARD_HOME": job["home"],
        "SCORECARD_WAREHOUSE_URL": job["url"],
        "SCORECARD_PSEUDONYM_KEY": KEY,
        "SCORECARD_SETTLE_SECONDS": "0",
    }
    if job.get("max_file_mb"):
        env["SCORECARD_MAX_FILE_MB"] = str(job["max_file_mb"])
    if job.get("file_seconds"):
        env["SCORECARD_FILE_SECONDS"] = str(job["file_seconds"])
    return load_settings(env)


def _job_product(job: dict, result: dict) -> None:
    from pipelines.intake import run_intake
    from pipelines.warehouse import open_warehouse

    settings = _settings(job)
    settings.ensure_folders()
    with open_warehouse(settings.warehouse_url):
        pass  # the schema made before the clock starts
    files = []
    for name in job["files"]:  # into the inbox (intake only takes files from there)
        target = settings.inbox / Path(name).name
        shutil.copyfile(name, target)
        files.append(target)
    if job.get("profile"):
        # Intake examines each file in a forked child (``isolation.run_limited``), out of the
        # profiler's sight: a profiled run examines it in this process instead (its memory and
        # time limits are then not applied, and its peak memory is not the product's).
        import pipelines.intake.process as process

        process.run_limited = lambda work, limits: work()
    profiler = _profiler(job)
    started = time.perf_counter()
    with _MemorySampler() as memory:
        run = run_intake(settings, files=files)
    total = time.perf_counter() - started
    _profile_done(profiler, job)
    result["rss_by_stage_mb"] = {k: round(v) for k, v in sorted(memory.peaks.items(), key=lambda kv: -kv[1])}
    stages = dict.fromkeys(STAGES, 0.0)
    statuses: dict[str, int] = {}
    for outcome in run.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        for stage, seconds in (outcome.timings or {}).items():
            stages[stage] = stages.get(stage, 0.0) + seconds
        if outcome.status != "accepted":
            result.setdefault("not_accepted", []).append(f"{outcome.file}: {outcome.status}: {outcome.message}"[:300])
    stages["other"] = max(0.0, total - sum(stages.values()))
    result.update(
        total=total,
        stages=stages,
        rows=sum(o.rows_loaded for o in run.outcomes),
        rows_rejected=sum(o.rows_rejected for o in run.outcomes),
        files=len(run.outcomes),
        statuses=statuses,
    )


def _job_lower(job: dict, result: dict) -> None:
    import references

    references.create_tables(job["url"], job["layouts"], "lower")
    stages = dict.fromkeys(("read", "map_type", "load"), 0.0)
    rows = 0
    profiler = _profiler(job)
    started = time.perf_counter()
    for layout in job["layouts"]:
        rows += references.lower_bound_file(layout, job["url"], f"lower_{layout['source']}", stages)
    total = time.perf_counter() - started
    _profile_done(profiler, job)
    stages["other"] = max(0.0, total - sum(stages.values()))
    result.update(total=total, stages=stages, rows=rows, files=len(job["layouts"]))


def _job_naive(job: dict, result: dict) -> None:
    import references
    from sqlalchemy import create_engine

    references.create_tables(job["url"], job["layouts"], "naive")
    engine = create_engine(job["url"])
    stages = dict.fromkeys(("read", "map_type", "validate", "load"), 0.0)
    rows = failing = 0
    profiler = _profiler(job)
    started = time.perf_counter()
    for layout in job["layouts"]:
        n, f = references.naive_file(layout, engine, f"naive_{layout['source']}", stages)
        rows, failing = rows + n, failing + f
    total = time.perf_counter() - started
    _profile_done(profiler, job)
    engine.dispose()
    stages["other"] = max(0.0, total - sum(stages.values()))
    result.update(total=total, stages=stages, rows=rows, files=len(job["layouts"]), failing_expectations=failing)


def _job_build(job: dict, result: dict) -> None:
    from pipelines.build import build_quarter
    from pipelines.periods import Quarter

    settings = _settings(job)
    quarter = Quarter.parse(job["quarter"])
    builds = []
    profiler = _profiler(job)
    for _ in range(2):
        started = time.perf_counter()
        built = build_quarter(settings, quarter, email=False)
        builds.append(time.perf_counter() - started)
    _profile_done(profiler, job)
    result.update(total=builds[0], builds=builds, exceptions=len(built.exceptions), quarter=quarter.code)


def _job_setup(job: dict, result: dict) -> None:
    """Intake of the build workload's history (not measured: its time is shown for information)."""
    _job_product(job, result)


def _job_idle(job: dict, result: dict) -> None:
    result.update(total=0.0)


class _MemorySampler:
    """Samples the process's resident set size every 0.2 s, with the stage the main thread is
    in (from its stack), so the peak can be put down to a stage: {stage: peak MB}."""

    def __init__(self) -> None:
        import threading

        self.peaks: dict[str, float] = {}
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _stage(self) -> str:
        frame = sys._current_frames().get(self._main)
        while frame is not None:
            stage = STAGE_OF_FUNCTION.get(frame.f_code.co_name)
            if stage:
                return stage
            frame = frame.f_back
        return "other"

    def _rss(self, pid: str) -> int:
        """Pages resident in ``pid`` and its children (intake examines each file in a child)."""
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        for child in children:
            try:
                pages += self._rss(child)
            except (OSError, ValueError, IndexError):
                pass
        return pages

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                rss = self._rss(str(os.getpid())) * self._page / 2**20
            except (OSError, ValueError, IndexError):
                return
            stage = self._stage()
            self.peaks[stage] = max(self.peaks.get(stage, 0.0), rss)


def _profiler(job: dict):
    if not job.get("profile"):
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _profile_done(profiler, job: dict) -> None:
    if profiler is None:
        return
    import io
    import pstats

    profiler.disable()
    profiler.dump_stats(job["profile"])
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(40)
        Path(f"{job['profile']}.{order}.txt").write_text(text.getvalue(), encoding="utf-8")


def _own_peak_mb() -> float:
    """This process's own high-water resident set (``VmHWM``). Unlike ``ru_maxrss`` it starts
    afresh at ``exec``: Linux carries a parent's high-water mark through fork and exec into the
    child's ``ru_maxrss``, so a runner that once held a big file (sniffing a 950 MB csv's layout)
    would lend every job it starts its own peak (issue 20: 1,970 MB reported for jobs whose
    processes never passed 480 MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker(job_path: str) -> int:
    import faulthandler
    import resource

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    stacks = open(job["stacks"], "w")  # noqa: SIM115 - kept open for the signal handler
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
    os.chdir(job["cwd"])  # no stray .env from the repo
    result: dict = {"kind": job["kind"], "preimport": _preimport(job["kind"])}
    {
        "product": _job_product,
        "lower": _job_lower,
        "naive": _job_naive,
        "build": _job_build,
        "setup": _job_setup,
        "idle": _job_idle,
    }[job["kind"]](job, result)
    result["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["own_peak_mb"] = _own_peak_mb()
    result["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(job["result"]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


# ================================ the runner ================================


def code_version() -> str:
    """The commit, plus a digest of any uncommitted change to ``pipelines/``: the code a job ran."""
    import hashlib

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", "pipelines"], cwd=REPO, capture_output=True).stdout
    except OSError:
        return "unknown"
    return head + (f"+{hashlib.sha256(diff).hexdigest()[:8]}" if diff else "")


def run_job(job: dict, work: Path, name: str, timeout_min: float | None) -> dict:
    """Run ``job`` in a fresh subprocess; its result with wall time and peak memory."""
    code = code_version()
    jobs = work / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    job = dict(job, result=str(jobs / f"{name}.result.json"), stacks=str(jobs / f"{name}.stacks.txt"), cwd=str(work))
    Path(job["result"]).unlink(missing_ok=True)
    (jobs / f"{name}.job.json").write_text(json.dumps(job), encoding="utf-8")
    logfile = (jobs / f"{name}.log").open("w")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--job", str(jobs / f"{name}.job.json")],
        stdout=logfile,
        stderr=subprocess.STDOUT,
        cwd=str(work),
    )
    stopped = None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        elapsed = time.monotonic() - started
        if timeout_min and elapsed > timeout_min * 60:
            process.send_signal(signal.SIGUSR1)  # the worker writes its stack: which stage it was in
            time.sleep(3)
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            stopped = elapsed
            break
        time.sleep(0.2)
    process.returncode = status
    wall = time.monotonic() - started
    logfile.close()
    peak_mb = usage.ru_maxrss / 1024
    if stopped is not None:
        stage = _stage_from_stacks(Path(job["stacks"]))
        log(f"  {name}: STOPPED after {stopped / 60:.1f} min in stage {stage}")
        return {
            "stopped": True,
            "elapsed": stopped,
            "stage": stage,
            "peak_mb": peak_mb,
            "wall_process": wall,
            "code": code,
        }
    if status != 0 or not Path(job["result"]).exists():
        tail = (jobs / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        log(f"  {name}: FAILED (status {status}); log tail:\n{tail}")
        return {"failed": True, "error": tail[-800:], "peak_mb": peak_mb, "wall_process": wall}
    result = json.loads(Path(job["result"]).read_text(encoding="utf-8"))
    if "own_peak_mb" in result:  # the job's own peak and its children's, not a peak it inherited
        result["wait4_maxrss_mb"] = peak_mb
        peak_mb = max(result["own_peak_mb"], result["children_maxrss_mb"])
    result.update(peak_mb=peak_mb, wall_process=wall, code=code)
    return result


def _stage_from_stacks(path: Path) -> str:
    """The innermost known function on the main thread's stack (faulthandler lists it first,
    innermost frame first)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "unknown"
    blocks = text.split("\n\n")
    main = next((b for b in blocks if "Current thread" in b or "most recent call first" in b), text)
    for line in main.splitlines():
        for function, stage in STAGE_OF_FUNCTION.items():
            if f"in {function}" in line:
                return stage
    return "unknown"


# --- databases ---


def new_database(engine_name: str, work: Path, name: str) -> str:
    if engine_name == "sqlite":
        folder = work / "db"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy import create_engine, text

    database = f"scorecard_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


def fresh_place(engine_name: str, work: Path, name: str) -> tuple[str, Path]:
    """A new empty warehouse and an empty SCORECARD_HOME for the job ``name``."""
    url = new_database(engine_name, work, name)
    home = work / "homes" / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return url, home


def drop_database(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


# --- workloads ---


def generate_workload(key: str, params: dict, work: Path) -> tuple[Path, dict]:
    """Files of a workload, generated with the ``scorecard generate`` command (kept for reuse)."""
    folder = work / "data" / "_".join([key] + [f"{k}{v}" for k, v in sorted(params.items())])
    marker = folder / ".generated.json"
    if marker.exists():
        return folder, json.loads(marker.read_text(encoding="utf-8"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    scorecard = Path(sys.executable).with_name("scorecard")
    command = [str(scorecard)] if scorecard.exists() else [sys.executable, "-m", "pipelines.cli"]
    command += ["generate", "--out", str(folder), "--end-quarter", END_QUARTER, "--seed", "42"]
    if "source" in params:
        command += ["--source", params["source"], "--rows", str(params["rows"])]
    else:
        command += ["--quarters", str(params["quarters"]), "--scale", str(params["scale"])]
    log(f"generating {key}: {' '.join(command[1:])}")
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=str(work))
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    info = {
        "command": "scorecard " + " ".join(command[command.index("generate") :]).replace(str(folder), "DIR"),
        "seconds": time.monotonic() - started,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }
    marker.write_text(json.dumps(info), encoding="utf-8")
    log(f"  generated {len(files)} files, {info['bytes'] / 2**20:.1f} MB in {info['seconds']:.0f} s")
    return folder, info


def workload_files(folder: Path) -> list[Path]:
    """In the order a partner would drop them: modification time (write order), then name."""
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: (p.stat().st_mtime, p.name),
    )


def layouts_for(files: list[Path], work: Path, folder: Path) -> list[dict]:
    import references

    cache = folder / ".layouts.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    layouts = [references.sniff_layout(p) for p in files]
    cache.write_text(json.dumps(layouts), encoding="utf-8")
    return layouts


# --- the machine ---


def machine() -> dict:
    from importlib import metadata

    info: dict = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    info["cores"] = os.cpu_count()
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal")))
        info["memory_gb"] = round(kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    try:
        os_release = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
        info["os"] = os_release.get("PRETTY_NAME", "").strip('"') + f" (kernel {platform.release()})"
    except OSError:
        info["os"] = platform.platform()
    import sqlite3

    info["python"] = platform.python_version()
    info["sqlite"] = sqlite3.sqlite_version
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        info["postgresql"] = f"unreachable ({type(exc).__name__})"
    packages = {}
    for name in ("pandas", "numpy", "great-expectations", "SQLAlchemy", "psycopg", "python-calamine", "openpyxl"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    info["packages"] = packages
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "pipelines"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
        info["code"] = head + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")
    except OSError:
        info["code"] = "unknown"
    return info


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --- the run ---


def run(args) -> None:
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results_path = Path(args.results)
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else {}
    results.setdefault("jobs", {})
    results.setdefault("generated", {})
    results["machine"] = machine()
    results["quick"] = args.quick
    results["command"] = args.command_line
    results["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results.setdefault("runs", []).append({"date": results["date"], "command": args.command_line})
    results["load_start"] = load_average()
    results["idle_mb"] = run_job({"kind": "idle"}, work, "idle", None)["peak_mb"]

    def save() -> None:
        results["load_end"] = load_average()
        results_path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
        render(results, Path(args.markdown), quick=args.quick)

    for key in args.workloads:
        spec = WORKLOADS[key]
        params = QUICK[key] if args.quick else spec["generate"]
        folder, info = generate_workload(key, params, work)
        results["generated"][key] = dict(info, params=params)
        files = workload_files(folder)
        if spec["kind"] == "build":
            run_build_workload(key, files, work, args, results)
            save()
            continue
        layouts = layouts_for(files, work, folder)
        for engine_name in args.engines:
            for pipeline in args.pipelines:
                name = f"{key}-{engine_name}-{pipeline}"
                url, home = fresh_place(engine_name, work, name)
                job = {
                    "kind": pipeline,
                    "url": url,
                    "home": str(home),
                    "files": [str(p) for p in files],
                    "layouts": layouts,
                    "max_file_mb": spec.get("max_file_mb") or args.max_file_mb,
                    "file_seconds": spec.get("file_seconds"),
                }
                if args.profile and pipeline in args.profile_pipelines:
                    job["profile"] = str(work / "jobs" / f"{name}.prof")
                result = None
                totals = []
                for attempt in range(args.repeat):
                    if attempt:
                        url, home = fresh_place(engine_name, work, name)
                    log(f"{name}: {len(files)} file(s) (load {load_average()})")
                    try:
                        this = run_job(job | {"url": url}, work, name, args.timeout)
                    finally:
                        drop_database(url)
                        shutil.rmtree(home, ignore_errors=True)
                    this["load"] = load_average()
                    totals.append(_total(this)[0])
                    if result is None or (_total(this)[0] or 1e9) < (_total(result)[0] or 1e9):
                        result = this  # the fastest of the repeats: the least disturbed by other work
                    if this.get("stopped") or this.get("failed"):
                        break
                if len(totals) > 1:
                    result["repeats"] = [round(t, 2) if t is not None else None for t in totals]
                result["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
                results["jobs"][name] = result
                _remember(results, name, result)
                log(f"  {name}: {_summary(result)}")
                save()
    save()
    log(f"results: {results_path}\nmarkdown: {args.markdown}")


def run_build_workload(key: str, files: list[Path], work: Path, args, results: dict) -> None:
    """Set up each engine's warehouse with the history (in parallel: not measured), then time
    two builds of the latest quarter on each, one engine at a time."""
    from pipelines.periods import Quarter

    quarter = Quarter.parse(args.end_quarter).code
    setups = {}
    for engine_name in args.engines:
        url, home = fresh_place(engine_name, work, f"{key}-{engine_name}")
        setups[engine_name] = {"url": url, "home": str(home)}
    try:
        from concurrent.futures import ThreadPoolExecutor

        log(f"{key}: set-up intake of {len(files)} files on {', '.join(setups)} (not measured)")
        with ThreadPoolExecutor(max_workers=len(setups)) as pool:
            futures = {
                engine_name: pool.submit(
                    run_job,
                    {
                        "kind": "setup",
                        "url": s["url"],
                        "home": s["home"],
                        "files": [str(p) for p in files],
                        "max_file_mb": args.max_file_mb,
                    },
                    work,
                    f"{key}-{engine_name}-setup",
                    None,
                )
                for engine_name, s in setups.items()
            }
            setup_results = {e: f.result() for e, f in futures.items()}
        for engine_name, s in setups.items():
            setup = setup_results[engine_name]
            log(f"  {key}-{engine_name} set-up: {_summary(setup)}")
            name = f"{key}-{engine_name}-build"
            job = {"kind": "build", "url": s["url"], "home": s["home"], "quarter": quarter}
            if args.profile:
                job["profile"] = str(work / "jobs" / f"{name}.prof")
            log(f"{name}: build {quarter} twice (load {load_average()})")
            result = run_job(job, work, name, args.timeout)
            result["setup"] = {
                k: setup.get(k) for k in ("total", "rows", "files", "statuses", "peak_mb", "stopped", "failed")
            }
            result["load"] = load_average()
            result["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            results["jobs"][name] = result
            _remember(results, name, result)
            log(f"  {name}: {_summary(result)}")
    finally:
        for engine_name, s in setups.items():
            if args.keep:
                log(
                    f"  kept {engine_name} warehouse for analysis: SCORECARD_HOME={s['home']} "
                    f"SCORECARD_WAREHOUSE_URL={s['url']} (drop it yourself)"
                )
                continue
            drop_database(s["url"])
            shutil.rmtree(s["home"], ignore_errors=True)


def _remember(results: dict, name: str, result: dict) -> None:
    """Every run's total of every job, so a noisy run can be told from a real change."""
    seconds = result.get("builds") or [_total(result)[0]]
    results.setdefault("history", {}).setdefault(name, []).append(
        {
            "at": result.get("measured_at"),
            "code": result.get("code"),
            "seconds": [round(x, 2) for x in seconds if x is not None],
            "stopped": bool(result.get("stopped")),
            "load": result.get("load"),
        }
    )


def _summary(result: dict) -> str:
    if result.get("stopped"):
        return f"stopped after {result['elapsed'] / 60:.1f} min in {result['stage']}, peak {result['peak_mb']:.0f} MB"
    if result.get("failed"):
        return "failed"
    if "builds" in result:
        return f"builds {result['builds'][0]:.1f} s, {result['builds'][1]:.1f} s; peak {result['peak_mb']:.0f} MB"
    stages = ", ".join(f"{k} {v:.1f}" for k, v in result.get("stages", {}).items())
    return f"{result.get('rows', 0):,} rows in {result['total']:.1f} s ({stages}); peak {result['peak_mb']:.0f} MB" + (
        f"; statuses {result['statuses']}" if result.get("statuses") else ""
    )


# ================================ rendering ================================

TARGET_RATIOS = {"c": 2.0, "d": 1.5}  # issue 20 (they were 3x and 2x)
MEMORY_TARGET_MB = 500  # issue 20: for the 1,000,000-row csv (c) and the 10,000,000-row one (f)
MEMORY_WORKLOADS = ("c", "f")
BUILD_TARGET_S = 10.0


def _seconds(result: dict | None) -> str:
    if not result:
        return "not run"
    if result.get("stopped"):
        return f"> {result['elapsed'] / 60:.0f} min (stopped in {result['stage']})"
    if result.get("failed"):
        return "failed"
    return _s(result["total"])


def _s(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:,.2f}" if x < 10 else f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def _total(result: dict | None) -> tuple[float | None, bool]:
    """(seconds, is a lower bound only)."""
    if not result or result.get("failed"):
        return None, False
    if result.get("stopped"):
        return result["elapsed"], True
    return result["total"], False


def _ratio(product: dict | None, reference: dict | None) -> tuple[float | None, str]:
    p, p_open = _total(product)
    r, r_open = _total(reference)
    if p is None or r is None or r == 0:
        return None, "n/a"
    value = p / r
    if p_open and not r_open:
        return value, f"> {value:.1f}x"
    if r_open and not p_open:
        return value, f"< {value:.1f}x"
    return value, f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def render(results: dict, path: Path, quick: bool = False) -> None:
    jobs = results.get("jobs", {})
    m = results.get("machine", {})
    lines = [
        "# Benchmarks: intake and build against the lower bound" + (" (QUICK smoke run: tiny sizes)" if quick else ""),
        "",
        "Generated by `benchmarks/run.py` from `results.json`: do not edit by hand (rerun, or "
        "`.venv/bin/python benchmarks/run.py --render`); the analysis section comes from `benchmarks/analysis.md`.",
        "",
        f"- **Date**: {results.get('date', '?')} (each job's own time is in `results.json`)",
        "- **Commands** that produced these results (a later, partial run replaces only the jobs it ran): "
        + "; ".join(f"`{r['command']}` ({r['date']})" for r in results.get("runs", [])[-6:])
        if results.get("runs")
        else f"- **Command**: `{results.get('command', 'make bench')}`",
        f"- **Machine**: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB memory; {m.get('os', '?')}",
        f"- **Software**: Python {m.get('python', '?')}, SQLite {m.get('sqlite', '?')}, PostgreSQL {m.get('postgresql', '?')}; "
        + ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items()),
        f"- **Code**: {m.get('code', '?')}",
        f"- **Load average** at start / end of the last run: {results.get('load_start', '?')} / {results.get('load_end', '?')} "
        "(other people's test suites may share the machine, so timings can be noisy; each job's load is in `results.json`)",
        "",
        "How it is measured: every job runs in a fresh Python process; the heavy modules (pandas, Great Expectations, "
        "SQLAlchemy, psycopg, calamine, openpyxl, the product) are imported and the warehouse schema created before "
        "the clock starts. *Peak memory* is the job process's maximum resident set size (its own `VmHWM`, or its file children's `ru_maxrss`, whichever is higher; before issue 20, `wait4`'s, which Linux can inherit from the runner), so it includes "
        f"those imports: an idle process with them loaded peaks at {results.get('idle_mb', 0):.0f} MB. Product stage "
        "times are the sums of the intake outcomes' own `timings`; *other* is the rest of the wall time (hashing, "
        "identifying the header, receipts, moving the file to the archive, the load record). Each engine gets a "
        "fresh database (SQLite file, or a new PostgreSQL database on 127.0.0.1) per job. Lower bound and naive "
        "pipelines: see `benchmarks/references.py` (they are given each file's layout for free, do no "
        "pseudonymisation and write to a plain table with no key or index).",
        "",
    ]
    gen = results.get("generated", {})
    if gen:
        lines += [
            "## Workloads",
            "",
            "| workload | generated with | files | size | generation time |",
            "| --- | --- | --- | ---: | ---: |",
        ]
        for key in sorted(gen):
            g = gen[key]
            lines.append(
                f"| {WORKLOADS[key]['title']} | `{g['command']}` | {g['files']} | {g['bytes'] / 2**20:,.1f} MB | {g['seconds']:.0f} s |"
            )
        lines.append("")

    lines += [
        "## Summary",
        "",
        "| workload | engine | rows | product s | rows/s | peak MB | lower bound s | naive s | product / lower | product / naive |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ("a", "b", "c", "d", "f"):
        for engine_name in ENGINES:
            product = jobs.get(f"{key}-{engine_name}-product")
            lower = jobs.get(f"{key}-{engine_name}-lower")
            naive = jobs.get(f"{key}-{engine_name}-naive")
            if not (product or lower or naive):
                continue
            rows = (product or lower or naive or {}).get("rows")
            if product and product.get("stopped"):
                rows = (lower or naive or {}).get("rows")
            t, is_open = _total(product)
            rate = (
                f"{rows / t:,.0f}" if rows and t and not is_open else ("< " + f"{rows / t:,.0f}" if rows and t else "")
            )
            lines.append(
                f"| {key} | {engine_name} | {rows or 0:,} | {_seconds(product)} | {rate} | "
                f"{(product or {}).get('peak_mb', 0):,.0f} | {_seconds(lower)} | {_seconds(naive)} | "
                f"{_ratio(product, lower)[1]} | {_ratio(product, naive)[1]} |"
            )
    lines.append("")

    for key in ("a", "b", "c", "d", "f"):
        present = [(e, p, jobs.get(f"{key}-{e}-{p}")) for e in ENGINES for p in PIPELINES if jobs.get(f"{key}-{e}-{p}")]
        if not present:
            continue
        lines += [
            f"## {WORKLOADS[key]['title']}",
            "",
            "Seconds per stage (product stages as the intake reports them; references' stages likewise).",
            "",
            "| engine | pipeline | rows | read | map/type | validate | pseudonymise | load | other | total | rows/s | peak MB | vs lower | vs naive |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for engine_name, pipeline, r in present:
            stages = r.get("stages") or {}
            cells = [_s(stages.get(s)) if s in stages else "-" for s in (*STAGES, "other")]
            t, is_open = _total(r)
            rows = r.get("rows")
            rate = f"{rows / t:,.0f}" if rows and t and not is_open else ""
            vs_lower = _ratio(r, jobs.get(f"{key}-{engine_name}-lower"))[1] if pipeline != "lower" else ""
            vs_naive = _ratio(r, jobs.get(f"{key}-{engine_name}-naive"))[1] if pipeline != "naive" else ""
            lines.append(
                f"| {engine_name} | {pipeline} | {rows or 0:,} | {' | '.join(cells)} | {_seconds(r)} | {rate} | "
                f"{r.get('peak_mb', 0):,.0f} | {vs_lower} | {vs_naive} |"
            )
            if r.get("not_accepted"):
                lines.append(f"| | | | files not accepted: {'; '.join(r['not_accepted'][:3])} | | | | | | | | | | |")
        lines.append("")
        for engine_name, pipeline, r in present:
            history = [
                h
                for h in results.get("history", {}).get(f"{key}-{engine_name}-{pipeline}", [])
                if h.get("at") != r.get("measured_at")
            ]
            if history:
                lines.append(
                    f"- {engine_name} {pipeline}, other runs of this job (this one: code {r.get('code', '?')}): "
                    + "; ".join(
                        f"{', '.join(_s(x) for x in h['seconds'])} s at {h['at']} (code {h.get('code') or 'before ' + str(r.get('code'))}, "
                        f"load {h.get('load')})"
                        for h in history[-4:]
                    )
                )
            if r.get("repeats"):
                lines.append(
                    f"- {engine_name} {pipeline}: the fastest of {len(r['repeats'])} runs "
                    f"(totals {', '.join(_s(t) for t in r['repeats'] if t is not None)} s)"
                )
            if r.get("rss_by_stage_mb"):
                shown = ", ".join(f"{stage} {mb:,} MB" for stage, mb in r["rss_by_stage_mb"].items())
                lines.append(
                    f"- {engine_name} product: highest resident memory seen in each stage (sampled every 0.2 s): {shown}"
                )
        if any(
            r.get("rss_by_stage_mb") or r.get("repeats") or results.get("history", {}).get(f"{key}-{e}-{p}")
            for e, p, r in present
        ):
            lines.append("")

    builds = [(e, jobs.get(f"e-{e}-build")) for e in ENGINES if jobs.get(f"e-{e}-build")]
    if builds:
        lines += [
            f"## {WORKLOADS['e']['title']}",
            "",
            "The history is loaded with the product's intake first (set-up, not measured: its time is shown "
            "for information); then one process builds the latest quarter twice (`build_quarter(email=False)`): "
            "the second build runs with warm caches (Python modules, the database's pages).",
            "",
            "| engine | quarter | rows in warehouse | set-up intake | build 1 s | build 2 s | peak MB |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for engine_name, r in builds:
            setup = r.get("setup") or {}
            b = r.get("builds") or []
            first = _seconds(r) if not b else _s(b[0])
            lines.append(
                f"| {engine_name} | {r.get('quarter', '')} | {setup.get('rows') or 0:,} | "
                f"{_s(setup.get('total'))} s | {first} | {_s(b[1]) if len(b) > 1 else ''} | {r.get('peak_mb', 0):,.0f} |"
            )
        lines.append("")

    lines += targets(jobs)
    analysis = HERE / "analysis.md"
    if analysis.exists() and not quick:
        lines += ["", analysis.read_text(encoding="utf-8").rstrip(), ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def targets(jobs: dict) -> list[str]:
    rows = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else "**MET**" if ok else "**MISSED**"

    ratio_ok = {}
    for engine_name in ENGINES:
        for key, limit in TARGET_RATIOS.items():
            value, shown = _ratio(jobs.get(f"{key}-{engine_name}-product"), jobs.get(f"{key}-{engine_name}-lower"))
            ok = None if value is None else value <= limit and not jobs[f"{key}-{engine_name}-product"].get("stopped")
            ratio_ok[(key, engine_name, "lower")] = ok
            rows.append((f"({key}) intake within {limit:g}x the lower bound", engine_name, shown, verdict(ok)))
        value, shown = _ratio(jobs.get(f"c-{engine_name}-product"), jobs.get(f"c-{engine_name}-naive"))
        ok = None if value is None else value < 1 and not jobs[f"c-{engine_name}-product"].get("stopped")
        ratio_ok[("c", engine_name, "naive")] = ok
        rows.append(("(c) intake faster than the naive pipeline", engine_name, shown, verdict(ok)))
        for key in MEMORY_WORKLOADS:
            product = jobs.get(f"{key}-{engine_name}-product")
            ok = None if not product else product["peak_mb"] <= MEMORY_TARGET_MB
            rows.append(
                (
                    f"({key}) peak memory at most {MEMORY_TARGET_MB} MB",
                    engine_name,
                    f"{product['peak_mb']:,.0f} MB" + (" (stopped early)" if product.get("stopped") else "")
                    if product
                    else "n/a (not run)",
                    verdict(ok) if not (product and product.get("stopped") and ok) else "**MISSED** (did not finish)",
                )
            )
        build = jobs.get(f"e-{engine_name}-build")
        ok = (
            None
            if not build or build.get("failed")
            else (not build.get("stopped") and build["builds"][0] < BUILD_TARGET_S)
        )
        shown = (
            "n/a"
            if not build
            else _seconds(build)
            if build.get("stopped") or build.get("failed")
            else f"{build['builds'][0]:.1f} s (warm {build['builds'][1]:.1f} s)"
        )
        rows.append(("(e) build one quarter in under 10 s", engine_name, shown, verdict(ok)))
    per_engine = {e: [v for (k, eng, _), v in ratio_ok.items() if eng == e] for e in ENGINES}
    both = [v for vs in per_engine.values() for v in vs]
    ok = None if any(v is None for v in both) else all(both)
    detail = "; ".join(f"{e}: {sum(1 for v in vs if v)}/{len(vs)} ratio targets met" for e, vs in per_engine.items())
    rows.append(("the ratios hold on both engines", "both", detail, verdict(ok)))
    out = [
        "## Targets",
        "",
        "Computed from the numbers above on every run (issue 8; the targets as issue 20 set them).",
        "",
        "| target | engine | measured | status |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {t} | {e} | {m} | {v} |" for t, e, m, v in rows]
    return out


# ================================ command line ================================


def main(argv: list[str] | None = None) -> int:
    global END_QUARTER
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--job"]:
        return worker(argv[1])
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run (results into --work)")
    parser.add_argument("--workloads", default="a,b,c,d,e,f", help="comma-separated, from a,b,c,d,e,f (default all)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--pipelines", default="product,lower,naive", help="comma-separated: product,lower,naive")
    parser.add_argument(
        "--work", default="/tmp/scorecard-bench", help="scratch folder outside the repo (data kept for reuse)"
    )
    parser.add_argument(
        "--timeout", type=float, default=25.0, help="minutes before a measured job is stopped (default 25)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each measured intake job N times and keep the fastest (a shared machine is noisy)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=float,
        default=None,
        help="SCORECARD_MAX_FILE_MB for the product (default: the product's own default)",
    )
    parser.add_argument("--end-quarter", default=END_QUARTER, help=f"last generated quarter (default {END_QUARTER})")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the measured jobs (slower; the product examines files in-process; .prof files in --work/jobs)",
    )
    parser.add_argument("--profile-pipelines", default="product", help="which pipelines --profile applies to")
    parser.add_argument("--results", help="results JSON (default benchmarks/results.json; with --quick, in --work)")
    parser.add_argument(
        "--markdown", help="markdown written from it (default benchmarks/RESULTS.md; with --quick, in --work)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep workload e's warehouses (for analysis) instead of dropping them"
    )
    parser.add_argument("--render", action="store_true", help="only render the markdown from the results JSON")
    args = parser.parse_args(argv)
    args.command_line = "make bench" if not argv else ".venv/bin/python benchmarks/run.py " + " ".join(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.engines = [e for e in args.engines.split(",") if e]
    args.pipelines = [p for p in args.pipelines.split(",") if p]
    args.profile_pipelines = [p for p in args.profile_pipelines.split(",") if p]
    for value, allowed in ((args.workloads, WORKLOADS), (args.engines, ENGINES), (args.pipelines, PIPELINES)):
        unknown = [v for v in value if v not in allowed]
        if unknown:
            parser.error(f"unknown: {', '.join(unknown)} (choose from {', '.join(allowed)})")
    END_QUARTER = args.end_quarter
    work = Path(args.work)
    args.results = args.results or str(work / "results-quick.json" if args.quick else HERE / "results.json")
    args.markdown = args.markdown or str(work / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md")
    if args.render:
        results = json.loads(Path(args.results).read_text(encoding="utf-8"))
        render(results, Path(args.markdown), quick=args.quick)
        print(args.markdown)
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
