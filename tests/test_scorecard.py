"""The scorecard for a quarter (the typed model and its JSON contract) and its storage in the marts.

Data set (2024-25 Q1 under test; the 24-month series runs July 2022 to June 2024):
- police: month k = 0..23 has 4 incidents when k is even, 6 when odd; all with a child present,
  not repeat; the first of each month high risk; schools notified after 1 hour. In April-June
  2024 schools are never notified (DA04 drops from 100% to 0%: red) and the second incident of
  each month is a repeat (DA05 rises from 0% to 18.75%: still green, but special cause);
- referrals: four in Q1 only, two ending in NFA; population for 2023 only;
- attendance: none (a missing return);
- missing episodes: one in Q1.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import func, select
from test_indicators import add_rows, episode, incident, referral

from pipelines.catalogue import load_catalogue
from pipelines.indicators import series_months
from pipelines.marts import NotBuilt, load_scorecard, store_scorecard
from pipelines.periods import Month, Quarter
from pipelines.scorecard import build_scorecard, build_values, indicator_history
from pipelines.warehouse.schema import (
    mart_indicator_history,
    mart_indicator_month,
    mart_indicator_quarter,
    mart_scorecard,
)

Q1 = Quarter(2024, 1)
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "scorecard.schema.json").read_text())
BUILT = datetime(2024, 7, 15, 6, 0, 3)  # naive: UK local time (BST)


def police_history():
    rows = []
    first = Month(2022, 7)
    for k in range(24):
        month = first.shift(k)
        quiet = month >= Month(2024, 4)
        for i in range(4 if k % 2 == 0 else 6):
            reported = datetime(month.year, month.month, 1 + i, 9, 0)
            notified = None if quiet else reported + timedelta(hours=1)
            repeat = quiet and i == 1
            rows.append(
                incident(f"{month.code}-{i}", reported, True, repeat, "high" if i == 0 else "standard", notified)
            )
    return rows


@pytest.fixture
def data(warehouse):
    with warehouse.begin() as conn:
        add_rows(conn, "police_domestic_incidents", police_history(), "police.csv")
        add_rows(
            conn,
            "csws_referrals",
            [
                referral("R1", "c1", date(2024, 4, 2), True, "nfa"),
                referral("R2", "c2", date(2024, 5, 2), False, "nfa"),
                referral("R3", "c3", date(2024, 6, 2), False, "assessment"),
                referral("R4", "c4", date(2024, 6, 3), True, "early_help"),
            ],
            "csws.xlsx",
        )
        add_rows(
            conn, "missing_episodes", [episode("M1", "c9", datetime(2024, 5, 5, 22), None, True, False)], "mfh.csv"
        )
        add_rows(conn, "population", [{"year": 2023, "population_0_17": 40000}])
        add_rows(
            conn,
            "benchmarks",
            [
                {"indicator_id": "DA05", "comparator": "england", "period": "2023-24", "value": 30.0},
                {"indicator_id": "DA05", "comparator": "england", "period": "2024-25", "value": 31.0},
                {"indicator_id": "DA05", "comparator": "statistical_neighbours", "period": "2022-23", "value": 28.0},
                {"indicator_id": "DA05", "comparator": "region", "period": "2025-26", "value": 99.0},
                {"indicator_id": "CS03", "comparator": "england", "period": "2025-26", "value": 22.4},
            ],
        )
    return warehouse


def by_id(scorecard):
    return {e["id"]: e for e in scorecard["indicators"]}


def test_scorecard_contract(data):
    sc = build_scorecard(data, Q1, generated_at=BUILT).contract()
    jsonschema.Draft202012Validator(SCHEMA).validate(sc)
    json.dumps(sc)  # plain JSON types only

    assert (sc["quarter"], sc["label"], sc["period_start"], sc["period_end"]) == (
        "2024-25Q1",
        "2024-25 Q1",
        "2024-04-01",
        "2024-06-30",
    )
    assert sc["generated_at"] == "2024-07-15T06:00:03+01:00"
    # police: Apr (k=21) 6 + May 4 + Jun 6 = 16 rows; attendance missing.
    assert sc["returns"] == [
        {"source": "police_domestic_incidents", "status": "received", "rows": 16},
        {"source": "csws_referrals", "status": "received", "rows": 4},
        {"source": "school_attendance", "status": "missing", "rows": 0},
        {"source": "missing_episodes", "status": "received", "rows": 1},
    ]
    assert [e["id"] for e in sc["indicators"]] == [i.id for i in load_catalogue()]
    ind = by_id(sc)

    # DA01: 16 now; previous quarter Jan-Mar 2024 (k=18..20) 4+6+4 = 14; Apr-Jun 2023 (k=9..11) 6+4+6 = 16.
    da01 = ind["DA01"]
    assert (da01["value"], da01["numerator"], da01["denominator"], da01["data_status"]) == (16, 16, None, "complete")
    assert (da01["previous_quarter"], da01["same_quarter_last_year"]) == (14, 16)
    assert (da01["change_previous_quarter"], da01["change_same_quarter_last_year"]) == (2, 0)
    assert da01["direction"] == "not_applicable" and da01["rag"] == "none"
    assert da01["definition"] and da01["source"] == "police_domestic_incidents"
    # DA01 series: 4, 6, 4, ... mean 5, every moving range 2: limits 5 ± 5.32, common cause.
    assert da01["spc"]["points"] == 24
    assert da01["spc"]["mean"] == pytest.approx(5.0)
    assert da01["spc"]["upper_limit"] == pytest.approx(10.32) and da01["spc"]["lower_limit"] == pytest.approx(-0.32)
    assert da01["spc"]["variation"] == "common_cause" and da01["spc"]["assurance"] is None
    assert da01["spc"]["series"][0] == {
        "month": "2022-07",
        "value": 4,
        "numerator": 4,
        "denominator": None,
        "mean": pytest.approx(5.0),
        "lower_limit": pytest.approx(-0.32),
        "upper_limit": pytest.approx(10.32),
        "rules": [],
        "special_cause": False,
        "judgement": None,
    }
    assert da01["spc"]["conflict"] is False and da01["spc"]["recalculate_from"] == []
    assert [p["month"] for p in da01["spc"]["series"]][-1] == "2024-06"

    # DA04: 0/16 this quarter (red); 100% before. Series: 21 x 100 then 3 x 0: mean 87.5,
    # mean MR 100/23, LCL = 87.5 - 2.66 * 100/23 = 75.93: the last three are outside -> concern.
    da04 = ind["DA04"]
    assert (da04["value"], da04["numerator"], da04["denominator"]) == (0.0, 0, 16)
    assert da04["rag"] == "red" and da04["previous_quarter"] == 100.0 and da04["direction"] == "worsening"
    assert da04["change_previous_quarter"] == -100.0
    assert da04["spc"]["mean"] == pytest.approx(87.5)
    assert da04["spc"]["lower_limit"] == pytest.approx(87.5 - 2.66 * 100 / 23)
    assert da04["spc"]["variation"] == "special_cause_concern"
    assert da04["spc"]["assurance"] == "hit_and_miss"  # target 95 lies between 75.9 and 99.1
    assert [p["special_cause"] for p in da04["spc"]["series"][-3:]] == [True, True, True]
    assert da04["spc"]["signals"] == ["outside_low"]
    assert [p["rules"] for p in da04["spc"]["series"][-3:]] == [["outside_low"]] * 3
    assert {p["lower_limit"] for p in da04["spc"]["series"]} == {da04["spc"]["lower_limit"]}  # one segment
    assert da04["suppressed"] is False  # numerator 0 is not small-number disclosive

    # Suppression: DA06 (disclosive) 3 high-risk incidents; MI02 1 child; MI01 is not disclosive.
    assert (ind["DA06"]["numerator"], ind["DA06"]["suppressed"]) == (3, True)
    assert (ind["MI02"]["numerator"], ind["MI02"]["suppressed"]) == (1, True)
    assert (ind["MI01"]["numerator"], ind["MI01"]["suppressed"]) == (1, False)
    assert ind["MI05"]["data_status"] == "no_data" and ind["MI05"]["value"] is None  # nobody returned in Q1

    # Referrals: CS05 2/4 = 50% red; CS02 4 / 40000 (2023, no 2024 row) * 10000 = 1.0; no history.
    assert (ind["CS05"]["value"], ind["CS05"]["rag"]) == (50.0, "red")
    assert ind["CS05"]["previous_quarter"] is None and ind["CS05"]["direction"] == "not_applicable"
    assert ind["CS05"]["change_previous_quarter"] is None
    assert (ind["CS02"]["value"], ind["CS02"]["denominator"]) == (1.0, 40000)
    assert ind["CS03"]["spc"]["variation"] == "insufficient_history" and ind["CS03"]["spc"]["points"] == 3

    # Attendance return missing: null, grey, and no exception.
    for at in ("AT01", "AT02", "AT03", "AT04", "AT05", "AT06"):
        assert (ind[at]["value"], ind[at]["data_status"], ind[at]["rag"]) == (None, "missing", "none")

    # Benchmarks: the financial year's row, else the comparator's latest earlier period; never later.
    assert ind["DA05"]["benchmarks"] == {"england": 31.0, "statistical_neighbours": 28.0}
    assert ind["CS03"]["benchmarks"] == {}

    # DA05: 3/16 = 18.75% (green), but the series is 21 x 0 then 1/6, 1/4, 1/6 (%): mean 58.33/24 = 2.43,
    # mean MR = 33.33/23 = 1.449, UCL = 2.43 + 3.86 = 6.29: the last three are outside, above the mean:
    # concern for a down indicator. An exception although green.
    da05 = ind["DA05"]
    assert (da05["value"], da05["rag"], da05["direction"]) == (18.75, "green", "worsening")
    assert da05["spc"]["mean"] == pytest.approx((200 / 6 + 25) / 24)
    assert da05["spc"]["upper_limit"] == pytest.approx((200 / 6 + 25) / 24 + 2.66 * (100 / 6 + 2 * (25 - 100 / 6)) / 23)
    assert da05["spc"]["variation"] == "special_cause_concern" and da05["spc"]["assurance"] == "pass"

    # Exceptions in catalogue order: red (DA04, CS05) or special cause concern (DA04, DA05).
    assert sc["exceptions"] == ["DA04", "DA05", "CS05"]


def test_generated_at_carries_the_uk_offset(data):
    winter = build_scorecard(data, Quarter(2024, 3), generated_at=datetime(2025, 1, 15, 6, 0, tzinfo=UTC))
    assert winter.generated_at == "2025-01-15T06:00:00+00:00"
    summer = build_scorecard(data, Q1, generated_at=datetime(2024, 7, 15, 5, 0, tzinfo=UTC))
    assert summer.generated_at == "2024-07-15T06:00:00+01:00"
    now = build_scorecard(data, Q1).generated_at
    assert now[-6:] in ("+00:00", "+01:00")


def test_schema_rejects_a_broken_scorecard(data):
    sc = build_scorecard(data, Q1, generated_at=BUILT).contract()
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for breakage in (
        lambda s: s["indicators"][0].update(rag="purple"),
        lambda s: s["indicators"][0].pop("suppressed"),
        lambda s: s["returns"][0].update(status="late"),
        lambda s: s.update(quarter="2024Q1"),
        lambda s: s["indicators"][3]["spc"].update(variation="odd"),
        lambda s: s["indicators"][3]["spc"].pop("conflict"),
        lambda s: s["indicators"][3]["spc"]["series"][0].update(rules=["shift"]),
        lambda s: s["indicators"][3]["spc"]["series"][0].pop("upper_limit"),
        lambda s: s["indicators"][3]["spc"].update(signals=["outside_limits"]),
    ):
        broken = json.loads(json.dumps(sc))
        breakage(broken)
        assert not validator.is_valid(broken)


def _counts(engine):
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (mart_indicator_quarter, mart_indicator_month, mart_scorecard, mart_indicator_history)
        )


def test_store_and_rebuild_never_duplicates(data):
    first = build_scorecard(data, Q1, generated_at=BUILT)
    store_scorecard(data, first)
    points = sum(len(i.spc.series) for i in first.indicators)
    assert _counts(data) == (23, points, 1, 23 * 8)

    again = build_scorecard(data, Q1, generated_at=BUILT + timedelta(hours=1))
    strip = lambda s: {k: v for k, v in s.contract().items() if k != "generated_at"}  # noqa: E731
    assert strip(again) == strip(first)
    store_scorecard(data, again)
    assert _counts(data) == (23, points, 1, 23 * 8)

    # An earlier quarter's window overlaps: its months replace, never duplicate, the same months.
    earlier = build_scorecard(data, Quarter(2023, 4), generated_at=BUILT)
    store_scorecard(data, earlier)
    quarters, months, scorecards, history = _counts(data)
    assert (quarters, scorecards, history) == (46, 2, 23 * 8 + 23 * 7)
    with data.connect() as conn:
        distinct = conn.execute(
            select(func.count()).select_from(
                select(mart_indicator_month.c.indicator_id, mart_indicator_month.c.month).distinct().subquery()
            )
        ).scalar_one()
        assert distinct == months
        row = (
            conn.execute(
                select(mart_indicator_quarter).where(
                    mart_indicator_quarter.c.quarter == "2024-25Q1", mart_indicator_quarter.c.indicator_id == "DA04"
                )
            )
            .mappings()
            .one()
        )
    assert (row["value"], row["numerator"], row["denominator"], row["rag"]) == (0.0, 0, 16, "red")
    assert row["spc_variation"] == "special_cause_concern" and row["previous_quarter"] == 100.0
    assert row["built_at"] == datetime(2024, 7, 15, 6, 0, 3)  # 07:00:03 BST stored as UTC

    # The marts give back exactly the scorecard that was stored: every decision and the history.
    assert load_scorecard(data, Q1) == again
    assert load_scorecard(data, Quarter(2023, 4)) == earlier
    with pytest.raises(NotBuilt, match="2020-21 Q1 has not been built"):
        load_scorecard(data, Quarter(2020, 1))


def test_indicator_history_for_the_workbook(data):
    history = indicator_history(data, Q1)
    # Partner data starts in July 2022 (2022-23 Q2): 8 quarters up to 2024-25 Q1, for each of 23 indicators,
    # in catalogue order, oldest quarter first.
    quarters = [r.quarter for r in history[:8]]
    assert quarters[0] == "2022-23Q2" and quarters[-1] == "2024-25Q1" and quarters == sorted(quarters)
    assert [r.indicator_id for r in history[::8]] == [i.id for i in load_catalogue()]
    assert len(history) == 23 * 8 and history[7].label == "2024-25 Q1"
    da01 = {r.quarter: r.value for r in history if r.indicator_id == "DA01"}
    assert (da01["2023-24Q4"], da01["2024-25Q1"]) == (14, 16)
    cs01 = {r.quarter: r.data_status for r in history if r.indicator_id == "CS01"}
    assert cs01["2023-24Q4"] == "missing" and cs01["2024-25Q1"] == "complete"
    da06 = [r for r in history if r.indicator_id == "DA06"]
    assert [(r.numerator, r.suppressed) for r in da06] == [(3, True)] * 8  # three high-risk incidents a quarter
    assert len(indicator_history(data, Q1, quarters=2)) == 46


def _recomputed(engine, ind, period):
    """The indicator for one period the way builds used to ask it: the returns SQL, then the
    indicator's SQL file alone for that period."""
    from pipelines.indicators import MISSING, _plain, _run, source_rows, value_of

    with engine.connect() as conn:
        if not source_rows(conn, ind.source, period):
            return (None, None, None, MISSING)
        row = _run(conn, ind.sql_path, period).mappings().one()
    numerator, denominator = _plain(row["numerator"]), _plain(row["denominator"])
    value, status = value_of(ind, numerator, denominator)
    return (value, numerator, denominator, status)


