"""Every catalogue indicator computed in the warehouse (SQLite and PostgreSQL) on hand-made rows.

Each expected number is worked out by hand in the comments next to the rows that produce it.
The quarter under test is 2024-25 Q1: 1 April to 30 June 2024 (91 days).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import insert

from pipelines.catalogue import CatalogueError, load_catalogue, load_priorities
from pipelines.indicators import compute_indicator, compute_series, period_binds, series_months
from pipelines.periods import Month, Quarter
from pipelines.rag import rag
from pipelines.warehouse.schema import load_files, table_for

Q1 = Quarter(2024, 1)
CAT = {i.id: i for i in load_catalogue()}


# --- helpers -------------------------------------------------------------------------------


def add_load(conn, source: str, name: str = "extract.csv") -> int:
    result = conn.execute(
        insert(load_files).values(
            source=source,
            original_name=name,
            stored_name=name,
            sha256=name.encode().hex()[:64].ljust(64, "0"),
            status="accepted",
            received_at=datetime(2024, 7, 2, 9, 0),
            rows_read=0,
            rows_loaded=0,
            rows_rejected=0,
        )
    )
    return result.inserted_primary_key[0]


def add_rows(conn, source: str, rows: list[dict], name: str = "extract.csv") -> None:
    """Insert rows into the source's stg/ref table; columns not given are NULL."""
    table = table_for(source)
    columns = [c.name for c in table.columns if c.name != "load_id"]
    load_id = add_load(conn, source, name) if "load_id" in table.c else None
    full = []
    for row in rows:
        unknown = set(row) - set(columns)
        assert not unknown, unknown
        record = {c: row.get(c) for c in columns}
        if load_id is not None:
            record["load_id"] = load_id
        full.append(record)
    conn.execute(insert(table), full)


def incident(ref, reported, present=None, repeat=None, risk=None, notified=None):
    return {
        "incident_ref": ref,
        "reported_at": reported,
        "children_present": present,
        "repeat_victim": repeat,
        "risk_level": risk,
        "school_notified_at": notified,
    }


def referral(rid, child, day, da=None, outcome=None):
    return {
        "referral_id": rid,
        "child_pseudonym": child,
        "referral_date": day,
        "domestic_abuse": da,
        "outcome": outcome,
    }


def school(urn, phase, start, end, enrol, possible, absent, pa, severe=None, susp=None):
    return {
        "school_urn": urn,
        "phase": phase,
        "period_start": start,
        "period_end": end,
        "enrolments": enrol,
        "sessions_possible": possible,
        "sessions_absent": absent,
        "persistent_absentees": pa,
        "severe_absentees": severe,
        "suspensions": susp,
    }


def episode(eid, child, missing, returned=None, la=None, cse=None, interview=None):
    return {
        "episode_id": eid,
        "child_pseudonym": child,
        "missing_from": missing,
        "returned_at": returned,
        "looked_after": la,
        "cse_risk": cse,
        "return_interview_completed_at": interview,
    }


def check(engine, indicator_id, period, numerator, denominator, value, status, expected_rag=None):
    result = compute_indicator(engine, CAT[indicator_id], period)
    assert result.data_status == status, (indicator_id, result)
    assert result.numerator == numerator, (indicator_id, result)
    assert result.denominator == denominator, (indicator_id, result)
    if value is None:
        assert result.value is None
    else:
        assert result.value == pytest.approx(value, rel=1e-12), (indicator_id, result)
    if expected_rag is not None:
        assert rag(CAT[indicator_id], result.value) == expected_rag, indicator_id
    return result


# --- the data set ----------------------------------------------------------------------------


