"""The portal's pages for data officers, the board and the analyst, on each warehouse engine:
returns by quarter, check a file (streamed upload) and submit it, intake's receipt on the
submission's page, history and downloads, scorecards and status; and the refusals that keep each
officer to their own sources."""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import date, datetime
from html import escape
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update

from pipelines.intake import run_intake
from pipelines.portal.app import create_app
from pipelines.portal.returns import LATE, MISSING, OVERDUE, RECEIVED, RECEIVED_LATE, decide, returns_by_quarter
from pipelines.warehouse.schema import load_files, portal_audit, portal_submissions
from tests.portal_client import client_for, csrf_of, make_user, signed_in_client
from tests.test_intake import HEADER, police_rows, write_xlsx

POLICE = "police_domestic_incidents"
CSWS = "csws_referrals"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)")


def make_app(settings, **changes):
    from pipelines.warehouse import connect_warehouse, init_warehouse

    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    return create_app(dataclasses.replace(settings, **changes) if changes else settings, engine=engine)


@pytest.fixture
def app(settings):
    app = make_app(settings)
    yield app
    app.state.portal.engine.dispose()


def engine_of(app):
    return app.state.portal.engine


def bad_police_file(path: Path, n: int = 40) -> Path:
    """A police return of ``n`` rows, three of them bad (rows 8, 12 and 15 of the sheet)."""
    rows = police_rows(n, start=201)
    rows[3][1] = "31/02/2024"  # not a real date: sheet row 8 (title, title, blank, header, then data)
    rows[7][5] = "purple"  # not a risk level: row 12
    rows[10][0] = None  # no occurrence number: row 15
    return write_xlsx(path, rows)


def upload(client, path: Path, source: str | None = POLICE, name: str | None = None):
    page = client.get("/check")
    assert page.status_code == 200
    data = {"csrf_token": csrf_of(page.text)}
    if source is not None:
        data["source"] = source
    with open(path, "rb") as handle:
        return client.post("/check", data=data, files={"file": (name or path.name, handle.read(), XLSX)})


def submit(client, upload_path: str):
    page = client.get(upload_path)
    assert page.status_code == 200
    return client.post(upload_path + "/submit", data={"csrf_token": csrf_of(page.text)})


def inbox_files(settings) -> list[Path]:
    return sorted(p for p in settings.inbox.rglob("*") if p.is_file())


# ------------------------------------------------------------------ a return's state


def test_a_returns_state_is_decided_against_its_due_date():
    due = date(2024, 7, 30)
    assert decide(rows=10, received_at=datetime(2024, 7, 30, 23, 0), due=due, today=date(2024, 9, 1))[:2] == (
        RECEIVED,
        None,
    )
    state, kind, text = decide(rows=10, received_at=datetime(2024, 8, 5, 9, 0), due=due, today=date(2024, 9, 1))
    assert (state, kind) == (LATE, RECEIVED_LATE)
    assert text == "Received 2024-08-05, 6 days after it was due (2024-07-30); 10 rows"
    state, kind, text = decide(rows=0, received_at=None, due=due, today=date(2024, 8, 1))
    assert (state, kind, text) == (LATE, OVERDUE, "Not received: 2 days overdue (it was due 2024-07-30)")
    state, kind, text = decide(rows=0, received_at=None, due=due, today=date(2024, 7, 20))
    assert (state, kind, text) == (MISSING, None, "Not received yet: due 2024-07-30 (in 10 days)")


