"""The whole job: generate -> intake -> build, checked against values computed independently
from the generated files (openpyxl/csv and dateutil here, never the product's own parsers or SQL)."""

from __future__ import annotations

import csv
import html as htmllib
import io
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from dateutil import parser as dateparser

from pipelines.build import build_quarter
from pipelines.config import load_settings
from pipelines.generate import generate
from pipelines.intake import run_intake
from pipelines.periods import Quarter
from pipelines.spc import analyse

pytestmark = pytest.mark.slow

END = Quarter.parse("2024-25Q3")
QUARTERS = 5


def _norm(text) -> str:
    return "".join(ch for ch in str(text or "").lower() if ch.isalnum())


def _rows(path: Path) -> list[list]:
    """Every row of the first sheet (xlsx) or the csv, as plain values."""
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _table(path: Path, wanted: dict[str, set[str]]) -> list[dict] | None:
    """Rows as dicts keyed by our own short names, if the file has every wanted column."""
    rows = _rows(path)
    for index, row in enumerate(rows[:20]):
        names = [_norm(c) for c in row]
        positions = {}
        for key, spellings in wanted.items():
            hits = [i for i, n in enumerate(names) if n in spellings]
            if hits:
                positions[key] = hits[0]
        if len(positions) == len(wanted):
            out = []
            for data in rows[index + 1 :]:
                first = next((c for c in data if c not in (None, "")), None)
                if first is None or str(first).lower().startswith("total"):
                    continue
                out.append({k: data[p] if p < len(data) else None for k, p in positions.items()})
            return out
    return None


def _when(value) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    return dateparser.parse(text, dayfirst=not re.match(r"^\d{4}-", text))


def _truth(value):
    text = str(value).strip().lower() if value is not None else ""
    if text in {"y", "yes", "true", "t", "1", "1.0"}:
        return True
    if text in {"n", "no", "false", "f", "0", "0.0"}:
        return False
    return None


def _int(value) -> int:
    return int(float(str(value).replace(",", "")))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e")
    env = {
        "SCORECARD_HOME": str(home),
        "SCORECARD_PSEUDONYM_KEY": "e2e-key-not-secret",
        "SCORECARD_SETTLE_SECONDS": "0",
    }
    settings = load_settings(env)
    settings.ensure_folders()
    generated = generate(home / "generated", quarters=QUARTERS, seed=11, end_quarter=END, scale=0.3)
    for path in generated.files:
        (settings.inbox / path.name).write_bytes(path.read_bytes())
    run = run_intake(settings, files=sorted(settings.inbox.iterdir()))
    results = {q.code: build_quarter(settings, q, email=(q == END)) for q in (END.shift(-i) for i in range(QUARTERS))}
    return settings, generated, run, results


def test_every_generated_file_is_accepted_without_rejected_rows(built):
    _, generated, run, _ = built
    assert len(run.outcomes) == len(generated.files)
    bad = [
        (o.file, o.status, o.rows_rejected, o.message)
        for o in run.outcomes
        if o.status != "accepted" or o.rows_rejected
    ]
    assert bad == []


def test_every_quarter_builds_all_outputs(built):
    settings, _, _, results = built
    for code, result in results.items():
        scorecard = json.loads(result.json.read_text())
        assert scorecard["quarter"] == code
        assert len(scorecard["indicators"]) == 23
        assert result.html.stat().st_size > 10_000 and result.xlsx.stat().st_size > 5_000
    latest = json.loads(results[END.code].json.read_text())
    with_values = [i["id"] for i in latest["indicators"] if i["value"] is not None]
    assert len(with_values) == 23, [i["id"] for i in latest["indicators"] if i["value"] is None]
    html = htmllib.unescape(results[END.code].html.read_text())
    for indicator in latest["indicators"]:
        assert indicator["name"] in html
    assert len(list(settings.outbox.glob("*.eml"))) >= 1
    index = (settings.out / "index.html").read_text()
    for code in results:
        assert f'href="{code}/scorecard.html"' in index