def test_history_and_series_equal_a_full_recomputation_period_by_period(data):
    """Builds of several quarters (marts stored), then the history sheet with the last build's
    values: every row, and every SPC point and comparison of every build, equals the
    indicator's SQL run for that period alone."""
    catalogue = {ind.id: ind for ind in load_catalogue()}
    values: dict = {}
    for q in (Quarter(2023, 3), Quarter(2023, 4), Q1):
        values = {}
        scorecard = build_scorecard(data, q, generated_at=BUILT, values_cache=values)
        store_scorecard(data, scorecard)
        for e in scorecard.contract()["indicators"]:
            ind = catalogue[e["id"]]
            assert (e["value"], e["numerator"], e["denominator"], e["data_status"]) == _recomputed(data, ind, q)
            assert e["previous_quarter"] == _recomputed(data, ind, q.shift(-1))[0]
            assert e["same_quarter_last_year"] == _recomputed(data, ind, q.shift(-4))[0]
            expected = [(m.code, _recomputed(data, ind, m)) for m in series_months(q)]
            expected = [(code, v[0], v[1], v[2]) for code, v in expected if v[0] is not None]
            assert [(p["month"], p["value"], p["numerator"], p["denominator"]) for p in e["spc"]["series"]] == expected
    history = indicator_history(data, Q1, values_cache=values)
    assert history == indicator_history(data, Q1)
    # What build_quarter does: every value up front, on two connections side by side.
    ahead = build_values(data, Q1, workers=2)
    assert ahead == build_values(data, Q1, workers=1)
    assert build_scorecard(data, Q1, generated_at=BUILT, values_cache=dict(ahead)) == scorecard
    assert indicator_history(data, Q1, values_cache=dict(ahead)) == history
    assert len(history) == 23 * 8
    for row in history:
        ind = catalogue[row.indicator_id]
        expected = _recomputed(data, ind, Quarter.parse(row.quarter))
        assert (row.value, row.numerator, row.denominator, row.data_status) == expected, row
