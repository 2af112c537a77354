"""The child process each file is examined in: results and exceptions come back, and memory,
time and crashes stop only the child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from pipelines.intake.isolation import ChildError, LimitExceeded, Limits, run_limited

ROOMY = Limits(memory_mb=512, seconds=30)


def test_the_result_comes_back():
    assert run_limited(lambda: {"rows": 3, "pid": os.getpid()}, ROOMY)["rows"] == 3
    assert run_limited(lambda: os.getpid(), ROOMY) != os.getpid()  # it really ran elsewhere


def test_an_exception_comes_back_as_itself():
    def fail():
        raise ValueError("the workbook is damaged")

    with pytest.raises(ValueError, match="the workbook is damaged"):
        run_limited(fail, ROOMY)


def test_an_exception_that_cannot_cross_comes_back_by_name():
    class Local(Exception):  # defined in a function: not picklable
        pass

    def fail():
        raise Local("x")

    with pytest.raises(ChildError, match="Local"):
        run_limited(fail, ROOMY)


def test_memory_over_the_limit_stops_the_child_only():
    with pytest.raises(LimitExceeded) as stopped:
        run_limited(lambda: len(bytearray(400 * 2**20)), Limits(memory_mb=100, seconds=30))
    assert stopped.value.kind == "memory"
    assert run_limited(lambda: len(bytearray(50 * 2**20)), Limits(memory_mb=100, seconds=30)) == 50 * 2**20


@pytest.mark.slow
def test_time_over_the_limit_stops_the_child():
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as stopped:
        run_limited(lambda: time.sleep(60), Limits(memory_mb=100, seconds=1))
    assert stopped.value.kind == "time" and time.monotonic() - started < 10


def test_a_crash_stops_the_child_only():
    with pytest.raises(LimitExceeded) as stopped:
        run_limited(lambda: os.kill(os.getpid(), signal.SIGTERM), ROOMY)
    assert stopped.value.kind == "crash" and "SIGTERM" in stopped.value.detail


@pytest.mark.slow
def test_the_child_dies_with_its_parent(tmp_path):
    """A killed intake leaves no child behind to commit a load the next run does not know of."""
    marker = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import os, time
        from pipelines.intake.isolation import Limits, run_limited
        def work():
            open({str(marker)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
        run_limited(work, Limits(memory_mb=100, seconds=120))
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(marker.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):  # dead, waiting to be reaped by whoever adopted it
            return
        time.sleep(0.05)
    pytest.fail("the child outlived its parent")