def test_generated_data_scorecards_validate_against_the_schema(built):
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "scorecard.schema.json").read_text())
    _, _, _, results = built
    for result in results.values():
        jsonschema.Draft202012Validator(schema).validate(json.loads(result.json.read_text()))
    # Every point carries its segment's mean and limits and the rules pipelines.spc.analyse gave it
    # (the shipped catalogue recalculates nothing: one segment), so a chart can be redrawn from the JSON.
    latest = json.loads(results[END.code].json.read_text())
    fired = set()
    for indicator in latest["indicators"]:
        spc = indicator["spc"]
        series = spc["series"]
        result = analyse(
            [p["value"] for p in series],
            polarity=indicator["polarity"],
            target=indicator["target"],
        )
        assert [(p["mean"], p["lower_limit"], p["upper_limit"], p["rules"]) for p in series] == [
            (q.mean, q.lower_limit, q.upper_limit, list(q.rules)) for q in result.points
        ], indicator["id"]
        assert [p["special_cause"] for p in series] == [bool(p["rules"]) for p in series]
        assert (spc["variation"], spc["conflict"]) == (result.variation, result.conflict), indicator["id"]
        assert spc["signals"] == (series[-1]["rules"] if series and spc["variation"] != "insufficient_history" else [])
        fired.update(rule for p in series for rule in p["rules"])
    assert fired, "the demo data should make at least one SPC rule fire"


def _indicator(result, indicator_id) -> dict:
    scorecard = json.loads(result.json.read_text())
    return next(i for i in scorecard["indicators"] if i["id"] == indicator_id)


def test_indicators_match_independent_calculation(built):
    _, generated, _, results = built
    q = END
    start, end = datetime.combine(q.start, datetime.min.time()), datetime.combine(q.end_exclusive, datetime.min.time())
    incidents, referrals, attendance, episodes = [], [], [], []
    for path in generated.files:
        police = _table(
            path,
            {
                "ref": {"occurrencenumber", "incidentref", "incidentnumber", "occurrenceref", "ref"},
                "when": {"reporteddate", "datereported", "reported", "occurrencedate", "incidentdate"},
                "child": {"childpresent", "childrenpresent", "childrenpresentyn"},
            },
        )
        missing = _table(
            path,
            {
                "ref": {"episodeid", "mfhref", "missingref", "occurrencenumber"},
                "child": {"childid", "personid", "childref", "child"},
                "when": {"datemissing", "reportedmissing", "missingfrom", "missingstart", "misstart"},
            },
        )
        if police is not None and missing is None:
            incidents += police
            continue
        if missing is not None:
            episodes += missing
            continue
        refs = _table(
            path,
            {
                "child": {"childid", "personid", "childref", "lcsid", "mosaicid", "child"},
                "when": {"referraldate", "dateofreferral"},
                "id": {"referralid", "referralnumber", "referralref"},
            },
        )
        if refs is not None:
            referrals += refs
            continue
        att = _table(
            path,
            {
                "phase": {"phase", "schoolphase", "educationphase", "schooltype"},
                "end": {"periodend", "to", "enddate"},
                "absent": {"overallabsencesessions", "sessionsabsent", "absencesessions", "sessoverall"},
                "possible": {"possiblesessions", "sessionspossible", "sesspossible"},
            },
        )
        if att is not None:
            attendance += att

    in_q = [r for r in incidents if start <= _when(r["when"]) < end]
    assert _indicator(results[q.code], "DA01")["value"] == len(in_q) > 0
    known = [_truth(r["child"]) for r in in_q if _truth(r["child"]) is not None]
    assert _indicator(results[q.code], "DA03")["value"] == pytest.approx(100 * sum(known) / len(known))

    dated = [(str(r["child"]).strip().upper(), _when(r["when"]).date()) for r in referrals]
    in_q_refs = [(c, d) for c, d in dated if q.start <= d <= q.end]
    by_child = defaultdict(list)
    for c, d in dated:
        by_child[c].append(d)
    rereferred = sum(1 for c, d in in_q_refs if any(timedelta(0) < d - d0 <= timedelta(365) for d0 in by_child[c]))
    cs03 = _indicator(results[q.code], "CS03")
    assert (cs03["numerator"], cs03["denominator"]) == (rereferred, len(in_q_refs))
    assert _indicator(results[q.code], "CS01")["value"] == len(in_q_refs)

    primary = [
        r
        for r in attendance
        if _norm(r["phase"]) in {"primary", "statefundedprimary"} and q.start <= _when(r["end"]).date() <= q.end
    ]
    at01 = _indicator(results[q.code], "AT01")
    assert at01["value"] == pytest.approx(
        100 * sum(_int(r["absent"]) for r in primary) / sum(_int(r["possible"]) for r in primary)
    )

    in_q_eps = [r for r in episodes if start <= _when(r["when"]) < end]
    assert _indicator(results[q.code], "MI01")["value"] == len(in_q_eps)
    assert _indicator(results[q.code], "MI02")["value"] == len({str(r["child"]).strip().upper() for r in in_q_eps})


