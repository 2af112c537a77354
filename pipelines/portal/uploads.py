"""Uploads: a file streamed to disk, checked as intake would, kept until it is submitted.

Each upload gets a private folder ``$SCORECARD_HOME/uploads/<upload id>/`` (owner-only), named by
a random id nobody can guess and bound to the user who uploaded it (``meta.json``): nobody else
can see it, not even by its id. The form is parsed as it arrives (``receive_upload``): the file's
bytes go straight to ``upload<suffix>`` in that folder, counted as they come, and the moment they
pass ``max_file_mb`` the reading stops, the partial file is removed and the upload is refused.
Nothing reaches the inbox before **Submit** (``submissions.py``).

The name the browser sent is untrusted: it is kept only as text (to show the sender); the file on
disk is called ``upload`` with the name's extension when that is a plain one (intake reads a file
by its extension), and the check writes the rejected rows as sent into ``out/`` beside it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive

from ..config import Settings
from ..intake.check import CheckResult, check_file
from ..intake.inbox import text_name
from ..intake.receipts import Receipt
from .accounts import utcnow
from .security import CsrfRefused, check_csrf

UPLOADS = "uploads"
_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
FORM_SLACK = 64 * 1024  # the form's other fields and the multipart framing around the file
KEEP_HOURS = 24  # an upload not submitted within a day is removed
ROWS_SHOWN = 200  # rejected rows shown on the page (the rest are counted, and in the workbook)
# After refusing an upload, what is still coming is read and dropped for a moment (never kept),
# so the browser sees the answer instead of a connection reset; then the connection is closed.
DRAIN_SECONDS, DRAIN_IDLE_SECONDS = 3.0, 0.5


class UploadRefused(Exception):
    """The upload cannot be taken: ``status`` (400/413) and a plain message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def uploads_root(settings: Settings) -> Path:
    root = settings.home / UPLOADS
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def new_upload_id() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, 192 random bits


def upload_folder(settings: Settings, upload_id: str) -> Path | None:
    """The folder of a well-formed upload id (never anything else: the id is checked before it
    becomes part of a path), or None."""
    if not isinstance(upload_id, str) or not _ID.fullmatch(upload_id):
        return None
    return settings.home / UPLOADS / upload_id


def too_large_message(limit_mb: float) -> str:
    return (
        f"The file is larger than the {limit_mb:g} MB limit, so it was not taken: nothing was checked or sent. "
        "Split the return into smaller files, or ask the partnership's analyst."
    )


@dataclass
class Received:
    """What the form carried: its fields, and the file written to ``path`` (if one came)."""

    fields: dict[str, str] = field(default_factory=dict)
    original_name: str | None = None
    path: Path | None = None
    size: int = 0
    sha256: str = ""


class _Form:
    """The multipart callbacks: fields kept (small), the file part streamed to disk."""

    def __init__(self, folder: Path, limit: int, csrf_token: str):
        self.folder, self.limit, self.csrf_token = folder, limit, csrf_token
        self.received = Received()
        self.header_field, self.header_value = b"", b""
        self.headers: dict[bytes, bytes] = {}
        self.name: str | None = None
        self.value = bytearray()
        self.handle: int | None = None
        self.hasher = hashlib.sha256()

    def on_part_begin(self) -> None:
        self.headers, self.name, self.value = {}, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.strip().lower()] = self.header_value.strip()
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            return
        if self.received.path is not None:
            raise UploadRefused(400, "Send one file at a time.")
        # The token must come before the file: nothing is written for a form that is not ours.
        check_csrf(self.csrf_token, self.received.fields.get("csrf_token"))
        raw = options[b"filename"].decode("utf-8", "surrogateescape")
        original = text_name(raw)[:255]  # only ever text: shown, never a path
        self.received.original_name = original
        suffix = os.path.splitext(original)[1]
        path = self.folder / ("upload" + (suffix.lower() if _SUFFIX.fullmatch(suffix) else ""))
        self.handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self.received.path = path

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.handle is None:
            if len(self.value) + len(chunk) > FORM_SLACK:
                raise UploadRefused(400, "A form field was far too long.")
            self.value += chunk
            return
        self.received.size += len(chunk)
        if self.received.size > self.limit:
            raise UploadRefused(413, "")
        self.hasher.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self.handle, view)
            view = view[written:]

    def on_part_end(self) -> None:
        if self.handle is not None:
            os.fsync(self.handle)
            os.close(self.handle)
            self.handle = None
            self.received.sha256 = self.hasher.hexdigest()
        elif self.name:
            self.received.fields[self.name] = self.value.decode("utf-8", "replace")

    def close(self) -> None:
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


