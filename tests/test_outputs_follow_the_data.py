"""Priorities, comparator labels and unit words are data: change them in
definitions/indicators.yaml alone and every output (HTML, the email's plain text, Excel) follows.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime

import openpyxl

from pipelines.build import build_quarter
from pipelines.periods import Quarter
from tests.test_read_layer import copy_resources
from tests.test_scorecard import data  # noqa: F401  (the fixture: two years of hand-made rows)

Q1 = Quarter(2024, 1)
PRIORITIES = [
    "Domestic abuse and its impact on children",
    "Identification and assessment of need",
    "Vulnerable learners",
    "Exploitation and children missing from home or care",
]
NEW_ORDER = [PRIORITIES[2], PRIORITIES[3], PRIORITIES[0], PRIORITIES[1]]


def edit_catalogue(text: str) -> str:
    priorities = "priorities:\n" + "".join(f"  - {p}\n" for p in PRIORITIES)
    assert priorities in text
    text = text.replace(priorities, "priorities:\n" + "".join(f"  - {p}\n" for p in NEW_ORDER))
    england = "  - {code: england, label: England}\n"
    percent = '  - {code: "%", after_value: "%", after_change: " pts"}\n'
    assert england in text and percent in text
    text = text.replace(england, "  - {code: england, label: National average (England)}\n")
    return text.replace(percent, '  - {code: "%", after_value: " per cent", after_change: " percentage points"}\n')


def plain_text(settings) -> str:
    [eml] = settings.outbox.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def test_priority_order_comparator_label_and_unit_words_come_from_the_catalogue(
    settings,
    data,  # noqa: F811  (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    resources = copy_resources(tmp_path / "rules")
    catalogue = resources / "definitions" / "indicators.yaml"
    catalogue.write_text(edit_catalogue(catalogue.read_text(encoding="utf-8")), encoding="utf-8")
    monkeypatch.setenv("SCORECARD_RESOURCES", str(resources))

    result = build_quarter(settings, Q1, email=True, generated_at=datetime(2024, 7, 15, 6, 0))
    html = result.html.read_text(encoding="utf-8")
    text = plain_text(settings)
    sheet = openpyxl.load_workbook(result.xlsx)["Summary"]
    summary = [[c.value for c in row] for row in sheet.iter_rows()]

    # Sections in the new order, in every output.
    headings = re.findall(r"<h2[^>]*>([^<]+)</h2>", html)
    assert [h for h in headings if h in PRIORITIES] == NEW_ORDER
    assert sorted(PRIORITIES, key=lambda p: text.index(p.upper())) == NEW_ORDER
    sections = [row[0] for row in summary if row[0] in PRIORITIES]
    assert sections == NEW_ORDER
    # The indicators follow their section (AT rows first, DA rows after MI rows).
    ids = [row[0] for row in summary if isinstance(row[0], str) and re.fullmatch(r"[A-Z]{2}\d{2}", row[0])]
    assert ids[0] == "AT01" and ids.index("MI06") < ids.index("DA01")

    # DA05's England benchmark (31.0 for 2024-25) under the new label, with the year it is for
    # (the statistical neighbours' is 2022-23's, so each names its own); a percentage in the new words.
    da05_html = html.split('id="DA05"')[1].split("</tr>")[0]
    assert "National average (England), 2024-25: 31.0 per cent" in da05_html and ">England" not in da05_html
    assert "Statistical neighbours, 2022-23: 28.0 per cent" in da05_html
    assert "18.8 per cent" in da05_html and "18.8%" not in html
    assert (
        "Benchmarks: National average (England), 2024-25: 31.0 per cent; Statistical neighbours, 2022-23: 28.0" in text
    )
    assert "Value: 18.8 per cent (3 / 16)" in text
    assert "percentage points" in text and " pts" not in text
    da05_row = next(row for row in summary if row[0] == "DA05")
    assert da05_row[summary[5].index("Benchmarks")] == (
        "National average (England) 31.0 per cent; Statistical neighbours 28.0 per cent"
    )
    cell = sheet.cell(row=summary.index(da05_row) + 1, column=summary[5].index("Value") + 1)
    assert (cell.value, cell.number_format) == (18.8, '#,##0.0" per cent"')
    # The contract is unchanged: codes, not words.
    scorecard = result.json.read_text(encoding="utf-8")
    assert '"unit": "%"' in scorecard and '"england": 31.0' in scorecard and "per cent" not in scorecard
