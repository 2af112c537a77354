"""Trust (issue 12): intake tried as an attacker and as a careless user would.

Nothing outside the inbox is read or changed (a link or a pipe swapped in after the inbox was
listed, a hard link to an outside file), no identifier leaves (a child's identifier in the wrong
column, a file with no header row), no file is lost (re-sent after a rejection, deleted or
appended to while intake works on it), every file has bounded cost (a 64-sheet workbook, memory
and time limits), mail never stalls intake (a server that drips a byte at a time), and faults stop
cleanly (a read-only archive, a clock in the future, eight intakes at once on PostgreSQL). Each
test ends by asserting the outcome from the files and the warehouse themselves (``tests/trust.py``).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path, PurePosixPath

import openpyxl
import pytest
from sqlalchemy import create_engine, select

from pipelines.config import FolderNotWritable, load_settings
from pipelines.intake import claims, pending_files, run_intake
from pipelines.intake.entries import open_entry
from pipelines.intake.process import process_file, process_opened
from pipelines.intake.snapshot import FileChanged, copy_from
from pipelines.warehouse import open_warehouse
from pipelines.warehouse.schema import load_files, table_for
from tests.smtp_server import Catcher, free_port
from tests.test_intake import count, police_rows, write_xlsx
from tests.test_intake_rules import MISSING, POLICE, REFERRALS, good, make_csv, write_source
from tests.trust import assert_filed_once, emails, places_holding, receipts, sha, warehouse_holding

SCORECARD = str(Path(sys.executable).parent / "scorecard")
PLANT = "ZQ7731PLANTED"  # a child identifier that must never leave the partner's own file
POLICE_TABLE = table_for(POLICE)


def dropped(settings) -> dict[str, str]:
    """name -> SHA-256 of every regular file now in the inbox."""
    return {p.name: sha(p) for p in settings.inbox.rglob("*") if p.is_file() and not p.is_symlink()}


def intake_beside_a_good_file(settings) -> dict:
    """Run intake over what is in the inbox and a good file sorted after it; the good file must
    load and everything be filed once, whatever the others did. Outcomes by file name."""
    write_xlsx(settings.inbox / "zz_good.xlsx", police_rows(4))
    files = dropped(settings)
    outcomes = {o.file: o for o in run_intake(settings, files=sorted(settings.inbox.iterdir())).outcomes}
    assert (outcomes["zz_good.xlsx"].status, outcomes["zz_good.xlsx"].rows_loaded) == ("accepted", 4)
    assert_filed_once(settings, files)
    return outcomes


def outside_police_csv(folder: Path) -> Path:
    """Another agency's file outside the inbox: a valid extract, so reading it would load rows."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_source(
        folder / "elsewhere.csv", POLICE, [dict(good(POLICE, 900 + i), incident_ref=f"OUTSIDE{i}") for i in range(5)]
    )
    path.chmod(0o644)
    return path


def fingerprint(path: Path) -> tuple:
    info = path.stat()
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_mtime_ns, info.st_nlink


def swap(inbox_file: Path, make) -> None:
    """Replace ``inbox_file`` atomically with whatever ``make(temporary_path)`` creates there."""
    temporary = inbox_file.with_name(f".swap-{inbox_file.name}")
    make(temporary)
    os.replace(temporary, inbox_file)