async def receive_upload(
    receive: Receive, content_type: str | None, content_length: str | None, folder: Path, limit: int, csrf_token: str
) -> Received:
    """Read the multipart form from ``receive`` as it arrives, the file into ``folder``.
    ``UploadRefused`` (the partial file removed) or ``CsrfRefused``."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        # The Check a file page always sends a multipart form with its token: anything else is
        # not that form (refused as a form without its token, whatever it holds).
        await drain(receive)
        raise CsrfRefused()
    if content_length and content_length.isdigit() and int(content_length) > limit + FORM_SLACK:
        await drain(receive)
        raise UploadRefused(413, "")
    form = _Form(folder, limit, csrf_token)
    callbacks = {name: getattr(form, name) for name in dir(_Form) if name.startswith("on_")}
    parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]
    total = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise UploadRefused(400, "The upload was interrupted.")
            body = message.get("body", b"")
            total += len(body)
            if total > limit + FORM_SLACK:
                raise UploadRefused(413, "")
            if body:  # written (and hashed) off the event loop: other requests are not held up
                await run_in_threadpool(parser.write, body)
            if not message.get("more_body", False):
                break
        await run_in_threadpool(parser.finalize)
        # A form with no file part has not been checked yet: the token is checked for every form.
        check_csrf(csrf_token, form.received.fields.get("csrf_token"))
    except UploadRefused as refused:
        form.close()
        _remove(form.received.path)
        if refused.status == 413:
            await drain(receive)
        raise
    except BaseException:
        form.close()
        _remove(form.received.path)
        raise
    return form.received


async def drain(receive: Receive) -> None:
    """Read and drop what the browser is still sending, for a few seconds at most (nothing is
    kept), so it can show the refusal; the connection is then closed."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(receive(), DRAIN_IDLE_SECONDS)
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _remove(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


# ------------------------------------------------------------------ a stored upload


@dataclass(frozen=True)
class Upload:
    upload_id: str
    folder: Path
    user_id: int
    original_name: str
    chosen_source: str | None  # what the sender said (None: the analyst let intake decide)
    size: int
    sha256: str
    uploaded_at: str
    result: CheckResult

    @property
    def path(self) -> Path:
        return self.folder / self.file_name

    @property
    def file_name(self) -> str:
        return self.result.path.rsplit("/", 1)[-1]

    @property
    def receipt(self) -> Receipt:
        return self.result.receipt

    @property
    def source(self) -> str | None:
        """The source the file is of: as checked (identified or said), else as said."""
        return self.receipt.source or self.chosen_source

    @property
    def submittable(self) -> bool:
        return self.result.accepted and self.source is not None


def check_upload(settings: Settings, upload_id: str, folder: Path, received: Received, user_id: int, source):
    """Check the received file as intake would (rejected rows as sent into ``out/``) and keep the
    answer beside it."""
    assert received.path is not None
    result = check_file(settings, received.path, out=folder / "out", source=source)
    meta = {
        "user_id": user_id,
        "original_name": received.original_name or "",
        "chosen_source": source,
        "size": received.size,
        "sha256": received.sha256,
        "uploaded_at": utcnow().replace(microsecond=0).isoformat(sep=" "),
        "result": {
            "path": received.path.name,
            "receipt": result.receipt.to_dict(),
            "would_update": result.would_update,
            "would_insert": result.would_insert,
        },
    }
    temporary = folder / ".meta.json.part"
    temporary.write_text(json.dumps(meta), encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(folder / "meta.json")
    return load_upload(settings, upload_id, user_id)


def load_upload(settings: Settings, upload_id: str, user_id: int) -> Upload | None:
    """The upload ``upload_id`` of ``user_id``; None when there is none, or it is someone else's."""
    folder = upload_folder(settings, upload_id)
    if folder is None:
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != user_id:
        return None
    saved = meta["result"]
    result = CheckResult(
        path=saved["path"],
        receipt=Receipt.from_dict(saved["receipt"]),
        would_update=saved["would_update"],
        would_insert=saved["would_insert"],
    )
    return Upload(
        upload_id=upload_id,
        folder=folder,
        user_id=user_id,
        original_name=meta["original_name"],
        chosen_source=meta["chosen_source"],
        size=meta["size"],
        sha256=meta["sha256"],
        uploaded_at=meta["uploaded_at"],
        result=result,
    )


def rejects_workbook(folder: Path) -> Path | None:
    """The rejected rows a check (or intake) wrote in ``folder`` (the only ``.rejects.xlsx``)."""
    found = sorted(folder.glob("*.rejects.xlsx"))
    return found[0] if found else None


@dataclass(frozen=True)
class RejectedRows:
    headers: list[str]
    rows: list[tuple[object, list[str], list[object]]]  # (row number, reasons, cells as sent)
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def read_rejected_rows(workbook: Path, limit: int = ROWS_SHOWN) -> RejectedRows:
    """The rejected rows as sent, from a rejects workbook (read-only): at most ``limit`` rows,
    and how many there are in all."""
    import openpyxl

    book = openpyxl.load_workbook(workbook, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = next(lines, ())
        headers = ["" if h is None else str(h) for h in header[2:]]
        rows: list[tuple[object, list[str], list[object]]] = []
        total = 0
        for line in lines:
            if not line or all(v is None for v in line):
                continue
            total += 1
            if len(rows) < limit:
                reasons = [r for r in str(line[1] or "").split("; ") if r]
                cells = ["" if v is None else v for v in line[2:]]
                rows.append((line[0], reasons, cells))
        return RejectedRows(headers, rows, total)
    finally:
        book.close()


def remove_upload(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def sweep_old_uploads(settings: Settings, now: float | None = None) -> None:
    """Remove uploads not submitted within ``KEEP_HOURS``."""
    root = settings.home / UPLOADS
    if not root.is_dir():
        return
    cutoff = (time.time() if now is None else now) - KEEP_HOURS * 3600
    for entry in root.iterdir():
        try:
            if not entry.is_symlink() and entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:
            continue