def test_returns_by_quarter_from_the_warehouse(settings, warehouse):
    write_xlsx(settings.inbox / "police.xlsx", police_rows(30))  # April 2024: 2024-25Q1
    assert [o.status for o in run_intake(settings).outcomes] == ["accepted"]
    with warehouse.begin() as conn:
        conn.execute(update(load_files).values(received_at=datetime(2024, 7, 1, 9, 30)))
    quarters = returns_by_quarter(warehouse, [POLICE, CSWS, "no_such_source"], today=date(2024, 10, 15), quarters=2)
    assert [q.quarter for q in quarters] == ["2024-25Q2", "2024-25Q1"]
    q2, q1 = quarters
    assert [(r.source, r.state, r.late_kind) for r in q2.returns] == [(POLICE, MISSING, None), (CSWS, MISSING, None)]
    assert q2.returns[0].explanation == "Not received yet: due 2024-10-30 (in 15 days)"
    police, csws = q1.returns
    assert (police.state, police.rows, police.received_at) == (RECEIVED, 30, datetime(2024, 7, 1, 9, 30))
    assert police.explanation == "Received 2024-07-01 (due 2024-07-30); 30 rows"
    assert (csws.state, csws.late_kind) == (LATE, OVERDUE) and csws.label == "Late: not received"
    with warehouse.begin() as conn:
        conn.execute(update(load_files).values(received_at=datetime(2024, 8, 5, 9, 30)))
    police = returns_by_quarter(warehouse, [POLICE], today=date(2024, 10, 15), quarters=2)[1].returns[0]
    assert (police.state, police.late_kind) == (LATE, RECEIVED_LATE)
    assert police.label == "Late: received after the due date"


def test_returns_kept_in_memory_are_worked_out_again_after_a_load(settings, warehouse):
    asked = dict(today=date(2024, 10, 15), quarters=2)
    before = returns_by_quarter(warehouse, [POLICE], **asked)[1].returns[0]
    assert (before.state, before.late_kind, before.rows) == (LATE, OVERDUE, 0)
    assert returns_by_quarter(warehouse, [POLICE], **asked)[1].returns[0] is before  # kept: nothing loaded since
    write_xlsx(settings.inbox / "police.xlsx", police_rows(30))  # April 2024: 2024-25Q1
    assert [o.status for o in run_intake(settings).outcomes] == ["accepted"]
    after = returns_by_quarter(warehouse, [POLICE], **asked)[1].returns[0]
    assert after.rows == 30 and after.state in (RECEIVED, LATE) and after.late_kind != OVERDUE


def test_the_dashboard_and_returns_page_show_only_the_officers_sources(app):
    make_user(engine_of(app), "police@lscp.example", "data_officer", [POLICE])
    make_user(engine_of(app), "analyst@lscp.example", "analyst")
    officer = signed_in_client(app, "police@lscp.example")
    for path in ("/", "/returns"):
        page = officer.get(path)
        assert page.status_code == 200
        assert "Police domestic incidents" in page.text
        assert "social work referrals" not in page.text and "Missing from home or care" not in page.text
        assert "Late: not received" in page.text  # nothing received, every quarter shown is past due
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', officer.get("/").text, re.S).group(1)
    assert re.findall(r'href="([^"]+)"', nav) == ["/", "/returns", "/check", "/submissions", "/commentary"]
    analyst = signed_in_client(app, "analyst@lscp.example")
    page = analyst.get("/returns")
    assert "Police domestic incidents" in page.text and "Missing from home or care episodes" in page.text
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', analyst.get("/").text, re.S).group(1)
    assert "/status" in nav and "/scorecards" in nav


# ------------------------------------------------------------------ check, submit, receipt