# ============================================================================================
# Nothing outside the inbox is touched
# ============================================================================================
def test_links_swapped_in_after_listing_are_never_followed(settings, tmp_path):
    outside = outside_police_csv(tmp_path / "other-agency")
    key_file = settings.home / "pseudonym.key"
    key_file.write_text("the-real-secret-key-7731\n")
    key_file.chmod(0o600)
    before = {p: fingerprint(p) for p in (outside, key_file)}
    write_xlsx(settings.inbox / "to_outside.xlsx", police_rows(5))
    write_xlsx(settings.inbox / "to_key.xlsx", police_rows(5, start=10))
    write_xlsx(settings.inbox / "good.xlsx", police_rows(7, start=20))
    listed = pending_files(settings.inbox, 0)
    swap(settings.inbox / "to_outside.xlsx", lambda p: os.symlink(outside, p))
    swap(settings.inbox / "to_key.xlsx", lambda p: os.symlink(key_file, p))
    good_file = {"good.xlsx": sha(settings.inbox / "good.xlsx")}

    outcomes = {o.file: o for o in run_intake(settings, files=listed).outcomes}

    assert outcomes["good.xlsx"].status == "accepted" and outcomes["good.xlsx"].rows_loaded == 7
    for name in ("to_outside.xlsx", "to_key.xlsx"):
        assert outcomes[name].status == "rejected"
        assert "symbolic link" in outcomes[name].message and "not read" in outcomes[name].message
    assert {p: fingerprint(p) for p in (outside, key_file)} == before  # neither read into anything nor changed
    assert count(settings.warehouse_url, POLICE_TABLE) == 7
    assert not warehouse_holding(settings.warehouse_url, "OUTSIDE")
    assert places_holding(settings.home, "the-real-secret-key-7731") == ["pseudonym.key"]
    assert list(settings.inbox.iterdir()) == []  # the links themselves are gone; what they pointed at stays
    assert_filed_once(settings, good_file)


def test_a_hard_link_to_an_outside_file_is_not_read_and_the_file_is_untouched(settings, tmp_path):
    outside = outside_police_csv(tmp_path / "other-agency")
    before = fingerprint(outside)
    os.link(outside, settings.inbox / "linked.csv")
    write_xlsx(settings.inbox / "good.xlsx", police_rows(3))
    good_file = {"good.xlsx": sha(settings.inbox / "good.xlsx")}

    outcomes = {o.file: o for o in run_intake(settings).outcomes}

    assert outcomes["linked.csv"].status == "rejected" and "hard link" in outcomes["linked.csv"].message
    assert outcomes["good.xlsx"].status == "accepted"
    assert fingerprint(outside) == (before[0], before[1], before[2], 1)  # same bytes and mode; only our name went
    assert not warehouse_holding(settings.warehouse_url, "OUTSIDE")
    assert list(settings.inbox.iterdir()) == []
    assert_filed_once(settings, good_file)


