"""The workbook's extent, found before calamine opens it (a safety check of issue 12), read fast
(issue 20): the furthest cell from each piece's last cell and one search for anything beyond it.
It must give exactly what reading every cell reference gives, wherever the furthest cell is."""

from __future__ import annotations

import itertools
import random
import re
import zipfile

import pytest

from pipelines.intake import reading
from pipelines.intake.reading import _column_number, _greater, _letters, _plain_extent


def _further(a: bytes, b: bytes) -> bool:
    return (len(a), a) > (len(b), b)


def test_greater_matches_exactly_the_further_row_numbers():
    numbers = [str(n).encode() for n in itertools.chain(range(1, 1200), [9999, 10000, 99999, 1048576])]
    for token in [b"1", b"9", b"10", b"99", b"100", b"109", b"555", b"1000", b"1048575"]:
        pattern = re.compile(b"^" + _greater(token, b"0", b"9") + b"$")
        for other in numbers:
            assert bool(pattern.match(other)) == _further(other, token), (token, other)


def test_greater_matches_exactly_the_further_column_letters():
    columns = [_letters(n) for n in range(1, 800)] + [b"XFD", b"ZZZ"]
    for token in [b"A", b"H", b"Z", b"AA", b"AZ", b"BA", b"ZZ", b"AAA", b"XFD"]:
        pattern = re.compile(b"^" + _greater(token, b"A", b"Z") + b"$")
        for other in columns:
            assert bool(pattern.match(other)) == (_column_number(other) > _column_number(token)), (token, other)


def test_letters_is_the_inverse_of_column_number():
    for n in range(1, 20000):
        assert _column_number(_letters(n)) == n


def _sheet_xml(cells: list[tuple[str, int]]) -> bytes:
    rows: dict[int, list[str]] = {}
    for column, row in cells:
        rows.setdefault(row, []).append(column)
    body = "".join(
        f'<row r="{row}">' + "".join(f'<c r="{c}{row}" t="n"><v>1</v></c>' for c in columns) + "</row>"
        for row, columns in rows.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>'
    ).encode()


def _every_reference(xml: bytes) -> tuple[int, int]:
    found = re.findall(rb'<c r="([A-Z]+)([0-9]+)"', xml)
    return max(int(r) for _, r in found), max(_column_number(c) for c, _ in found)


@pytest.mark.parametrize("seed", range(12))
def test_plain_extent_is_what_every_reference_gives_wherever_the_furthest_cell_is(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(reading, "_CHUNK", 4096)  # many pieces, so the furthest cell is in the middle of one
    rng = random.Random(seed)
    cells = [(_letters(c).decode(), r) for r in range(1, 3000) for c in range(1, 9)]
    if seed % 3 == 0:  # a far column in a middle row
        cells.insert(rng.randrange(len(cells)), ("AB", rng.randrange(1, 3000)))
    if seed % 3 == 1:  # rows out of order: a far row early on
        cells.insert(rng.randrange(len(cells) // 2), ("C", 900000 + rng.randrange(1000)))
    if seed % 4 == 3:  # the last rows shorter than the widest
        cells = [cell for cell in cells if not (cell[1] > 2990 and _column_number(cell[0].encode()) > 3)]
    xml = _sheet_xml(cells)
    path = tmp_path / "book.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", xml)
    with zipfile.ZipFile(path) as archive:
        part = archive.getinfo("xl/worksheets/sheet1.xml")
        assert _plain_extent(archive, part) == _every_reference(xml)