def test_officer_checks_a_file_submits_it_and_intake_s_receipt_appears(app, settings, tmp_path):
    engine = engine_of(app)
    make_user(engine, "police@lscp.example", "data_officer", [POLICE])
    client = signed_in_client(app, "police@lscp.example")
    checked = upload(client, bad_police_file(tmp_path / "april return.xlsx"))
    assert checked.status_code == 303
    where = checked.headers["location"]
    assert re.fullmatch(r"/uploads/[A-Za-z0-9_-]{32}", where)
    assert inbox_files(settings) == []  # nothing reaches the inbox before Submit
    upload_folder = settings.home / "uploads" / where.rsplit("/", 1)[1]
    assert oct(upload_folder.stat().st_mode & 0o777) == "0o700"

    page = client.get(where)
    assert page.status_code == 200
    text = page.text
    assert "Intake would <strong>accept</strong> this file" in text
    assert "april return.xlsx" in text and "Police domestic incidents" in text
    assert '<dt>Sheet</dt><dd class="name">Sheet (header on row 4)</dd>' in text
    assert "<dt>Rows read</dt><dd>40</dd>" in text
    assert "<dt>Rows accepted</dt><dd>37</dd>" in text and "<dt>Rows rejected</dt><dd>3</dd>" in text
    assert "<dt>Rows that would be new</dt><dd>37</dd>" in text
    rows = re.findall(r'<td data-label="Row">(\d+)</td>', text)
    assert rows == ["8", "12", "15"]
    assert "31/02/2024" in text and "purple" in text  # the values as sent, to their sender
    reasons = re.findall(r"<ul class=\"reasons\">(.*?)</ul>", text, re.S)
    assert len(reasons) == 3 and all("<li>" in r for r in reasons)
    assert "Date Reported" in reasons[0] and "DASH Risk" in reasons[1] and "Occurrence Number" in reasons[2]

    submitted = submit(client, where)
    assert submitted.status_code == 303
    submission_path = submitted.headers["location"]
    submission_id = int(submission_path.rsplit("/", 1)[1])
    assert not upload_folder.exists()
    files = inbox_files(settings)
    assert len(files) == 1 and files[0].parent == settings.inbox / POLICE
    assert re.fullmatch(r"april return-portal-[0-9a-f]{12}\.xlsx", files[0].name)
    assert not [p for p in (settings.inbox / POLICE).iterdir() if p.name.startswith(".")]
    waiting = client.get(submission_path)
    assert waiting.status_code == 200 and "Waiting for intake" in waiting.text
    assert client.get(submission_path + "/receipt").status_code == 404

    outcomes = run_intake(settings).outcomes
    assert [(o.status, o.rows_loaded, o.rows_rejected) for o in outcomes] == [("accepted", 37, 3)]
    with engine.connect() as conn:
        load_id = conn.execute(select(portal_submissions.c.load_id)).scalar_one()
    assert load_id == outcomes[0].load_id
    done = client.get(submission_path)
    assert "Waiting for intake" not in done.text
    assert "Intake accepted this file" in done.text and "<dt>Rows loaded</dt><dd>37</dd>" in done.text
    assert "Receipt for april return-portal-" in done.text
    receipt = client.get(submission_path + "/receipt")
    assert receipt.status_code == 200 and receipt.text.startswith("Receipt for april return-portal-")
    rejects = client.get(submission_path + "/rejects")
    assert rejects.status_code == 200 and rejects.headers["content-type"] == XLSX
    (tmp_path / "rejects.xlsx").write_bytes(rejects.content)
    sheet = openpyxl.load_workbook(tmp_path / "rejects.xlsx").active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [8, 12, 15]

    history = client.get("/submissions")
    assert f'href="/submissions/{submission_id}"' in history.text
    assert f'href="/submissions/{submission_id}/receipt"' in history.text
    assert f'href="/submissions/{submission_id}/rejects"' in history.text
    assert "Accepted: 37 rows loaded, 3 rejected" in history.text

    with engine.connect() as conn:
        audit = conn.execute(select(portal_audit.c.action, portal_audit.c.detail)).all()
    actions = [a for a, _ in audit]
    assert actions.count("upload") == 1 and actions.count("submit") == 1 and actions.count("download") == 2
    assert all("purple" not in (d or "") and "31/02/2024" not in (d or "") for _, d in audit)

    # The receipt email links to the submission's page, and names no row's values.
    [mail] = sorted(settings.outbox.glob("*.eml"))
    body = email.message_from_bytes(mail.read_bytes()).get_payload(decode=True).decode()
    assert f"{settings.portal.url.rstrip('/')}/submissions/{submission_id}" in body
    assert "purple" not in body and "31/02/2024" not in body


def test_a_file_sent_outside_the_portal_gets_a_receipt_linking_to_the_returns_page(settings, warehouse):
    (settings.inbox / POLICE).mkdir()
    write_xlsx(settings.inbox / POLICE / "direct.xlsx", police_rows(5))
    assert [o.status for o in run_intake(settings).outcomes] == ["accepted"]
    [mail] = sorted(settings.outbox.glob("*.eml"))
    body = email.message_from_bytes(mail.read_bytes()).get_payload(decode=True).decode()
    assert f"in the portal: {settings.portal.url.rstrip('/')}/returns" in body
    assert "/submissions/" not in body