def police_rows():
    return [
        # in Q1 (reported_at from 2024-04-01 00:00 to 2024-06-30 23:59:59)
        incident("P1", datetime(2024, 4, 1, 0, 0), True, True, "high", datetime(2024, 4, 1, 23, 0)),  # 23 h
        incident(
            "P2", datetime(2024, 4, 10, 10, 0), True, False, "medium", datetime(2024, 4, 11, 10, 0)
        ),  # 24 h exactly
        incident("P3", datetime(2024, 5, 1, 10, 0), True, None, "high", datetime(2024, 5, 2, 10, 0, 1)),  # 24 h + 1 s
        incident("P4", datetime(2024, 6, 30, 23, 59, 59), True, True, "standard", None),  # never notified
        incident("P5", datetime(2024, 6, 15, 12, 0), False, False, None, None),
        incident("P6", datetime(2024, 6, 16, 12, 0), None, None, "high", None),  # child presence unknown
        # outside Q1
        incident("P7", datetime(2024, 7, 1, 0, 0), True, True, "high", datetime(2024, 7, 1, 1, 0)),
        incident("P8", datetime(2024, 3, 31, 23, 59), True, True, "high", datetime(2024, 4, 1, 1, 0)),
    ]


def referral_rows_history():
    """An earlier file: referrals in previous quarters."""
    return [
        referral("R-A0", "child-A", date(2023, 5, 1), True, "nfa"),  # 365 days before 2024-04-30
        referral("R-B0", "child-B", date(2023, 5, 1), True, "nfa"),  # 366 days before 2024-05-01
        referral("R-E0", "child-E", date(2024, 3, 31), False, "assessment"),  # the day before 2024-04-01
        referral("R-G0", "child-G", date(2023, 7, 1), False, None),  # first day of the rolling year
        referral("R-H0", "child-H", date(2023, 6, 30), False, None),  # just before the rolling year
    ]


def referral_rows_quarter():
    return [
        referral("R-A1", "child-A", date(2024, 4, 30), True, "nfa"),  # re-referral (365 days)
        referral("R-B1", "child-B", date(2024, 5, 1), False, "assessment"),  # not (366 days)
        referral("R-C1", "child-C", date(2024, 5, 10), None, None),  # same day as R-C2: neither counts
        referral("R-C2", "child-C", date(2024, 5, 10), True, "nfa"),
        referral("R-D1", "child-D", date(2024, 4, 5), False, "early_help"),  # first: not
        referral("R-D2", "child-D", date(2024, 6, 5), None, None),  # 61 days after R-D1: re-referral
        referral("R-E1", "child-E", date(2024, 4, 1), True, "other"),  # earlier in Q4 and another file
    ]


def attendance_rows():
    return [
        school(100001, "primary", date(2024, 4, 1), date(2024, 4, 30), 200, 4000, 200, 30, 2, 1),
        school(100002, "primary", date(2024, 6, 3), date(2024, 6, 30), 300, 6000, 300, 45, None, None),
        school(200001, "secondary", date(2024, 4, 15), date(2024, 5, 24), 1000, 18000, 1620, 250, 40, 30),
        school(200002, "secondary", date(2024, 6, 3), date(2024, 6, 30), 500, 9000, 900, 100, None, 20),
        school(300001, "special", date(2024, 5, 1), date(2024, 5, 31), 100, 2000, 300, 40, 10, 5),
        # outside Q1 by period_end (huge numbers: they would swamp every figure if counted)
        school(100001, "primary", date(2024, 6, 3), date(2024, 7, 1), 9000, 90000, 90000, 9000, 9000, 9000),
        school(200001, "secondary", date(2024, 3, 1), date(2024, 3, 31), 9000, 90000, 90000, 9000, 9000, 9000),
    ]


def missing_rows():
    return [
        episode(
            "E1", "child-X", datetime(2024, 4, 2, 10), datetime(2024, 4, 2, 20), True, True, datetime(2024, 4, 5, 20)
        ),  # 72 h
        episode(
            "E2",
            "child-X",
            datetime(2024, 5, 1, 9),
            datetime(2024, 5, 1, 22),
            True,
            None,
            datetime(2024, 5, 4, 22, 0, 1),
        ),  # 72 h + 1 s
        episode(
            "E3", "child-X", datetime(2024, 6, 30, 23), datetime(2024, 7, 1, 2), None, False, None
        ),  # returned in Q2
        episode(
            "E4", "child-Y", datetime(2024, 4, 20, 15), datetime(2024, 4, 21, 9), False, False, None
        ),  # no interview
        episode("E5", "child-Y", datetime(2024, 6, 1, 18), None, False, None, None),  # not returned
        episode(
            "E6", "child-Z", datetime(2024, 3, 31, 20), datetime(2024, 4, 1, 8), True, True, datetime(2024, 4, 2, 8)
        ),  # missing in Q4, returned in Q1
        episode("E7", "child-X", datetime(2024, 7, 2, 10), datetime(2024, 7, 2, 12), True, True, None),  # Q2
    ]


