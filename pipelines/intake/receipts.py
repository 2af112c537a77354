"""Receipts: what happened to a file, for the data officer who sent it.

Three files per processed file in ``receipts/``: a readable ``.txt``, a machine-readable
``.json`` and, when rows were rejected, a ``.rejects.xlsx`` with the original rows, their sheet
row numbers and every reason. The rejects workbook is the only place a partner's cell values are
ever written back: it may hold the agency's own identifiers, so it stays on the partnership's
server and is never attached to email. Receipts, emails, logs and load records describe problems
by row number, column and rule (and, for a listed-values column, the values allowed), never by
quoting what was found.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import BinaryIO

from ..xlsx import write_rows
from .inbox import display_name

EXAMPLES = 5


@dataclass(frozen=True)
class Receipt:
    """What happened to one file, for the data officer who sent it. Immutable: each stage of
    intake makes the next receipt from the last (``replace``), and the one recorded with the load
    is what every later step (receipt files, email, the portal) shows."""

    file: str
    sha256: str  # "" when the file was not read (not a plain file, or over the size limit)
    received_at: str
    status: str  # accepted | rejected | duplicate
    summary: str
    source: str | None = None
    source_title: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    mapped: dict[str, str] = field(default_factory=dict)  # header as sent -> canonical column
    ignored: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    totals_rows: int = 0
    reasons: list[dict] = field(default_factory=list)  # {reason, rows, examples: [row numbers]}
    duplicate_of: dict | None = None
    stored_as: str | None = None
    rejects_file: str | None = None
    load_id: int | None = None
    notes: list[str] = field(default_factory=list)  # anything else the sender should know

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> Receipt:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    def replace(self, **changes) -> Receipt:
        return dataclasses.replace(self, **changes)

    def of_source(self, source) -> Receipt:
        """Said to be of ``source`` (by its subfolder, its header, or the load it duplicates)."""
        return self.replace(source=source.name, source_title=source.title)

    def of_layout(self, layout) -> Receipt:
        """What identification found: the source, the sheet, the header row and its columns."""
        return self.of_source(layout.source).replace(
            sheet=layout.sheet.name,
            header_row=layout.header_index + 1,
            mapped={sent: canonical for canonical, sent in layout.mapped.items()},
            ignored=list(layout.ignored),
        )

    def decided(self, decision, rejects: Path | None) -> Receipt:
        """What the checks decided, and where the rejected rows as sent are kept."""
        return self.replace(
            status=decision.status,
            summary=decision.summary,
            rows_read=decision.rows_read,
            rows_loaded=decision.rows_loaded,
            rows_rejected=decision.rows_rejected,
            totals_rows=decision.totals_rows,
            reasons=list(decision.reasons),
            rejects_file=str(rejects) if rejects else None,
        )

    def filed(self, folder: str, stored_name: str, load_id: int | None = None) -> Receipt:
        """Where the original is kept (``archive/...`` or ``rejected/...``), and its load."""
        return self.replace(
            stored_as=f"{folder}/{stored_name}", load_id=load_id if load_id is not None else self.load_id
        )


class ReasonTally:
    """Rows rejected grouped by reason, counted as the problems come (a chunk at a time, in
    sheet order): each reason's rows and its first ``EXAMPLES`` row numbers."""

    def __init__(self) -> None:
        self.groups: OrderedDict[str, dict] = OrderedDict()

    def add(self, problems) -> None:
        for problem in problems:
            for reason in problem.reasons:
                group = self.groups.get(reason)
                if group is None:
                    group = self.groups[reason] = {"reason": reason, "rows": 0, "examples": []}
                group["rows"] += 1
                if len(group["examples"]) < EXAMPLES:
                    group["examples"].append({"row": problem.row, "detail": reason})

    def result(self) -> list[dict]:
        """Most frequent first (reasons as common keep the order they were first met)."""
        return sorted(self.groups.values(), key=lambda g: -g["rows"])


def group_reasons(problems) -> list[dict]:
    """Rows rejected grouped by reason, most frequent first."""
    tally = ReasonTally()
    tally.add(problems)
    return tally.result()