def test_a_pipe_swapped_in_after_listing_never_blocks_the_run(settings):
    write_xlsx(settings.inbox / "becomes_a_pipe.xlsx", police_rows(5))
    write_xlsx(settings.inbox / "good.xlsx", police_rows(4, start=10))
    listed = pending_files(settings.inbox, 0)
    swap(settings.inbox / "becomes_a_pipe.xlsx", os.mkfifo)
    good_file = {"good.xlsx": sha(settings.inbox / "good.xlsx")}
    result = {}
    worker = threading.Thread(target=lambda: result.update(run=run_intake(settings, files=listed)), daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "intake hung on a named pipe"
    outcomes = {o.file: o for o in result["run"].outcomes}
    assert (
        outcomes["becomes_a_pipe.xlsx"].status == "rejected" and "named pipe" in outcomes["becomes_a_pipe.xlsx"].message
    )
    assert outcomes["good.xlsx"].rows_loaded == 4
    assert list(settings.inbox.iterdir()) == []
    assert_filed_once(settings, good_file)


def test_a_symlinked_folder_in_the_inbox_is_not_walked(settings, tmp_path):
    outside = outside_police_csv(tmp_path / "other-agency")
    os.symlink(outside.parent, settings.inbox / "police_domestic_incidents")
    outcomes = run_intake(settings).outcomes
    assert [(o.file, o.status) for o in outcomes] == [("police_domestic_incidents", "rejected")]
    assert outside.exists() and not warehouse_holding(settings.warehouse_url, "OUTSIDE")


def test_a_file_that_changes_while_it_is_copied_is_left_for_the_next_run(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = make_csv(inbox / "growing.csv", ["Incident Ref"], [["INC1"]])
    os.utime(path, (time.time() - 60, time.time() - 60))
    from pathlib import PurePosixPath

    opened = open_entry(inbox, PurePosixPath("growing.csv"))
    try:
        with path.open("a") as handle:  # the sender is still writing
            handle.write("INC2\n")
        with pytest.raises(FileChanged):
            copy_from(opened, tmp_path, 1 << 20)
    finally:
        opened.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inbox"]  # no half copy left behind


# ============================================================================================
# A load's state and a file's fate agree
# ============================================================================================
def test_a_rejected_file_sent_again_is_processed_afresh(settings, monkeypatch, tmp_path):
    rows = police_rows(100)
    for row in rows[:20]:
        row[1] = "31/02/2024 10:00"  # 20% bad: over the 10% threshold
    original = write_xlsx(tmp_path / "police.xlsx", rows)
    (settings.inbox / "police.xlsx").write_bytes(original.read_bytes())
    [first] = run_intake(settings).outcomes
    assert first.status == "rejected" and count(settings.warehouse_url, POLICE_TABLE) == 0

    # The analyst raises the threshold; the same bytes are sent again and are loaded this time.
    monkeypatch.setenv("SCORECARD_REJECT_THRESHOLD", "0.25")
    raised = load_settings()
    (raised.inbox / "police.xlsx").write_bytes(original.read_bytes())
    [second] = run_intake(raised).outcomes
    assert (second.status, second.rows_loaded, second.rows_rejected) == ("accepted", 80, 20)
    assert count(settings.warehouse_url, POLICE_TABLE) == 80
    assert second.load_id != first.load_id

    # A rejected file whose copy in rejected/ was moved away, sent again: rejected again, afresh.
    monkeypatch.setenv("SCORECARD_REJECT_THRESHOLD", "0.10")
    bad = write_xlsx(tmp_path / "bad.xlsx", [r for r in rows[:20]] + police_rows(10, start=500))
    (settings.inbox / "bad.xlsx").write_bytes(bad.read_bytes())
    [third] = run_intake(load_settings()).outcomes
    assert third.status == "rejected"
    Path(third.stored_as).rename(tmp_path / "moved_away.xlsx")
    (settings.inbox / "bad.xlsx").write_bytes(bad.read_bytes())
    [fourth] = run_intake(load_settings()).outcomes
    assert fourth.status == "rejected" and fourth.load_id != third.load_id and fourth.rows_loaded == 0
    assert count(settings.warehouse_url, POLICE_TABLE) == 80
    engine = create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        statuses = conn.execute(select(load_files.c.status).order_by(load_files.c.load_id)).scalars().all()
    engine.dispose()
    assert statuses == ["rejected", "accepted", "rejected", "rejected"]
    for receipt in receipts(settings.home):
        assert receipt["rows_loaded"] == (80 if receipt["status"] == "accepted" else 0)


def _at(point: str, action):
    """Replace the fault checkpoints with ``action`` at ``point`` (the places a test may act)."""
    from pipelines.intake import process

    real = process.checkpoint

    def checkpoint(name: str) -> None:
        if name == point:
            action()
        real(name)

    return checkpoint


def test_a_file_deleted_while_intake_works_on_it_is_still_filed_and_others_go_on(settings, monkeypatch):
    write_xlsx(settings.inbox / "a.xlsx", police_rows(6))
    write_xlsx(settings.inbox / "b.xlsx", police_rows(4, start=100))
    files = dropped(settings)
    from pipelines.intake import process

    monkeypatch.setattr(
        process, "checkpoint", _at("after_load_committed", lambda: (settings.inbox / "a.xlsx").unlink(missing_ok=True))
    )
    outcomes = {o.file: o for o in run_intake(settings, files=sorted(settings.inbox.iterdir())).outcomes}
    assert (outcomes["a.xlsx"].status, outcomes["a.xlsx"].rows_loaded) == ("accepted", 6)
    assert (outcomes["b.xlsx"].status, outcomes["b.xlsx"].rows_loaded) == ("accepted", 4)
    assert count(settings.warehouse_url, POLICE_TABLE) == 10
    assert list(settings.inbox.iterdir()) == []
    assert_filed_once(settings, files)


def test_a_file_deleted_after_listing_is_skipped_and_the_others_go_on(settings):
    write_xlsx(settings.inbox / "gone.xlsx", police_rows(3))
    write_xlsx(settings.inbox / "b.xlsx", police_rows(4, start=100))
    listed = pending_files(settings.inbox, 0)
    (settings.inbox / "gone.xlsx").unlink()
    files = dropped(settings)
    outcomes = run_intake(settings, files=listed).outcomes
    assert [(o.file, o.status) for o in outcomes] == [("b.xlsx", "accepted")]
    assert_filed_once(settings, files)


def test_a_file_another_run_finished_after_this_one_opened_it_is_not_reported_again(settings):
    # Eight intakes at once: one run opens a file, another finishes it meanwhile (filed, taken out
    # of the inbox). The first must stay silent, not list the same file as "waiting".
    write_xlsx(settings.inbox / "a.xlsx", police_rows(3))
    files = dropped(settings)
    opened = open_entry(settings.inbox, PurePosixPath("a.xlsx"))
    assert opened is not None
    try:
        with open_warehouse(settings.warehouse_url) as engine:
            first = process_file(settings, engine, settings.inbox / "a.xlsx")
            second = process_opened(settings, engine, opened)
    finally:
        opened.close()
    assert (first.status, first.rows_loaded) == ("accepted", 3)
    assert second is None
    assert list(settings.inbox.iterdir()) == []
    assert count(settings.warehouse_url, POLICE_TABLE) == 3
    assert_filed_once(settings, files)


def test_a_claim_is_never_taken_while_its_holder_lives(tmp_path):
    held = claims.claim(tmp_path, "abc", {}, timeout_seconds=600)
    assert held is not None
    assert claims.claim(tmp_path, "abc", {}, timeout_seconds=600) is None
    assert claims.sweep_stale(tmp_path, 600) == 0 and held.path.exists()
    held.release()
    again = claims.claim(tmp_path, "abc", {}, timeout_seconds=600)
    assert again is not None
    again.release()
    assert list(tmp_path.iterdir()) == []


def test_a_file_appended_to_while_intake_works_on_it_is_archived_as_read(settings, monkeypatch):
    header = ["Incident Ref", "Reported Date", "Children Present"]
    path = make_csv(settings.inbox / "police.csv", header, [[f"INC{i}", "01/05/2024 10:00", "N"] for i in range(10)])
    first_bytes = path.read_bytes()
    from pipelines.intake import process

    def append():
        with path.open("a", newline="") as handle:
            handle.writelines(f"INC{i},02/05/2024 10:00,Y\r\n" for i in range(10, 15))

    real = process.checkpoint
    monkeypatch.setattr(process, "checkpoint", _at("after_load_committed", append))
    [outcome] = run_intake(settings).outcomes
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 10)
    assert sha(Path(outcome.stored_as)) == receipts(settings.home)[0]["sha256"]
    assert Path(outcome.stored_as).read_bytes() == first_bytes  # exactly what was read and loaded
    assert "changed after it was read" in outcome.message
    assert path.exists()  # the longer version waits in the inbox

    monkeypatch.setattr(process, "checkpoint", real)
    [again] = run_intake(settings).outcomes
    assert (again.status, again.rows_loaded) == ("accepted", 15)
    assert count(settings.warehouse_url, POLICE_TABLE) == 15
    assert list(settings.inbox.iterdir()) == []
    stored = sorted(settings.archive.iterdir())
    assert {sha(p) for p in stored} == {r["sha256"] for r in receipts(settings.home)}
    assert len(emails(settings.home)) == 2


# ============================================================================================
# No identifier leaves
# ============================================================================================
@pytest.mark.slow
def test_a_child_identifier_in_the_wrong_place_never_leaves_the_rejects_workbook(tmp_path, warehouse_url):
    """Run as the command line runs, with --debug, so the logs of every process are seen too."""
    home = tmp_path / "home"
    inbox = home / "inbox"
    referrals = [good(REFERRALS, i) for i in range(1, 30)]
    shifted = dict(good(REFERRALS, 30), child_id="", referral_date=PLANT, referral_source="01/05/2024")
    write_source(inbox / "one_shifted_row.csv", REFERRALS, [*referrals, shifted])
    write_source(
        inbox / "shifted_file.xlsx",
        REFERRALS,
        [
            dict(good(REFERRALS, 100 + i), child_id="", referral_date=f"{PLANT}{i}", domestic_abuse=f"{PLANT}X")
            for i in range(10)
        ],
    )
    rows = [[f"R{i:04d}", f"{PLANT}{i}", "01/05/2024", "police", "Y", "nfa"] for i in range(200, 210)]
    make_csv(inbox / "no_header.csv", rows[0], rows[1:])  # the first data row is where a header should be
    missing = [dict(good(MISSING, i), looked_after=PLANT if i == 3 else "Y") for i in range(1, 20)]
    write_source(inbox / "missing.xlsx", MISSING, missing)
    originals = {p.name: sha(p) for p in inbox.iterdir()}

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    env.update(
        SCORECARD_HOME=str(home),
        SCORECARD_WAREHOUSE_URL=warehouse_url,
        SCORECARD_PSEUDONYM_KEY="test-key-not-secret",
        SCORECARD_SETTLE_SECONDS="0",
    )
    result = subprocess.run([SCORECARD, "--debug", "intake"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert PLANT not in result.stdout and PLANT not in result.stderr
    assert "INFO pipelines.intake.process: accepted" in result.stderr  # the log was on, and was looked through

    statuses = {r["file"]: r["status"] for r in receipts(home)}
    assert statuses == {
        "one_shifted_row.csv": "accepted",
        "shifted_file.xlsx": "rejected",
        "no_header.csv": "rejected",
        "missing.xlsx": "accepted",
    }
    no_header = next(r for r in receipts(home) if r["file"] == "no_header.csv")
    assert "No row there looks like a header row" in no_header["summary"]
    assert places_holding(home, PLANT) == []
    assert warehouse_holding(warehouse_url, PLANT) == []
    # ...and the rejects workbooks, which stay on the partnership's server, do show the values.
    rejects = sorted((home / "receipts").glob("*.rejects.xlsx"))
    assert any(
        PLANT in str(cell)
        for path in rejects
        for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True)
        for cell in row
    )
    assert_filed_once(load_settings({**env}), originals)


# ============================================================================================
# Every file has bounded cost
# ============================================================================================
def test_a_workbook_of_64_sheets_each_reaching_far_down_is_refused_at_once(settings):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for n in range(64):
        wb.create_sheet(f"S{n}").cell(row=150_000, column=60, value="x")  # 9 million cells a sheet
    wb.save(settings.inbox / "sheets.xlsx")
    assert (settings.inbox / "sheets.xlsx").stat().st_size < 100_000
    started = time.monotonic()
    outcome = intake_beside_a_good_file(settings)["sheets.xlsx"]
    assert time.monotonic() - started < 120
    assert outcome.status == "rejected" and "sheets together span more than" in outcome.message


def test_a_file_over_the_memory_limit_is_stopped_and_the_run_goes_on(settings, monkeypatch):
    monkeypatch.setenv("SCORECARD_FILE_MEMORY_MB", "150")
    limited = load_settings()
    wb = openpyxl.Workbook()
    wb.active.append(["Incident Ref", "Reported Date", "Children Present"])
    wb.active.cell(row=20_000, column=495, value="far")  # within the cell limits, but ~300 MB to open
    wb.save(limited.inbox / "huge_inside.xlsx")
    outcome = intake_beside_a_good_file(limited)["huge_inside.xlsx"]
    assert outcome.status == "rejected" and "more than the 150 MB of memory allowed" in outcome.message


@pytest.mark.slow
def test_a_file_over_the_time_limit_is_stopped_and_the_run_goes_on(settings, monkeypatch):
    monkeypatch.setenv("SCORECARD_FILE_SECONDS", "1")
    limited = load_settings()
    header = ["Incident Ref", "Reported Date", "Children Present", "Ward"]
    make_csv(
        limited.inbox / "slow.csv", header, [[f"INC{i}", "01/05/2024 10:00", "N", f"ward {i}"] for i in range(400_000)]
    )
    started = time.monotonic()
    outcome = intake_beside_a_good_file(limited)["slow.csv"]
    assert time.monotonic() - started < 60
    assert outcome.status == "rejected" and "took longer than the 1 second allowed" in outcome.message
    assert count(limited.warehouse_url, POLICE_TABLE) == 4  # nothing of the stopped file


# ============================================================================================
# Mail never stalls intake
# ============================================================================================
class Dripper:
    """An SMTP 'server' that answers a byte a second, for ever: each read succeeds in time, so
    only a deadline on the whole conversation ends it."""

    def __init__(self, port: int):
        self.listener = socket.create_server(("127.0.0.1", port))
        self.connections = 0
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._serve, daemon=True)]
        self.threads[0].start()

    def _serve(self):
        self.listener.settimeout(0.2)
        with self.listener:
            while not self.stopped.is_set():
                try:
                    conn, _ = self.listener.accept()
                except TimeoutError:
                    continue
                self.connections += 1
                self.threads.append(threading.Thread(target=self._drip, args=(conn,), daemon=True))
                self.threads[-1].start()

    def _drip(self, conn):
        with conn:
            while not self.stopped.is_set():
                for byte in b"220-slow\r\n":
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return
                    if self.stopped.wait(1.0):
                        return

    def stop(self):
        self.stopped.set()
        for thread in self.threads:
            thread.join(10)