@pytest.fixture
def loaded(warehouse):
    with warehouse.begin() as conn:
        add_rows(conn, "police_domestic_incidents", police_rows(), "police_q1.csv")
        add_rows(conn, "csws_referrals", referral_rows_history(), "csws_2023.xlsx")
        add_rows(conn, "csws_referrals", referral_rows_quarter(), "csws_q1.xlsx")
        add_rows(conn, "school_attendance", attendance_rows(), "attendance.csv")
        add_rows(conn, "missing_episodes", missing_rows(), "missing.csv")
        add_rows(
            conn, "population", [{"year": 2022, "population_0_17": 150000}, {"year": 2023, "population_0_17": 180000}]
        )
    return warehouse


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_has_the_23_indicators_in_spec_order():
    assert list(CAT) == [
        "DA01",
        "DA02",
        "DA03",
        "DA04",
        "DA05",
        "DA06",
        "CS04",
        "CS01",
        "CS02",
        "CS03",
        "CS05",
        "AT01",
        "AT02",
        "AT03",
        "AT04",
        "AT05",
        "AT06",
        "MI01",
        "MI02",
        "MI03",
        "MI04",
        "MI05",
        "MI06",
    ]
    assert load_priorities() == [
        "Domestic abuse and its impact on children",
        "Identification and assessment of need",
        "Vulnerable learners",
        "Exploitation and children missing from home or care",
    ]
    assert CAT["CS04"].priority == "Domestic abuse and its impact on children"
    rated = {i.id: (i.polarity, i.target, i.tolerance) for i in CAT.values() if i.rated}
    assert rated == {
        "DA04": ("up", 95, 5),
        "DA05": ("down", 35, 5),
        "CS03": ("down", 22, 3),
        "CS05": ("down", 20, 5),
        "AT01": ("down", 5.0, 0.5),
        "AT02": ("down", 8.0, 1.0),
        "AT03": ("down", 15.0, 2.0),
        "AT04": ("down", 22.0, 3.0),
        "AT05": ("down", 4.0, 0.5),
        "AT06": ("down", 3.0, 0.5),
        "MI05": ("up", 80, 10),
    }
    assert CAT["MI04"].polarity == "down" and not CAT["MI04"].rated
    for named in ("DA04", "DA06", "CS03", "CS05", "MI02", "MI04", "MI05"):
        assert CAT[named].disclosive, named
    assert not CAT["DA01"].disclosive and not CAT["MI01"].disclosive
    assert {i.unit for i in CAT.values()} == {"count", "per day", "%", "per 10,000", "per 100"}
    assert CAT["CS02"].scale == 10000 and CAT["DA02"].scale == 1 and CAT["AT06"].unit == "per 100"
    assert all(i.is_count == (i.unit == "count") for i in CAT.values())


def test_catalogue_names_a_bad_entry(tmp_path):
    from pipelines.catalogue import catalogue_path

    text = catalogue_path().read_text(encoding="utf-8").replace("polarity: up", "polarity: upward", 1)
    bad = tmp_path / "indicators.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match="indicator DA04: polarity 'upward'"):
        load_catalogue(bad)


def test_period_binds_for_a_quarter_and_a_month():
    assert period_binds(Q1) == {
        "period_start": date(2024, 4, 1),
        "period_end": date(2024, 7, 1),
        "rolling_start": date(2023, 7, 1),
        "period_days": 91,
        "population_year": 2024,
    }
    assert period_binds(Month(2025, 2)) == {
        "period_start": date(2025, 2, 1),
        "period_end": date(2025, 3, 1),
        "rolling_start": date(2024, 3, 1),
        "period_days": 28,
        "population_year": 2024,
    }
    months = series_months(Q1)
    assert len(months) == 24 and months[0] == Month(2022, 7) and months[-1] == Month(2024, 6)


