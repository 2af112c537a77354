"""Commentary through the portal, on each warehouse engine (the real application under
Starlette's TestClient): a data officer comments on their own source's exception, the analyst on
any indicator; another source's officer gets 403 whatever id is guessed, the board cannot comment
at all, a form without its token is refused; the text with markup stays inert on the page and
plain text in scorecard.json after the next build; the analyst sees which exceptions of the last
build await commentary; the audit log records who commented on what, never the text.

Data: ``tests.test_scorecard``'s hand-made rows, whose 2024-25 Q1 has three exceptions: DA04 and
DA05 (police) and CS05 (children's social work referrals)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from pipelines.build import build_quarter
from pipelines.marts import load_scorecard
from pipelines.periods import Quarter
from pipelines.render.text import render_text
from pipelines.warehouse.schema import indicator_commentary, portal_audit
from tests.portal_client import signed_in_client
from tests.test_portal_returns import make_app
from tests.test_scorecard import data  # noqa: F401  (the fixture: two years of hand-made rows)

Q1 = Quarter(2024, 1)
POLICE = "police_domestic_incidents"
CSWS = "csws_referrals"
SCRIPT = "<script>alert('x')</script> Notifications stopped when the school liaison post fell vacant."
PAGE = f"/commentary/{Q1.code}"


@pytest.fixture
def app(settings, data):  # noqa: F811
    build_quarter(settings, Q1, email=False)  # without email: the exceptions are known
    app = make_app(settings)
    engine = app.state.portal.engine
    from tests.portal_client import make_user

    make_user(engine, "police@lscp.example", "data_officer", [POLICE])
    make_user(engine, "csws@lscp.example", "data_officer", [CSWS])
    make_user(engine, "analyst@lscp.example", "analyst")
    make_user(engine, "board@lscp.example", "board")
    yield app
    engine.dispose()


def stored(app) -> int:
    with app.state.portal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(indicator_commentary)).scalar_one()


def csrf(page: str) -> str:
    from tests.portal_client import csrf_of

    return csrf_of(page)


def headings(page: str) -> list[str]:
    import re

    return re.findall(r'<h3 id="h-([A-Z]{2}\d{2})">', page)


def test_an_officer_comments_on_their_own_exception_and_it_is_shown_after_the_build(app, settings):
    police = signed_in_client(app, "police@lscp.example")
    home = police.get("/")
    assert 'href="/commentary"' in home.text
    assert "2024-25 Q1: 2 exceptions awaiting your commentary (DA04, DA05)." in home.text
    assert f'<a href="{PAGE}">Write commentary</a>' in home.text
    page = police.get(PAGE)
    assert page.status_code == 200
    shown = headings(page.text)
    assert shown[:2] == ["DA04", "DA05"]  # the exceptions first
    assert "CS05" not in shown and all(i.startswith("DA") for i in shown)  # only police indicators
    assert page.text.count('class="tag-awaiting">commentary awaited') == 2
    assert "Awaiting commentary before the build emails" not in page.text  # the analyst's section

    response = police.post(f"{PAGE}/DA04", data={"csrf_token": csrf(page.text), "text": SCRIPT})
    assert response.status_code == 303 and response.headers["location"].startswith(f"{PAGE}?kept=DA04")
    after = police.get(response.headers["location"])
    assert "Commentary on DA04 kept" in after.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Notifications stopped" in after.text
    assert "<script>alert" not in after.text
    assert "Latest, by police@lscp.example on " in after.text
    assert after.text.count('class="tag-awaiting">commentary awaited') == 1  # DA05 still awaits
    assert "2024-25 Q1: 1 exception awaiting your commentary (DA05)." in police.get("/").text

    with app.state.portal.engine.connect() as conn:
        entries = conn.execute(select(portal_audit).where(portal_audit.c.action == "comment")).mappings().all()
        every_detail = " ".join(str(r["detail"]) for r in conn.execute(select(portal_audit)).mappings())
    assert [(e["email"], e["detail"]) for e in entries] == [("police@lscp.example", "commentary on DA04 for 2024-25Q1")]
    assert "Notifications stopped" not in every_detail and "script" not in every_detail

    build_quarter(settings, Q1, email=False)
    document = json.loads((settings.out / Q1.code / "scorecard.json").read_text(encoding="utf-8"))
    indicators = {i["id"]: i for i in document["indicators"]}
    assert indicators["DA04"]["commentary"]["text"] == SCRIPT
    assert indicators["DA04"]["commentary"]["author"] == "police@lscp.example"
    assert indicators["DA05"]["commentary"] is None
    text = render_text(load_scorecard(app.state.portal.engine, Q1))
    assert SCRIPT in text and text.count("Commentary: commentary awaited") == 2


def test_another_sources_officer_and_the_board_are_refused(app):
    csws = signed_in_client(app, "csws@lscp.example")
    page = csws.get(PAGE)
    assert page.status_code == 200 and headings(page.text)[0] == "CS05"
    assert not any(i.startswith("DA") for i in headings(page.text))
    token = csrf(page.text)
    for guessed in ("DA04", "DA05", "DA01", "MI05"):  # police's and missing episodes' indicators
        refused = csws.post(f"{PAGE}/{guessed}", data={"csrf_token": token, "text": "Not mine to say."})
        assert refused.status_code == 403, guessed
        assert "not available to your account" in refused.text
    assert csws.post(f"{PAGE}/ZZ99", data={"csrf_token": token, "text": "words"}).status_code == 404
    assert csws.post("/commentary/2024-25Q9/CS05", data={"csrf_token": token, "text": "w"}).status_code == 404
    assert csws.get("/commentary/2024-25q1").status_code == 404  # only a quarter written as its code

    board = signed_in_client(app, "board@lscp.example")
    assert 'href="/commentary"' not in board.get("/").text
    assert board.get("/commentary").status_code == 403
    assert board.get(PAGE).status_code == 403
    board_token = csrf(board.get("/scorecards").text)
    assert board.post(f"{PAGE}/DA04", data={"csrf_token": board_token, "text": "A view."}).status_code == 403
    assert stored(app) == 0


def test_a_form_without_its_token_is_refused(app):
    police = signed_in_client(app, "police@lscp.example")
    assert police.post(f"{PAGE}/DA04", data={"text": "No token."}).status_code == 403
    refused = police.post(f"{PAGE}/DA04", data={"csrf_token": "x" * 43, "text": "Wrong token."})
    assert refused.status_code == 403 and "This form has expired" in refused.text
    other = signed_in_client(app, "analyst@lscp.example")
    stolen = csrf(other.get(PAGE).text)  # another session's token
    assert police.post(f"{PAGE}/DA04", data={"csrf_token": stolen, "text": "Theirs."}).status_code == 403
    assert stored(app) == 0


def test_the_analyst_sees_what_awaits_and_comments_on_any_indicator(app):
    analyst = signed_in_client(app, "analyst@lscp.example")
    assert "2024-25 Q1: 3 exceptions awaiting commentary (DA04, DA05, CS05)." in analyst.get("/").text
    page = analyst.get(PAGE)
    assert headings(page.text)[:3] == ["DA04", "DA05", "CS05"]
    section = page.text[page.text.index("Awaiting commentary before the build emails") :]
    section = section[: section.index("</section>")]
    assert "3 exception(s), 3 without commentary" in section
    assert [h for h in ("DA04", "DA05", "CS05") if f'href="#{h}"' in section] == ["DA04", "DA05", "CS05"]

    token = csrf(page.text)
    too_long = analyst.post(f"{PAGE}/CS05", data={"csrf_token": token, "text": "z" * 2001})
    assert too_long.status_code == 400 and "2,001 characters long" in too_long.text
    assert "z" * 2001 in too_long.text  # the draft is kept in the form to shorten
    assert analyst.post(f"{PAGE}/CS05", data={"csrf_token": token, "text": "   "}).status_code == 400
    assert stored(app) == 0
    assert analyst.post(f"{PAGE}/CS05", data={"csrf_token": token, "text": "Audit under way."}).status_code == 303
    assert analyst.post(f"{PAGE}/DA01", data={"csrf_token": token, "text": "Not an exception."}).status_code == 303
    page = analyst.get(PAGE)
    section = page.text[page.text.index("Awaiting commentary before the build emails") :]
    section = section[: section.index("</section>")]
    assert "3 exception(s), 2 without commentary" in section and 'href="#CS05"' not in section
    quarters = analyst.get("/commentary")
    assert quarters.status_code == 200 and f'href="{PAGE}"' in quarters.text


def test_commentary_round_trip_into_the_html_the_email_and_the_workbook(app, settings):
    """Entered through the portal (DA04, by the police officer) and on the command line (CS05),
    shown by the next build in all three outputs the sub group reads: the HTML page, the email
    (its HTML part) and the workbook; DA05 says "Commentary awaited" in each."""
    import email
    from email import policy

    import openpyxl

    from pipelines.cli import main

    police = signed_in_client(app, "police@lscp.example")
    page = police.get(PAGE)
    assert police.post(f"{PAGE}/DA04", data={"csrf_token": csrf(page.text), "text": SCRIPT}).status_code == 303
    words = "Re-referral audit under way; =SUM(A1) is text, not a formula."
    assert main(["comment", Q1.code, "CS05", "--text", words, "--author", "Head of Service"]) == 0

    built = build_quarter(settings, Q1, email=True)
    assert built.email is not None
    html = (settings.out / Q1.code / "scorecard.html").read_text(encoding="utf-8")
    message = email.message_from_bytes(next(settings.outbox.glob("*.eml")).read_bytes(), policy=policy.default)
    body = message.get_body(("html",)).get_content()
    for shown in (html, body):
        assert "&lt;script&gt;alert(" in shown and "<script>alert" not in shown  # the officer's words, inert
        assert "Notifications stopped when the school liaison post fell vacant." in shown
        assert "police@lscp.example" in shown
        assert "Re-referral audit under way; =SUM(A1) is text, not a formula." in shown
        assert "Head of Service" in shown
        assert "Commentary awaited" in shown  # DA05

    workbook = openpyxl.load_workbook(settings.out / Q1.code / "scorecard.xlsx")
    assert workbook.sheetnames[0] == "Exceptions"
    cells = [c for row in workbook["Exceptions"].iter_rows() for c in row if isinstance(c.value, str)]
    texts = [c.value for c in cells]
    assert any(SCRIPT in t for t in texts) and any("police@lscp.example" in t for t in texts)
    audit_cell = next(c for c in cells if "Re-referral audit under way" in c.value)
    assert audit_cell.data_type == "s"  # text, never a formula
    assert "Commentary awaited" in texts
    assert not [c for ws in workbook for row in ws.iter_rows() for c in row if c.data_type == "f"]
