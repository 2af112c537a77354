"""Copy every accepted original in the archive into a fresh inbox, to load the whole history again.

Used to rotate the pseudonym key (docs/operator-guide.md, "Rotating the pseudonym key"): the
originals are reloaded with the new key into a fresh warehouse, so every child links across files
again. Each file goes to ``<to>/inbox/<source>/`` (the source recorded in its receipt, so nothing
is re-guessed) in the order it was first loaded (the receipt's load number): when a later file
corrected rows of an earlier one, the later one still wins. Nothing in ``--home`` is changed.

    python /opt/scorecard-deploy/replay-archive.py --home /opt/scorecard --to /tmp/replay

then run ``scorecard intake`` with ``SCORECARD_HOME`` set to the ``--to`` folder (see the guide).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path


def accepted_loads(home: Path) -> list[dict]:
    """Receipts of accepted files whose original is still in the archive, in load order."""
    loads, missing = [], []
    for path in sorted((home / "receipts").glob("*.receipt.json")):
        receipt = json.loads(path.read_text(encoding="utf-8"))
        if receipt.get("status") != "accepted" or not receipt.get("stored_as"):
            continue
        original = home / receipt["stored_as"]
        if not original.is_file():
            missing.append(receipt["stored_as"])
            continue
        loads.append({"load_id": receipt.get("load_id") or 0, "source": receipt["source"], "original": original})
    if missing:
        raise SystemExit(
            f"{len(missing)} accepted original(s) are missing from the archive, e.g. {missing[0]}: "
            "reloading without them would lose data; restore them from backup first"
        )
    return sorted(loads, key=lambda load: load["load_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path("/opt/scorecard"), help="the live scorecard folders")
    parser.add_argument("--to", type=Path, required=True, help="a new, empty folder to replay into")
    args = parser.parse_args(argv)
    if args.to.exists() and any(args.to.iterdir()):
        parser.error(f"{args.to} is not empty")
    loads = accepted_loads(args.home)
    oldest = time.time() - 3600 - len(loads)
    for number, load in enumerate(loads, start=1):
        folder = args.to / "inbox" / load["source"]
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{number:06d}_{load['original'].name}"
        shutil.copyfile(load["original"], copy)
        os.utime(copy, (oldest + number, oldest + number))  # intake takes the oldest first
    print(f"copied {len(loads)} accepted original(s) into {args.to / 'inbox'}, in load order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