def test_rebuilding_a_quarter_gives_identical_values(built):
    settings, _, _, results = built
    first = json.loads(results[END.shift(-1).code].json.read_text())
    again = build_quarter(settings, END.shift(-1), email=False)
    second = json.loads(again.json.read_text())
    strip = lambda s: [{k: v for k, v in i.items()} for i in s["indicators"]]  # noqa: E731
    assert strip(first) == strip(second)
    assert first["exceptions"] == second["exceptions"]


def test_the_workbooks_monthly_sheet_and_charts_are_the_jsons_series(built):
    """The built workbook's Monthly sheet holds scorecard.json's series for every indicator (a
    disclosive one's months and rules, without numbers), and each exception opens the workbook
    with its chart: a native one drawing its own Monthly rows, or a picture for a disclosive one."""
    _, _, _, results = built
    latest = json.loads(results[END.code].json.read_text())
    wb = openpyxl.load_workbook(results[END.code].xlsx)
    assert wb.sheetnames[:3] == ["Exceptions", "Summary", "Monthly"]
    monthly = [[c.value for c in r] for r in wb["Monthly"].iter_rows(min_row=2)]
    rows_of: dict[str, list[int]] = defaultdict(list)
    for n, row in enumerate(monthly, start=2):
        rows_of[row[0]].append(n)
    for ind in latest["indicators"]:
        series = ind["spc"]["series"]
        mine = [monthly[n - 2] for n in rows_of[ind["id"]]]
        assert [r[2].strftime("%Y-%m") for r in mine] == [p["month"] for p in series], ind["id"]
        assert [r[8] or "" for r in mine] == [", ".join(p["rules"]) for p in series], ind["id"]
        numbers = [r[3:7] for r in mine]
        if ind["disclosive"]:
            assert all(n == [None] * 4 for n in numbers), ind["id"]
        else:
            expected = [[p["value"], p["mean"], p["lower_limit"], p["upper_limit"]] for p in series]
            assert len(numbers) == len(expected), ind["id"]
            for got, want in zip(numbers, expected):
                # Excel keeps 15 significant digits: 419.98999999999995 is read back as 419.99
                assert [g is None for g in got] == [w is None for w in want], ind["id"]
                assert [g for g in got if g is not None] == pytest.approx([w for w in want if w is not None], rel=1e-14)
    exceptions = wb["Exceptions"]
    listed = [r[0] for r in exceptions.iter_rows(min_row=5, max_row=4 + len(latest["exceptions"]), values_only=True)]
    assert listed == latest["exceptions"] and listed
    drawn = [c.series[0].val.numRef.f for c in exceptions._charts]
    charted = [
        i
        for i in latest["indicators"]
        if i["id"] in latest["exceptions"] and i["spc"]["series"] and not i["disclosive"]
    ]
    assert drawn == [f"'Monthly'!$D${rows_of[i['id']][0]}:$D${rows_of[i['id']][-1]}" for i in charted]
    pictured = [
        i for i in latest["indicators"] if i["id"] in latest["exceptions"] and i["spc"]["series"] and i["disclosive"]
    ]
    assert len(exceptions._images) == len(pictured)
    assert charted or pictured  # the quarter's exceptions have charts to check