# --- police ----------------------------------------------------------------------------------


def test_police_indicators(loaded):
    # P1..P6 are in Q1; P7 (1 July 00:00) and P8 (31 March 23:59) are not.
    check(loaded, "DA01", Q1, 6, None, 6, "complete", "none")
    check(loaded, "DA02", Q1, 6, 91, 6 / 91, "complete", "none")
    # children_present known for P1..P5 (P6 unknown); true for P1..P4.
    check(loaded, "DA03", Q1, 4, 5, 80.0, "complete", "none")
    # of P1..P4 (child present), notified within 24 h: P1 (23 h), P2 (24 h exactly) -> 2/4 = 50% < 90: red.
    check(loaded, "DA04", Q1, 2, 4, 50.0, "complete", "red")
    # repeat_victim known for P1, P2, P4, P5; true for P1, P4 -> 50% > 35 + 5: red.
    check(loaded, "DA05", Q1, 2, 4, 50.0, "complete", "red")
    # risk high: P1, P3, P6.
    check(loaded, "DA06", Q1, 3, None, 3, "complete", "none")


def test_operation_encompass_without_children_present_is_no_data(warehouse):
    with warehouse.begin() as conn:
        add_rows(
            conn,
            "police_domestic_incidents",
            [
                incident("N1", datetime(2024, 5, 1, 9), False, None, None, None),
                incident("N2", datetime(2024, 5, 2, 9), None, None, None, None),
            ],
        )
    check(warehouse, "DA04", Q1, 0, 0, None, "no_data", "none")
    check(warehouse, "DA05", Q1, 0, 0, None, "no_data", "none")  # repeat_victim never known
    check(warehouse, "DA03", Q1, 0, 1, 0.0, "complete", "none")
    check(warehouse, "DA01", Q1, 2, None, 2, "complete")


# --- children's social work ------------------------------------------------------------------


def test_referral_indicators(loaded):
    # R-A1, R-B1, R-C1, R-C2, R-D1, R-D2, R-E1 are in Q1.
    check(loaded, "CS01", Q1, 7, None, 7, "complete", "none")
    # domestic_abuse known for A1 (T), B1 (F), C2 (T), D1 (F), E1 (T): 3/5.
    check(loaded, "CS04", Q1, 3, 5, 60.0, "complete", "none")
    # re-referrals: A1 (365 days after R-A0), D2 (61 days after D1), E1 (day after R-E0, other file
    # and quarter). Not: B1 (366 days), C1/C2 (same day), D1 (only a later referral). 3/7 -> red.
    check(loaded, "CS03", Q1, 3, 7, 300 / 7, "complete", "red")
    # outcome known for A1 (nfa), B1, C2 (nfa), D1, E1: 2/5 = 40% > 20 + 5: red.
    check(loaded, "CS05", Q1, 2, 5, 40.0, "complete", "red")
    # rolling year 2023-07-01..2024-06-30: the 7 in Q1 + R-E0 + R-G0 (R-H0, R-A0, R-B0 before it) = 9.
    # No 2024 population: the latest earlier year, 2023 (180,000). 9 / 180000 * 10000 = 0.5.
    check(loaded, "CS02", Q1, 9, 180000, 0.5, "complete", "none")


def test_rereferral_boundaries_exactly(warehouse):
    with warehouse.begin() as conn:
        add_rows(
            conn,
            "csws_referrals",
            [
                referral("old-365", "k365", date(2023, 6, 1), False),
                referral("old-366", "k366", date(2023, 5, 31), False),
            ],
            "old.csv",
        )
        add_rows(
            conn,
            "csws_referrals",
            [
                referral("new-365", "k365", date(2024, 5, 31), False),  # 2024-05-31 - 365 days = 2023-06-01
                referral("new-366", "k366", date(2024, 5, 31), False),  # 366 days
                referral("same-1", "ksame", date(2024, 5, 2), False),
                referral("same-2", "ksame", date(2024, 5, 2), False),
                referral("same-3", "ksame", date(2024, 5, 2), False),
            ],
            "new.csv",
        )
    assert (date(2024, 5, 31) - date(2023, 6, 1)).days == 365
    check(warehouse, "CS03", Q1, 1, 5, 20.0, "complete", "green")
    # The earlier referral's quarter on its own: no earlier referral for anyone there.
    check(warehouse, "CS03", Quarter(2023, 1), 0, 2, 0.0, "complete", "green")


