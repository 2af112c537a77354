"""Named points between steps where a test can kill the process for real.

Set ``SCORECARD_FAULT_KILL_AT`` to a point's name and the process SIGKILLs itself there: the
crash-recovery tests use it to prove that simply running again finishes the job with nothing
duplicated or lost. Unset (always, in production), a checkpoint does nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_load_committed", "after_receipt_written", "after_file_moved", "after_marts_stored")


def checkpoint(name: str) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown checkpoint {name!r}: add it to POINTS")
    if os.environ.get("SCORECARD_FAULT_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