def render_text(receipt: Receipt) -> str:
    lines = [
        f"Receipt for {display_name(receipt.file)}",
        f"Received: {receipt.received_at} (UTC)",
        f"SHA-256: {receipt.sha256 or 'not computed (the file was not read)'}",
        f"Outcome: {receipt.status.upper()}: {receipt.summary}",
    ]
    if receipt.source:
        lines.append(f"Identified as: {receipt.source_title} ({receipt.source})")
    if receipt.sheet:
        lines.append(f"Read from: sheet '{receipt.sheet}', header on row {receipt.header_row}")
    if receipt.mapped:
        lines.append(
            "Columns used: " + "; ".join(f"{sent} -> {canonical}" for sent, canonical in receipt.mapped.items())
        )
    if receipt.ignored:
        lines.append("Columns ignored (not loaded): " + "; ".join(receipt.ignored))
    if receipt.rows_read or receipt.status != "duplicate":
        lines.append(
            f"Rows: {receipt.rows_read:,} data rows read, {receipt.rows_loaded:,} loaded, "
            f"{receipt.rows_rejected:,} rejected"
            + (f"; {receipt.totals_rows} totals row(s) ignored" if receipt.totals_rows else "")
        )
    if receipt.duplicate_of:
        d = receipt.duplicate_of
        lines.append(
            f"This file is identical to '{d['original_name']}', already loaded on {d['received_at']} (load {d['load_id']}); nothing was loaded again."
        )
    if receipt.reasons:
        lines.append("")
        lines.append("Rejected rows, by reason:")
        for group in receipt.reasons:
            rows = ", ".join(str(e["row"]) for e in group["examples"])
            more = "" if group["rows"] <= len(group["examples"]) else ", ..."
            lines.append(f"  - {group['reason']}: {group['rows']} row(s), e.g. row {rows}{more}")
            for example in group["examples"][:2]:
                if example["detail"] != group["reason"]:
                    lines.append(f"      row {example['row']}: {example['detail']}")
    if receipt.rejects_file:
        lines.append("")
        lines.append(
            f"The rejected rows as sent, with row numbers and reasons, are in {Path(receipt.rejects_file).name} "
            "on the partnership's server (not emailed, as it may hold personal identifiers)."
        )
    if receipt.stored_as:
        lines.append(f"Original kept as: {receipt.stored_as}")
    for note in receipt.notes:
        lines.append("")
        lines.append(f"Note: {note}")
    return "\n".join(lines) + "\n"


def write_rejects(folder: Path, stem: str, header: list[object] | None, problems) -> Path | None:
    """The rejected rows as sent, with their sheet row numbers and reasons (``<stem>.rejects.xlsx``,
    owner-only); ``None`` when no row was rejected. Named after the stored original, so writing it
    again after an interrupted run replaces it."""
    writer = RejectsWriter(folder, stem, header)
    writer.add(problems)
    return writer.close()


class RejectsWriter:
    """The rejects workbook of a file checked a chunk at a time: each chunk's rejected rows go
    at once to a private spill file (owner-only, pickled) in ``folder``, so none is held in
    memory, and ``close()`` writes the workbook from it (streamed) once the widest row is known,
    as its header names every column. ``discard()`` when the file turns out unreadable."""

    def __init__(self, folder: Path, stem: str, header: list[object] | None):
        self.folder, self.stem = folder, stem
        self.header = list(header or [])
        self.width = len(self.header)
        self.spill_path = folder / f".{stem}.rejects.part"
        self.spill: BinaryIO | None = None

    def add(self, problems) -> None:
        if not problems:
            return
        if self.spill is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.spill_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self.spill = os.fdopen(descriptor, "wb")
        pickle.dump([(p.row, p.reasons, p.cells) for p in problems], self.spill, protocol=pickle.HIGHEST_PROTOCOL)
        self.width = max(self.width, max(len(p.cells) for p in problems))

    def close(self) -> Path | None:
        if self.spill is None:
            return None
        self.spill.close()
        rejects = self.folder / f"{self.stem}.rejects.xlsx"
        columns = [str(h) if h not in (None, "") else f"Column {i + 1}" for i, h in enumerate(self.header)]
        columns += [f"Column {i + 1}" for i in range(len(columns), self.width)]
        try:
            write_rows(rejects, "Rejected rows", ["Row number", "Reasons", *columns], self._spilled())
            rejects.chmod(0o600)
        finally:
            self.spill_path.unlink(missing_ok=True)
        return rejects

    def discard(self) -> None:
        if self.spill is not None:
            self.spill.close()
        self.spill_path.unlink(missing_ok=True)

    def _spilled(self):
        with self.spill_path.open("rb") as handle:
            while True:
                try:
                    problems = pickle.load(handle)
                except EOFError:
                    return
                for row, reasons, cells in problems:
                    yield [row, "; ".join(reasons), *cells]


def write_receipt(receipt: Receipt, folder: Path, stem: str) -> tuple[Path, Path]:
    """The readable and JSON receipt files, named after the stored original (unique), written
    whole under a temporary name first, so writing them again after an interrupted run replaces
    them rather than adding copies."""
    folder.mkdir(parents=True, exist_ok=True)
    text_path = folder / f"{stem}.receipt.txt"
    json_path = folder / f"{stem}.receipt.json"
    for path, content in (
        (text_path, render_text(receipt)),
        (json_path, json.dumps(receipt.to_dict(), indent=2, default=str) + "\n"),
    ):
        temporary = path.with_name(f".{path.name}.part")
        temporary.write_text(content, encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(path)
    return text_path, json_path


def receipt_email(receipt: Receipt, text: str, sender: str, recipient: str, link: str | None = None) -> EmailMessage:
    """The receipt as an email; ``link``: the portal page to follow it on (the submission's page
    for a file sent through the portal, else the returns page)."""
    if link:
        text = text.rstrip("\n") + f"\n\nFollow your returns, and download the rejected rows, in the portal: {link}\n"
    message = EmailMessage()
    message["Subject"] = f"Scorecard intake receipt: {display_name(receipt.file)}: {receipt.status}"
    message["From"] = sender
    message["To"] = recipient
    message.set_content(text)
    return message