@pytest.mark.slow
def test_a_dripping_mail_server_never_holds_intake_and_each_receipt_goes_once(settings, monkeypatch):
    from aiosmtpd.controller import Controller

    port = free_port()
    dripper = Dripper(port)
    monkeypatch.setenv("SCORECARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCORECARD_SMTP_PORT", str(port))
    monkeypatch.setenv("SCORECARD_SMTP_DEADLINE_SECONDS", "3")
    mailing = load_settings()
    for i in range(4):
        write_xlsx(mailing.inbox / f"p{i}.xlsx", police_rows(3, start=1 + 10 * i))
    files = dropped(mailing)
    started = time.monotonic()
    try:
        run = run_intake(mailing)
    finally:
        dripper.stop()
    assert time.monotonic() - started < 40  # one deadline, not one per message (nor minutes each)
    assert dripper.connections == 1
    assert [o.status for o in run.outcomes] == ["accepted"] * 4
    assert len(list((mailing.outbox / "queued").glob("*.eml"))) == 4

    catcher = Catcher()
    server = Controller(catcher, hostname="127.0.0.1", port=port)
    server.start()
    try:
        assert run_intake(mailing).outcomes == []  # the next run sends the queue...
        assert run_intake(mailing).outcomes == []  # ...once
    finally:
        server.stop()
    subjects = sorted(m["Subject"] for m in catcher.messages())
    assert subjects == sorted(f"Scorecard intake receipt: p{i}.xlsx: accepted" for i in range(4))
    assert_filed_once(mailing, files, delivered=4)