def test_a_file_the_check_rejects_cannot_be_submitted(app, settings, tmp_path):
    make_user(engine_of(app), "police@lscp.example", "data_officer", [POLICE])
    client = signed_in_client(app, "police@lscp.example")
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"this is not a workbook")
    where = upload(client, junk).headers["location"]
    page = client.get(where)
    assert "Intake would <strong>reject</strong> this file" in page.text
    assert "/submit" not in page.text
    refused = client.post(where + "/submit", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 400 and "Only a file the check would accept" in refused.text
    assert inbox_files(settings) == []


def test_the_analyst_can_let_intake_identify_the_source(app, settings, tmp_path):
    make_user(engine_of(app), "analyst@lscp.example", "analyst")
    client = signed_in_client(app, "analyst@lscp.example")
    where = upload(client, write_xlsx(tmp_path / "x.xlsx", police_rows(10)), source="").headers["location"]
    page = client.get(where)
    assert "Intake would <strong>accept</strong>" in page.text and "Police domestic incidents" in page.text
    submitted = submit(client, where)
    assert submitted.status_code == 303
    assert [p.parent.name for p in inbox_files(settings)] == [POLICE]


# ------------------------------------------------------------------ security


def test_an_officer_cannot_reach_another_sources_submissions_even_by_guessing_ids(app, settings, tmp_path):
    engine = engine_of(app)
    make_user(engine, "police@lscp.example", "data_officer", [POLICE])
    make_user(engine, "other@lscp.example", "data_officer", [POLICE])
    make_user(engine, "csws@lscp.example", "data_officer", [CSWS])
    police = signed_in_client(app, "police@lscp.example")
    where = upload(police, bad_police_file(tmp_path / "p.xlsx")).headers["location"]
    own = int(submit(police, where).headers["location"].rsplit("/", 1)[1])
    run_intake(settings)

    csws = signed_in_client(app, "csws@lscp.example")
    assert csws.get(where).status_code == 404  # an upload is bound to its uploader
    assert csws.post(where + "/submit", data={"csrf_token": csrf_of(csws.get("/check").text)}).status_code == 404
    colleague = signed_in_client(app, "other@lscp.example")
    assert colleague.get(where).status_code == 404
    for submission_id in range(1, own + 5):
        for suffix in ("", "/receipt", "/rejects"):
            response = csws.get(f"/submissions/{submission_id}{suffix}")
            assert response.status_code == (403 if submission_id == own else 404), (submission_id, suffix)
            assert "Receipt for" not in response.text and "purple" not in response.text
    history = csws.get("/submissions")
    assert history.status_code == 200 and f"/submissions/{own}" not in history.text and "p.xlsx" not in history.text
    assert f"/submissions/{own}" not in csws.get("/").text
    # The same source's other officer sees it (the sources are theirs too), and so does the analyst.
    assert colleague.get(f"/submissions/{own}/rejects").status_code == 200
    make_user(engine, "analyst@lscp.example", "analyst")
    analyst = signed_in_client(app, "analyst@lscp.example")
    assert analyst.get(f"/submissions/{own}/receipt").status_code == 200
    assert f"/submissions/{own}" in analyst.get("/submissions").text


def test_the_board_cannot_upload_or_submit_and_officers_cannot_read_board_pages(app, settings, tmp_path):
    engine = engine_of(app)
    make_user(engine, "board@lscp.example", "board")
    make_user(engine, "police@lscp.example", "data_officer", [POLICE])
    board = signed_in_client(app, "board@lscp.example")
    token = csrf_of(board.get("/scorecards").text)
    home = board.get("/")
    assert home.status_code == 200 and "<h1>Scorecards</h1>" in home.text  # the board's first page
    for path in ("/check", "/returns", "/submissions", "/submissions/1", "/status"):
        assert board.get(path).status_code == 403, path
    files = {"file": ("x.xlsx", write_xlsx(tmp_path / "x.xlsx", police_rows(3)).read_bytes(), XLSX)}
    assert board.post("/check", data={"csrf_token": token, "source": POLICE}, files=files).status_code == 403
    assert board.post("/uploads/" + "A" * 32 + "/submit", data={"csrf_token": token}).status_code == 403
    assert inbox_files(settings) == [] and not any((settings.home / "uploads").glob("*/*"))
    assert "/check" not in board.get("/scorecards").text
    officer = signed_in_client(app, "police@lscp.example")
    assert officer.get("/scorecards").status_code == 403 and officer.get("/status").status_code == 403
    # Another source than their own is refused before anything is checked.
    files = {"file": ("x.xlsx", (tmp_path / "x.xlsx").read_bytes(), XLSX)}
    page = officer.post("/check", data={"csrf_token": csrf_of(officer.get("/check").text), "source": CSWS}, files=files)
    assert page.status_code == 400 and "Choose one of your sources" in page.text
    # And an upload without the session's token writes nothing.
    page = officer.post("/check", data={"csrf_token": "forged", "source": POLICE}, files=files)
    assert page.status_code == 403
    assert not any((settings.home / "uploads").glob("*/*"))


def test_names_headers_and_cells_carrying_markup_are_shown_as_text(app, settings, tmp_path):
    make_user(engine_of(app), "police@lscp.example", "data_officer", [POLICE])
    client = signed_in_client(app, "police@lscp.example")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = PAYLOADS[1]
    sheet.append([*HEADER, PAYLOADS[0], PAYLOADS[2]])
    rows = police_rows(12)
    rows[2][5] = PAYLOADS[1]  # not a risk level: rejected, shown as sent
    rows[2][7] = PAYLOADS[0]
    rows[2][8] = PAYLOADS[2]
    for row in rows:
        sheet.append([*row, PAYLOADS[0], PAYLOADS[2]])
    path = tmp_path / "evil.xlsx"
    book.save(path)
    where = upload(client, path, name=PAYLOADS[0] + ".xlsx").headers["location"]
    page = client.get(where).text
    assert "Intake would <strong>accept</strong>" in page
    for payload in PAYLOADS[:2]:
        assert payload not in page
        assert escape(payload) in page
    assert "<script" not in page.lower().replace("<script src", "") and "onerror=" not in page.replace(
        escape(PAYLOADS[1]), ""
    )
    assert 'href="javascript:' not in page and "javascript:alert(1)" in page  # as text only
    assert escape(PAYLOADS[0]) + ".xlsx" in page  # the file name, as text
    where_submitted = submit(client, where).headers["location"]
    run_intake(settings)
    for path in (where_submitted, "/submissions", "/"):
        text = client.get(path).text
        assert PAYLOADS[0] not in text and PAYLOADS[1] not in text and 'href="javascript:' not in text


@pytest.mark.parametrize(
    "path",
    [
        "/scorecards/..%2f..%2fetc%2fpasswd",
        "/scorecards/%2e%2e%2f%2e%2e%2fetc%2fpasswd/workbook",
        "/scorecards/2024-25Q4%2f..%2f..%2fpasswd",
        "/scorecards/%2e%2e",
        "/scorecards/%2fetc%2fpasswd/workbook",
        "/scorecards/2024-25Q4%2f%2e%2e%2f%2e%2e%2fpseudonym.key",
        "/submissions/..%2f1/receipt",
        "/submissions/%2e%2e%2f%2e%2e%2fetc%2fpasswd/rejects",
        "/submissions/-1/receipt",
        "/submissions/1%2f..%2f..%2fpipelines/receipt",
        "/uploads/..%2f..%2fpseudonym.key",
        "/uploads/%2fetc%2fpasswd",
        "/uploads/" + "." * 32,
        "/uploads/" + "%2e" * 32 + "/submit",
    ],
)
def test_a_path_traversal_in_any_download_parameter_is_refused(app, settings, path):
    make_user(engine_of(app), "analyst@lscp.example", "analyst")
    client = signed_in_client(app, "analyst@lscp.example")
    (settings.home / "pseudonym.key").write_text("secret-key-not-to-be-served")
    response = client.get(path)
    assert response.status_code in (400, 403, 404, 405), (path, response.status_code)
    assert "root:" not in response.text and "secret-key-not-to-be-served" not in response.text


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_kept(settings, tmp_path):
    app = make_app(settings, max_file_mb=0.25)
    make_user(engine_of(app), "police@lscp.example", "data_officer", [POLICE])
    client = signed_in_client(app, "police@lscp.example")
    big = tmp_path / "big.csv"
    big.write_bytes(b"Occurrence Number,Date Reported\n" + b"INC00001,01/04/2024 10:00\n" * 15000)
    assert big.stat().st_size > 0.25 * 1024 * 1024
    response = upload(client, big)
    assert response.status_code == 413
    assert "larger than the 0.25 MB limit" in response.text
    assert inbox_files(settings) == []
    assert list((settings.home / "uploads").iterdir()) == []
    with engine_of(app).connect() as conn:
        assert conn.execute(select(portal_audit.c.detail).where(portal_audit.c.action == "upload_refused")).all() == [
            ("over the size limit",)
        ]
    app.state.portal.engine.dispose()


def test_an_upload_without_a_file_or_with_a_wrong_form_is_refused(app, settings):
    make_user(engine_of(app), "police@lscp.example", "data_officer", [POLICE])
    client = signed_in_client(app, "police@lscp.example")
    token = csrf_of(client.get("/check").text)
    empty = client.post("/check", data={"csrf_token": token}, files={"file": ("e.xlsx", b"", XLSX)})
    assert empty.status_code == 400 and "Choose a file" in empty.text
    plain = client.post("/check", data={"csrf_token": token})  # not the page's multipart form
    assert plain.status_code == 403 and "Form expired" in plain.text
    assert inbox_files(settings) == [] and list((settings.home / "uploads").iterdir()) == []


# ------------------------------------------------------------------ the board and the analyst


def test_board_reads_built_scorecards_with_their_charts_and_workbook(app, settings):
    make_user(engine_of(app), "board@lscp.example", "board")
    folder = settings.out / "2024-25Q4"
    (folder / "charts").mkdir(parents=True)
    (folder / "charts" / "ind_1.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (folder / "scorecard.html").write_text(
        "<html><head><style>p{color:red}</style></head><body><p>Scorecard 2024-25 Q4</p>"
        '<img src="charts/ind_1.png" alt="trend"></body></html>'
    )
    (folder / "scorecard.xlsx").write_bytes(b"PK\x03\x04 workbook")
    (settings.out / "not-a-quarter").mkdir()
    client = signed_in_client(app, "board@lscp.example")
    listing = client.get("/scorecards")
    assert listing.status_code == 200
    assert 'href="/scorecards/2024-25Q4"' in listing.text and 'href="/scorecards/2024-25Q4/workbook"' in listing.text
    assert "not-a-quarter" not in listing.text
    page = client.get("/scorecards/2024-25Q4")
    assert page.status_code == 200 and "Scorecard 2024-25 Q4" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert 'src="data:image/png;base64,' in page.text and 'src="charts/' not in page.text
    workbook = client.get("/scorecards/2024-25Q4/workbook")
    assert workbook.status_code == 200 and workbook.content == b"PK\x03\x04 workbook"
    assert 'filename="scorecard-2024-25Q4.xlsx"' in workbook.headers["content-disposition"]
    assert client.get("/scorecards/2023-24Q4").status_code == 404
    assert client.get("/scorecards/2024-25q4").status_code == 404


def test_an_indicator_page_shows_its_chart_and_icons_from_the_quarters_folder_only(app, settings):
    make_user(engine_of(app), "board@lscp.example", "board")
    folder = settings.out / "2024-25Q4"
    for sub in ("indicators", "icons"):
        (folder / sub).mkdir(parents=True)
    (folder / "indicators" / "DA01.png").write_bytes(b"\x89PNG chart")
    (folder / "icons" / "variation-common-cause.png").write_bytes(b"\x89PNG icon")
    (settings.out / "secret.png").write_bytes(b"\x89PNG outside the quarter")
    (folder / "scorecard.html").write_text('<p>Q4</p><a href="indicators/DA01.html">DA01</a>')
    (folder / "indicators" / "DA01.html").write_text(
        '<a href="../scorecard.html">back</a><a href="../../index.html">all</a><img src="DA01.png" alt="chart">'
        '<img src="../icons/variation-common-cause.png" alt="icon"><img src="../../secret.png" alt="x">'
    )
    client = signed_in_client(app, "board@lscp.example")
    assert 'href="/scorecards/2024-25Q4/indicators/DA01"' in client.get("/scorecards/2024-25Q4").text
    page = client.get("/scorecards/2024-25Q4/indicators/DA01")
    assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.text.count('src="data:image/png;base64,') == 2  # the chart and the icon, not the file outside
    assert 'href="/scorecards/2024-25Q4"' in page.text and 'href="/scorecards"' in page.text
    for bad in ("..%2Fscorecard", "DA01.html", "%2e%2e", "DA01%00"):
        assert client.get(f"/scorecards/2024-25Q4/indicators/{bad}").status_code == 404, bad


def test_the_analyst_sees_the_pipelines_status(app, settings):
    make_user(engine_of(app), "analyst@lscp.example", "analyst")
    write_xlsx(settings.inbox / "waiting.xlsx", police_rows(3))
    client = signed_in_client(app, "analyst@lscp.example")
    page = client.get("/status")
    assert page.status_code == 200
    assert "Pipeline status" in page.text and "Police domestic incidents" in page.text
    assert "waiting.xlsx" in page.text and "ready" in page.text


def test_pages_behind_sign_in_send_strangers_to_sign_in(app):
    client = client_for(app)
    for path in ("/returns", "/check", "/submissions", "/submissions/1", "/scorecards", "/scorecards/2024-25Q4"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path


# ------------------------------------------------------------------ the streamed form, in memory terms


def _form_messages(token: str, file_bytes: int, block: int = 64 * 1024):
    """An ASGI ``receive`` for a multipart form with the token, then a file of ``file_bytes``
    arriving ``block`` bytes at a time, made as it is read (never whole in memory)."""
    boundary = "memtest"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def messages():
        yield head
        left = file_bytes
        while left > 0:
            n = min(block, left)
            yield b"x" * n
            left -= n
        yield tail

    stream = messages()
    pending = [next(stream)]

    async def receive():
        body = pending.pop()
        try:
            pending.append(next(stream))
            more = True
        except StopIteration:
            more = False
        return {"type": "http.request", "body": body, "more_body": more}

    return receive, f"multipart/form-data; boundary={boundary}"


def test_an_upload_is_written_to_disk_as_it_arrives_never_held_whole_in_memory(tmp_path):
    import asyncio
    import hashlib
    import tracemalloc

    from pipelines.portal.security import CsrfRefused
    from pipelines.portal.uploads import UploadRefused, receive_upload

    size = 24 * 1024 * 1024
    receive, content_type = _form_messages("tok", size)
    tracemalloc.start()
    try:
        received = asyncio.run(receive_upload(receive, content_type, None, tmp_path, 100 * 1024 * 1024, "tok"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received.path == tmp_path / "upload.csv" and received.size == size
    assert received.path.stat().st_size == size and oct(received.path.stat().st_mode & 0o777) == "0o600"
    assert received.sha256 == hashlib.sha256(b"x" * size).hexdigest()
    assert received.fields == {"csrf_token": "tok"} and received.original_name == "big.csv"
    assert peak < 2 * 1024 * 1024, f"peak {peak:,} bytes while receiving a {size:,}-byte file"

    # Over the limit: refused, the partial file removed.
    over = tmp_path / "over"
    over.mkdir()
    receive, content_type = _form_messages("tok", 3 * 1024 * 1024)
    with pytest.raises(UploadRefused) as refused:
        asyncio.run(receive_upload(receive, content_type, None, over, 1024 * 1024, "tok"))
    assert refused.value.status == 413 and list(over.iterdir()) == []

    # A form whose token is wrong writes nothing at all.
    forged = tmp_path / "forged"
    forged.mkdir()
    receive, content_type = _form_messages("not-the-token", 1024)
    with pytest.raises(CsrfRefused):
        asyncio.run(receive_upload(receive, content_type, None, forged, 1024 * 1024, "tok"))
    assert list(forged.iterdir()) == []