def test_referral_rate_population_lookup(warehouse):
    with warehouse.begin() as conn:
        add_rows(conn, "csws_referrals", [referral(f"R{i}", f"c{i}", date(2024, 4, 1 + i), False) for i in range(4)])
    # No population at all: no_data.
    check(warehouse, "CS02", Q1, 4, None, None, "no_data", "none")
    with warehouse.begin() as conn:
        add_rows(conn, "population", [{"year": 2025, "population_0_17": 1000}])
    check(warehouse, "CS02", Q1, 4, None, None, "no_data")  # only a later year: still none
    with warehouse.begin() as conn:
        add_rows(conn, "population", [{"year": 2021, "population_0_17": 40000}])
    check(warehouse, "CS02", Q1, 4, 40000, 1.0, "complete")  # fallback to 2021
    with warehouse.begin() as conn:
        add_rows(conn, "population", [{"year": 2024, "population_0_17": 80000}])
    check(warehouse, "CS02", Q1, 4, 80000, 0.5, "complete")  # the financial year's own year
    # Q4 of 2024-25 (Jan-Mar 2025) still uses 2024, not 2025; rolling year Apr 2024-Mar 2025.
    with warehouse.begin() as conn:
        add_rows(conn, "csws_referrals", [referral("R-Q4", "cq4", date(2025, 2, 1), False)])
    check(warehouse, "CS02", Quarter(2024, 4), 5, 80000, 5 / 80000 * 10000, "complete")


# --- attendance ------------------------------------------------------------------------------


def test_attendance_indicators(loaded):
    # primary in Q1: 100001 (Apr) and 100002 (30 Jun); absence (200+300)/(4000+6000) = 5.0%: green (<= 5.0).
    check(loaded, "AT01", Q1, 500, 10000, 5.0, "complete", "green")
    # secondary: (1620+900)/(18000+9000) = 9.333% -> 9.3 > 8 + 1: red.
    check(loaded, "AT02", Q1, 2520, 27000, 2520 / 27000 * 100, "complete", "red")
    # persistent, primary: (30+45)/(200+300) = 15.0%: green.
    check(loaded, "AT03", Q1, 75, 500, 15.0, "complete", "green")
    # persistent, secondary: (250+100)/(1000+500) = 23.333 -> 23.3 <= 22 + 3: amber.
    check(loaded, "AT04", Q1, 350, 1500, 350 / 1500 * 100, "complete", "amber")
    # severe, secondary, severe known (200001 only): 40/1000 = 4.0%: green.
    check(loaded, "AT05", Q1, 40, 1000, 4.0, "complete", "green")
    # suspensions, all phases with suspensions known (100001, 200001, 200002, 300001):
    # (1+30+20+5)/(200+1000+500+100) = 56/1800 * 100 = 3.111 -> 3.1 <= 3.5: amber.
    check(loaded, "AT06", Q1, 56, 1800, 56 / 1800 * 100, "complete", "amber")


def test_attendance_zero_denominators_are_no_data(warehouse):
    with warehouse.begin() as conn:
        add_rows(
            conn, "school_attendance", [school(300002, "special", date(2024, 4, 1), date(2024, 4, 30), 50, 1000, 80, 5)]
        )
    for ind in ("AT01", "AT02", "AT03", "AT04", "AT05"):
        check(warehouse, ind, Q1, 0, 0, None, "no_data", "none")
    check(warehouse, "AT06", Q1, 0, 0, None, "no_data", "none")  # suspensions never known