# ============================================================================================
# Faults stop cleanly and say so
# ============================================================================================
@pytest.fixture
def read_only(tmp_path):
    """Make a folder read-only for real (a read-only bind mount: permission bits mean nothing to root)."""
    mounted = []

    def make(folder: Path) -> None:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        mounted.append(folder)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)

    yield make
    for folder in reversed(mounted):
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["archive", "rejected", "receipts"])
def test_a_read_only_folder_stops_the_run_before_any_file(settings, read_only, folder):
    write_xlsx(settings.inbox / "a.xlsx", police_rows(5))
    write_xlsx(settings.inbox / "b.xlsx", police_rows(5, start=10))
    files = dropped(settings)
    read_only(settings.home / folder)
    with pytest.raises(FolderNotWritable, match=f"cannot write to {settings.home / folder} .*Read-only file system"):
        run_intake(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    env.update(
        SCORECARD_HOME=str(settings.home),
        SCORECARD_WAREHOUSE_URL=settings.warehouse_url,
        SCORECARD_PSEUDONYM_KEY="test-key-not-secret",
        SCORECARD_SETTLE_SECONDS="0",
    )
    for _ in range(2):  # every run says so, in one line, and touches nothing
        result = subprocess.run([SCORECARD, "intake"], capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 1
        assert result.stderr.strip().count("\n") == 0 and str(settings.home / folder) in result.stderr
    assert dropped(settings) == files
    assert list(settings.receipts.iterdir()) == [] and emails(settings.home) == []
    assert not any(settings.processing.iterdir())


def test_after_the_archive_is_writable_again_everything_is_filed_once(settings, tmp_path):
    write_xlsx(settings.inbox / "a.xlsx", police_rows(5))
    files = dropped(settings)
    subprocess.run(["mount", "--bind", str(settings.archive), str(settings.archive)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(settings.archive)], check=True)
        with pytest.raises(FolderNotWritable):
            run_intake(settings)
    finally:
        subprocess.run(["umount", str(settings.archive)], check=True)
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "accepted"
    assert_filed_once(settings, files)


@pytest.mark.slow
def test_a_file_dated_in_the_future_is_taken_once_it_has_settled_and_the_receipt_says_so(settings, monkeypatch):
    monkeypatch.setenv("SCORECARD_SETTLE_SECONDS", "2")
    settling = load_settings()
    path = write_xlsx(settling.inbox / "skewed.xlsx", police_rows(3))
    tomorrow = time.time() + 86_400
    os.utime(path, (tomorrow, tomorrow))  # saved on a computer whose clock is a day fast
    files = dropped(settling)
    assert run_intake(settling).outcomes == []  # just arrived (by this machine's clock): it waits
    time.sleep(2.5)
    [outcome] = run_intake(settling).outcomes
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 3)
    text = Path(outcome.receipt).read_text(encoding="utf-8")
    assert "Note: The file's modification time was 24 hours in the future by this server's clock" in text
    assert_filed_once(settling, files)


@pytest.mark.slow
def test_eight_intakes_at_once_on_a_new_postgresql_warehouse(tmp_path, pg_url):
    home = tmp_path / "home"
    settings = load_settings({"SCORECARD_HOME": str(home), "SCORECARD_WAREHOUSE_URL": pg_url})
    settings.ensure_folders()
    for i in range(24):
        write_xlsx(settings.inbox / f"police_{i:02d}.xlsx", police_rows(20, start=1 + 20 * i))
    files = dropped(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    env.update(
        SCORECARD_HOME=str(home),
        SCORECARD_WAREHOUSE_URL=pg_url,
        SCORECARD_PSEUDONYM_KEY="test-key-not-secret",
        SCORECARD_SETTLE_SECONDS="0",
    )
    runs = [
        subprocess.Popen([SCORECARD, "intake"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(8)
    ]  # the warehouse is created by whichever gets there first
    results = [r.communicate(timeout=900) for r in runs]
    assert [r.returncode for r in runs] == [0] * 8, [err[-2000:] for _, err in results]
    assert not any("concurrently" in err for _, err in results)
    reported = [line for out, _ in results for line in out.splitlines() if line.startswith("[")]
    assert len(reported) == 24 and all(" ACCEPTED " in f" {line.split('] ', 1)[1]}" for line in reported)
    assert count(pg_url, POLICE_TABLE) == 24 * 20
    assert list(settings.inbox.iterdir()) == []
    assert_filed_once(settings, files)
