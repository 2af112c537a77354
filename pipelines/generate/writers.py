"""Streaming writers for partner extracts: xlsx in openpyxl write-only mode and csv in any of the
encodings and separators partners use.

Rows are consumed one at a time, so memory stays flat however large ``scale`` is. Workbooks are
made reproducible: openpyxl stamps the save time into ``docProps/core.xml`` and the zip entries,
so both are rewritten with the file's own (data-derived) run date.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from .cells import Formatter


@dataclass(frozen=True)
class Column:
    """One column of an extract: the canonical field it carries, its header as sent, its format."""

    field: str
    header: str
    format: Formatter


def render(columns: list[Column], records: Iterable[dict]) -> Iterable[list[object]]:
    """Each canonical record as the row of cells the partner's file holds."""
    for record in records:
        yield [c.format(record.get(c.field)) for c in columns]


def write_xlsx(
    path: Path,
    *,
    sheet: str,
    preamble: Sequence[Sequence[object]],
    header: list[str],
    rows: Iterable[Sequence[object]],
    footer: Callable[[int], list[object]] | None = None,
    stamp: datetime,
    creator: str = "",
) -> int:
    """One visible sheet: title rows, the header, the data rows and an optional totals row.

    Returns the number of data rows written.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    workbook.properties.creator = creator
    ws = workbook.create_sheet(sheet)
    formats = {datetime: "dd/mm/yyyy hh:mm", date: "dd/mm/yyyy"}

    def dated(value: object) -> object:
        kind = type(value)
        if kind in formats:
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = formats[kind]
            return cell
        return value

    for row in preamble:
        ws.append(row)
    ws.append(header)
    count = 0
    for row in rows:
        ws.append([dated(v) for v in row])
        count += 1
    if footer is not None:
        ws.append(footer(count))
    workbook.save(path)
    _freeze_zip(path, stamp)
    return count


_CORE_TIMES = re.compile(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _freeze_zip(path: Path, stamp: datetime) -> None:
    """Rewrite the workbook with fixed timestamps so the same data gives the same bytes."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with ZipFile(tmp, "w", ZIP_DEFLATED) as target:
        for name, data in members:
            if name == "docProps/core.xml":
                data = _CORE_TIMES.sub(lambda m: m.group(1) + iso + m.group(3), data.decode("utf-8")).encode("utf-8")
            info = ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    os.replace(tmp, path)


def write_csv(
    path: Path,
    *,
    header: list[str],
    rows: Iterable[Sequence[object]],
    delimiter: str = ",",
    encoding: str = "utf-8",
    preamble: Sequence[Sequence[object]] = (),
) -> int:
    """A csv as Excel or a case-management system exports it; returns the number of data rows."""
    count = 0
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        for row in preamble:
            writer.writerow(row)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            count += 1
    return count