@pytest.mark.parametrize(
    "absent, shown_rag", [(5049, "green"), (5050, "amber"), (5500, "amber"), (5549, "amber"), (5550, "red")]
)
def test_rounding_at_a_rag_boundary(warehouse, absent, shown_rag):
    # AT01 (down, target 5.0, tol 0.5): 5.049 -> 5.0 green; 5.050 -> 5.1 amber; 5.549 -> 5.5 amber; 5.550 -> 5.6 red.
    with warehouse.begin() as conn:
        add_rows(
            conn,
            "school_attendance",
            [school(100003, "primary", date(2024, 5, 1), date(2024, 5, 31), 10, 100000, absent, 1)],
        )
    check(warehouse, "AT01", Q1, absent, 100000, absent / 1000, "complete", shown_rag)


# --- missing episodes ------------------------------------------------------------------------


def test_missing_indicators(loaded):
    # missing_from in Q1: E1, E2, E3 (child X), E4, E5 (child Y). E6 (31 March) and E7 (July) are not.
    check(loaded, "MI01", Q1, 5, None, 5, "complete", "none")
    check(loaded, "MI02", Q1, 2, None, 2, "complete", "none")
    # looked_after known: E1 T, E2 T, E4 F, E5 F (E3 unknown): 2/4.
    check(loaded, "MI03", Q1, 2, 4, 50.0, "complete", "none")
    # child X has 3 episodes in Q1 (E7 is in Q2); child Y has 2.
    check(loaded, "MI04", Q1, 1, None, 1, "complete", "none")
    # returned_at in Q1: E1, E2, E4, E6 (E3 returned 1 July, E5 never). Interview within 72 h:
    # E1 (72 h exactly), E6 (24 h); not E2 (72 h + 1 s), E4 (none). 2/4 = 50% < 70: red.
    check(loaded, "MI05", Q1, 2, 4, 50.0, "complete", "red")
    # cse_risk known: E1 T, E3 F, E4 F: 1/3.
    check(loaded, "MI06", Q1, 1, 3, 100 / 3, "complete", "none")


# --- missing returns and months --------------------------------------------------------------


def test_missing_return_gives_missing_for_every_indicator_of_that_source(loaded):
    q3 = Quarter(2024, 3)  # October-December 2024: nobody sent anything
    for ind in CAT.values():
        check(loaded, ind.id, q3, None, None, None, "missing", "none")


def test_cs02_is_missing_when_the_quarter_has_no_referrals_even_with_a_rolling_year(loaded):
    # Q2 2024-25 has no referrals although the rolling year to Q2 has 8.
    check(loaded, "CS02", Quarter(2024, 2), None, None, None, "missing")


def test_monthly_values_and_series(loaded):
    check(loaded, "DA01", Month(2024, 4), 2, None, 2, "complete")
    check(loaded, "DA02", Month(2024, 6), 3, 30, 0.1, "complete")
    check(loaded, "AT01", Month(2024, 6), 300, 6000, 5.0, "complete")  # only 100002 ends in June
    check(loaded, "AT01", Month(2024, 5), 0, 0, None, "no_data")  # May: only secondary and special rows
    # CS02 for April 2024: rolling year May 2023..April 2024 = R-A0, R-B0 (1 May 2023), R-H0, R-G0, R-E0,
    # and April's R-A1, R-D1, R-E1 = 8; FY 2024-25 -> population 2023 (180,000).
    check(loaded, "CS02", Month(2024, 4), 8, 180000, 8 / 180000 * 10000, "complete")
    series = compute_series(loaded, CAT["DA01"], Q1)
    # Only months with a value are kept: March 2024 (P8), April, May, June.
    assert [(m.code, v.value) for m, v in series] == [("2024-03", 1), ("2024-04", 2), ("2024-05", 1), ("2024-06", 3)]
    with_nulls = compute_series(loaded, CAT["DA01"], Q1, include_null=True)
    assert len(with_nulls) == 24 and with_nulls[0][1].data_status == "missing"


