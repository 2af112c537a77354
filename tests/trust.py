"""What every trust test asserts after intake has run (issue 12): no planted value anywhere it
should not be, every original filed exactly once with a receipt that says what the warehouse
holds, one receipt email per load, and nothing left half done."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, text

from pipelines.sources import load_sources
from pipelines.warehouse.schema import load_files, table_for


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _in_zip(data: bytes, needle: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return any(needle in archive.read(part) for part in archive.namelist())


def _in_email(data: bytes, needle: bytes) -> bool:
    message = email.message_from_bytes(data, policy=email.policy.default)
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if needle in payload or (payload[:2] == b"PK" and _in_zip(payload, needle)):
            return True
    return needle in data


def places_holding(home: Path, secret: str) -> list[str]:
    """Every file under ``home`` that holds ``secret``, looked for in its bytes, inside each part
    of a zip (xlsx), and in each decoded part of an email; partners' originals (the inbox,
    archive/ and rejected/) and the rejects workbooks, which are meant to hold what was sent,
    are left out."""
    needle = secret.encode("utf-8")
    found = []
    for path in sorted(home.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(home)
        if relative.parts[0] in ("inbox", "archive", "rejected") or path.name.endswith(".rejects.xlsx"):
            continue
        data = path.read_bytes()
        if needle in data:
            found.append(str(relative))
        elif data[:2] == b"PK" and zipfile.is_zipfile(path) and _in_zip(data, needle):
            found.append(f"{relative} (inside)")
        elif path.suffix == ".eml" and _in_email(data, needle):
            found.append(f"{relative} (decoded)")
    return found


def warehouse_holding(url: str, secret: str) -> list[str]:
    """Every warehouse table with a value holding ``secret`` (any engine, every column as text)."""
    engine = create_engine(url)
    found = []
    try:
        with engine.connect() as conn:
            for table in inspect(engine).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    if any(secret in str(value) for value in row):
                        found.append(table)
                        break
    finally:
        engine.dispose()
    return found


def receipts(home: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((home / "receipts").glob("*.receipt.json"))]


def emails(home: Path) -> list[email.message.EmailMessage]:
    outbox = home / "out" / "outbox"
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(outbox.rglob("*.eml"))
    ]


def assert_filed_once(settings, dropped: dict[str, str], *, delivered: int = 0) -> None:
    """Every dropped file (name -> SHA-256 of what was dropped) is in exactly one of archive/ and
    rejected/, byte for byte; every receipt's SHA-256 is its stored file's; the warehouse holds
    exactly what each receipt says was loaded; one email per receipt (``delivered`` went to a
    server, the rest are in the outbox); nothing left in processing/."""
    stored: dict[str, list[Path]] = {}
    for folder in (settings.archive, settings.rejected):
        for path in folder.iterdir():
            stored.setdefault(sha(path), []).append(path)
    for name, digest in dropped.items():
        assert len(stored.get(digest, [])) == 1, (name, stored.get(digest))
    engine = create_engine(settings.warehouse_url)
    sources = load_sources()
    try:
        with engine.connect() as conn:
            for receipt in receipts(settings.home):
                if receipt["sha256"] and receipt["stored_as"]:
                    original = settings.home / receipt["stored_as"]
                    assert original.is_file() and sha(original) == receipt["sha256"], receipt["file"]
                record = (
                    conn.execute(select(load_files).where(load_files.c.load_id == receipt["load_id"])).mappings().one()
                )
                assert record["status"] == receipt["status"] and record["finished_at"] is not None
                assert record["receipt_mailed_at"] is not None
                assert record["rows_loaded"] == receipt["rows_loaded"]
                if receipt["source"] in sources:
                    table = table_for(receipt["source"])
                    held = conn.execute(
                        select(func.count()).select_from(table).where(table.c.load_id == receipt["load_id"])
                    ).scalar_one()
                    assert held == receipt["rows_loaded"], receipt["file"]
                else:
                    assert receipt["rows_loaded"] == 0
            records = conn.execute(select(func.count()).select_from(load_files)).scalar_one()
    finally:
        engine.dispose()
    assert records == len(receipts(settings.home))
    assert len(emails(settings.home)) + delivered == records  # one receipt email per load
    assert [p.name for p in settings.processing.iterdir()] == []
