"""Late-return reminders (``scorecard remind``), on each warehouse engine, through a real SMTP
server: one email per active data officer of a late return, once per quarter and source."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select, update

from pipelines.periods import Quarter
from pipelines.reminders import send_reminders
from pipelines.warehouse.schema import portal_reminders, portal_users
from tests.portal_client import make_user

Q1 = Quarter.parse("2024-25Q1")  # April to June 2024: police_rows' incidents are in April 2024
DUE = date(2024, 7, 30)  # 30 June + the sources' 30 due days
AFTER = date(2024, 8, 1)
PORTAL = "https://portal.lscp.example"


@pytest.fixture
def mailed(settings, smtp_server):
    """(settings with a real SMTP server and the portal's address, the server's catcher, engine)."""
    from pipelines.warehouse import connect_warehouse, init_warehouse

    catcher, port = smtp_server()
    configured = replace(
        settings,
        mail=replace(settings.mail, host="127.0.0.1", port=port, sender="scorecard@lscp.example"),
        portal=replace(settings.portal, url=PORTAL),
    )
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    yield configured, catcher, engine
    engine.dispose()


def officers(engine):
    make_user(engine, "one@police.example", "data_officer", ["police_domestic_incidents"])
    make_user(engine, "two@police.example", "data_officer", ["police_domestic_incidents", "csws_referrals"])
    make_user(engine, "board@lscp.example", "board")
    make_user(engine, "analyst@lscp.example", "analyst")


def recorded(engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        return {
            tuple(r)
            for r in conn.execute(
                select(portal_reminders.c.quarter, portal_reminders.c.source, portal_reminders.c.email)
            )
        }


def test_a_late_return_reminds_each_officer_of_its_source_once(mailed):
    settings, catcher, engine = mailed
    officers(engine)
    run = send_reminders(settings, today=AFTER)
    assert run.quarter == "2024-25Q1"
    by_to = {}
    for message in catcher.messages():
        by_to.setdefault(message["To"], []).append(message)
    # Police: both its officers; CSWS: its one officer (two@ officers both); nobody else.
    assert sorted((to, len(ms)) for to, ms in by_to.items()) == [("one@police.example", 1), ("two@police.example", 2)]
    subjects = sorted(m["Subject"] for m in by_to["two@police.example"])
    assert subjects == [
        "Late return: Children's social work referrals, 2024-25 Q1",
        "Late return: Police domestic incidents, 2024-25 Q1",
    ]
    [police] = by_to["one@police.example"]
    text = police.get_content()
    assert (
        police["Subject"] == "Late return: Police domestic incidents, 2024-25 Q1"
        and police["From"] == "scorecard@lscp.example"
    )
    assert "was due on 30 July 2024" in text and "1 April 2024 to 30 June 2024" in text
    assert f"{PORTAL}/check" in text and f"{PORTAL}/returns" in text
    assert recorded(engine) == {
        ("2024-25Q1", "police_domestic_incidents", "one@police.example"),
        ("2024-25Q1", "police_domestic_incidents", "two@police.example"),
        ("2024-25Q1", "csws_referrals", "two@police.example"),
    }
    # The other two late sources have nobody to remind, and the run says so.
    lines = "\n".join(run.lines())
    assert "no active data officer on the portal and no SCORECARD_DATA_OFFICER_SCHOOL_ATTENDANCE" in lines
    assert "reminded one@police.example, two@police.example" in lines

    # A second run (the next day's) sends nothing more.
    again = send_reminders(settings, today=date(2024, 8, 2))
    assert again.sent == () and len(catcher.messages()) == 3
    assert "already reminded one@police.example, two@police.example" in "\n".join(again.lines())


def test_a_received_return_sends_no_reminder(mailed):
    from pipelines.intake import run_intake
    from tests.test_intake import police_rows, write_xlsx

    settings, catcher, engine = mailed
    officers(engine)
    write_xlsx(settings.inbox / "police.xlsx", police_rows(40))
    run = run_intake(settings)
    assert [o.status for o in run.outcomes] == ["accepted"]
    catcher.envelopes.clear()  # intake's receipt

    reminders = send_reminders(settings, today=AFTER)
    assert "police_domestic_incidents" in reminders.received
    assert [(m["To"], m["Subject"]) for m in catcher.messages()] == [
        ("two@police.example", "Late return: Children's social work referrals, 2024-25 Q1")
    ]
    assert recorded(engine) == {("2024-25Q1", "csws_referrals", "two@police.example")}


def test_no_reminder_before_the_return_is_due(mailed):
    settings, catcher, engine = mailed
    officers(engine)
    on_the_day = send_reminders(settings, today=DUE)
    assert on_the_day.late == () and on_the_day.sent == ()
    assert set(on_the_day.not_yet_due) == {
        "police_domestic_incidents",
        "csws_referrals",
        "school_attendance",
        "missing_episodes",
    }
    assert catcher.messages() == [] and recorded(engine) == set()
    # The day after it was due, it is late.
    assert len(send_reminders(settings, today=date(2024, 7, 31)).sent) == 3


def test_a_disabled_officer_is_not_reminded(mailed):
    settings, catcher, engine = mailed
    officers(engine)
    with engine.begin() as conn:
        conn.execute(update(portal_users).where(portal_users.c.email == "one@police.example").values(disabled_at=AFTER))
    send_reminders(settings, today=AFTER)
    assert "one@police.example" not in {m["To"] for m in catcher.messages()}
    assert sorted(m["To"] for m in catcher.messages()) == ["two@police.example", "two@police.example"]


def test_without_a_portal_officer_the_configured_data_officer_is_reminded(mailed):
    settings, catcher, engine = mailed
    make_user(engine, "gone@police.example", "data_officer", ["police_domestic_incidents"])
    with engine.begin() as conn:
        conn.execute(update(portal_users).values(disabled_at=AFTER))
    settings = replace(
        settings, mail=replace(settings.mail, data_officers={"police_domestic_incidents": "WYP.Data@police.example"})
    )
    run = send_reminders(settings, today=AFTER)
    assert [(r.source, r.email, r.via) for r in run.sent] == [
        ("police_domestic_incidents", "wyp.data@police.example", "settings")
    ]
    assert [m["To"] for m in catcher.messages()] == ["wyp.data@police.example"]
    assert send_reminders(settings, today=AFTER).sent == ()


def test_the_email_carries_no_identifier_or_partner_content(mailed):
    from pipelines.intake import run_intake
    from tests.test_intake import police_rows, write_xlsx

    settings, catcher, engine = mailed
    make_user(engine, "one@police.example", "data_officer", ["police_domestic_incidents"])
    make_user(engine, "csws@lscp.example", "data_officer", ["csws_referrals"])
    write_xlsx(settings.inbox / "police.xlsx", police_rows(40))
    run_intake(settings)
    catcher.envelopes.clear()
    send_reminders(settings, today=AFTER)
    [message] = catcher.messages()
    raw = message.as_string()
    for partner_content in ("INC0", "Armley", "PC Example", "police.xlsx"):
        assert partner_content not in raw
    assert message.get_content_type() == "text/plain" and not message.is_multipart()


def test_scorecard_remind_prints_who_was_reminded(mailed, monkeypatch, capsys):
    from pipelines.cli import main

    settings, catcher, engine = mailed
    officers(engine)
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("SCORECARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCORECARD_SMTP_PORT", str(settings.mail.port))
    monkeypatch.setenv("SCORECARD_PORTAL_URL", PORTAL)
    assert main(["remind", "--date", "2024-08-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Reminders on 2024-08-01 for 2024-25 Q1 (2024-25Q1):")
    assert (
        "Police domestic incidents (police_domestic_incidents) was due on 2024-07-30: reminded one@police.example, two@police.example"
        in out
    )
    assert "3 reminder(s) sent." in out
    assert len(catcher.messages()) == 3
    assert main(["remind", "--date", "2024-08-01"]) == 0
    assert "0 reminder(s) sent." in capsys.readouterr().out
    assert main(["remind", "--date", "1 August"]) == 2
    assert "--date 1 August is not a date" in capsys.readouterr().err