@pytest.mark.parametrize("in_time, shown_rag", [(1899, "green"), (1898, "amber"), (1799, "amber"), (1798, "red")])
def test_rounding_at_an_up_target_boundary(warehouse, in_time, shown_rag):
    # DA04 (up, target 95, tol 5) over 2000 incidents with a child present:
    # 1899 -> 94.95 -> 95.0 green; 1898 -> 94.9 amber; 1799 -> 89.95 -> 90.0 amber; 1798 -> 89.9 red.
    reported = datetime(2024, 5, 1, 8, 0)
    rows = [
        incident(f"I{i}", reported, True, None, None, datetime(2024, 5, 1, 9, 0) if i < in_time else None)
        for i in range(2000)
    ]
    with warehouse.begin() as conn:
        add_rows(conn, "police_domestic_incidents", rows)
    check(warehouse, "DA04", Q1, in_time, 2000, in_time / 20, "complete", shown_rag)


def test_sqlite_native_date_helpers_equal_the_python_functions():
    """On SQLite the indicator SQL runs with native expressions for hours_between/days_between;
    they must give the Python functions' values exactly (boundaries, fractions, leap days, NULL)."""
    import random
    import sqlite3
    from datetime import timedelta

    from pipelines.warehouse.engine import _days_between, _hours_between, native_forms, native_sqlite

    rng = random.Random(8)
    forms = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    pairs = [
        (None, "2024-01-01"),
        ("2024-01-01 09:00:00.000000", None),
        ("2024-02-28 23:59:59.999999", "2024-03-01 00:00:00.000000"),
        ("2023-03-01", "2024-02-29"),
        ("2023-02-28", "2024-02-28"),
        ("2024-05-01 10:00:00.5", "2024-05-02 10:00:00"),
    ]
    for _ in range(20_000):
        a = datetime(2020, 1, 1) + timedelta(
            seconds=rng.randint(0, 10**8), microseconds=rng.choice([0, 1, 999_999, rng.randint(0, 999_999)])
        )
        step = rng.choice(
            [
                timedelta(hours=24),
                timedelta(hours=72),
                timedelta(days=365),
                timedelta(days=366),
                timedelta(hours=24, microseconds=1),
                timedelta(hours=72, microseconds=-1),
                timedelta(seconds=rng.randint(-(10**7), 10**7), microseconds=rng.randint(-(10**6), 10**6)),
            ]
        )
        form = rng.choice(forms)
        pairs.append((a.strftime(form), (a + step).strftime(rng.choice((form, forms[0])))))
    conn = sqlite3.connect(":memory:")
    conn.create_function("py_hours", 2, _hours_between)
    conn.create_function("py_days", 2, _days_between)
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", pairs)
    for forms in (native_forms(unixepoch=False), native_forms(unixepoch=sqlite3.sqlite_version_info >= (3, 38, 0))):
        sql = native_sqlite(
            "SELECT py_hours(a, b), hours_between(a, b), py_days(a, b), days_between(a, b) FROM t", forms
        )
        assert "hours_between" not in sql and "days_between" not in sql
        for py_hours, hours, py_days, days in conn.execute(sql):
            assert py_hours == hours and type(py_hours) is type(hours)
            assert py_days == days and type(py_days) is type(days)


def test_many_periods_in_one_statement_equal_one_statement_per_period(loaded):
    """compute_periods (one UNION ALL statement for all the periods) gives what the file's SQL
    gives run for each period alone, for every indicator, quarters and months mixed."""
    from pipelines.indicators import _plain, _run, compute_periods, source_rows, value_of

    periods = [Quarter(2023, 3), Month(2024, 2), Q1, Month(2024, 4), Quarter(2024, 2), Month(2024, 6), Q1.shift(-4)]
    with loaded.connect() as conn:
        for ind in CAT.values():
            expected = []
            for period in periods:
                if not source_rows(conn, ind.source, period):
                    expected.append((None, None, None, "missing"))
                    continue
                row = _run(conn, ind.sql_path, period).mappings().one()
                numerator, denominator = _plain(row["numerator"]), _plain(row["denominator"])
                expected.append(
                    (
                        value_of(ind, numerator, denominator)[0],
                        numerator,
                        denominator,
                        value_of(ind, numerator, denominator)[1],
                    )
                )
            got = [(v.value, v.numerator, v.denominator, v.data_status) for v in compute_periods(conn, ind, periods)]
            assert got == expected, ind.id
