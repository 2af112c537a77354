"""Lead officers' commentary on each warehouse engine: kept with its history, read by the build
into the scorecard, carried by scorecard.json (plain text, as written) and the text output, shown
again by a re-render; "commentary awaited" for an exception without; ``scorecard comment`` on the
command line, with ``--missing`` and the build's line before it emails.

Data: ``tests.test_scorecard``'s two years of hand-made rows, whose 2024-25 Q1 has three
exceptions: DA04 and DA05 (police) and CS05 (children's social work referrals)."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime

import pytest
from sqlalchemy import func, select

from pipelines.build import build_quarter, render_quarter
from pipelines.cli import main
from pipelines.commentary import (
    MAX_CHARS,
    CommentaryError,
    add_commentary,
    awaiting_commentary,
    commentary_history,
    latest_commentary,
)
from pipelines.marts import load_scorecard
from pipelines.model import PAYLOAD_VERSION, Commentary, PayloadError, Scorecard
from pipelines.periods import Quarter
from pipelines.render.text import render_text
from pipelines.warehouse import open_warehouse
from pipelines.warehouse.schema import indicator_commentary
from tests.test_scorecard import data  # noqa: F401  (the fixture: two years of hand-made rows)

Q1 = Quarter(2024, 1)
BUILT = datetime(2024, 7, 15, 6, 0, 3)
SCRIPT = '<script>alert("x")</script> Schools were not told of incidents after a change of staff & systems.'


def scorecard_json(settings) -> dict:
    return json.loads((settings.out / Q1.code / "scorecard.json").read_text(encoding="utf-8"))


def by_id(document: dict) -> dict[str, dict]:
    return {i["id"]: i for i in document["indicators"]}


def test_commentary_is_kept_with_its_history_and_the_latest_shown(settings):
    with open_warehouse(settings.warehouse_url) as engine:
        add_commentary(engine, Q1, "DA04", "First thoughts.", "a@lscp.example", at=datetime(2024, 7, 10, 9, 0))
        add_commentary(engine, Q1, "DA04", "  Second,\r\nbetter.  ", "b@lscp.example", at=datetime(2024, 7, 11, 9, 0))
        add_commentary(engine, Q1.shift(-1), "DA04", "Another quarter.", "a@lscp.example")
        latest = latest_commentary(engine, Q1)
        history = commentary_history(engine, Q1, "DA04")
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(indicator_commentary)).scalar()
        with pytest.raises(CommentaryError, match="no indicator 'XX99'"):
            add_commentary(engine, Q1, "XX99", "text", "a@lscp.example")
        with pytest.raises(CommentaryError, match="at most 2,000"):
            add_commentary(engine, Q1, "DA04", "x" * (MAX_CHARS + 1), "a@lscp.example")
        with pytest.raises(CommentaryError, match="empty"):
            add_commentary(engine, Q1, "DA04", " \n ", "a@lscp.example")
        with pytest.raises(CommentaryError, match="control characters"):
            add_commentary(engine, Q1, "DA04", "bell\x07", "a@lscp.example")
    assert latest == {
        "DA04": Commentary(text="Second,\nbetter.", author="b@lscp.example", written_at=datetime(2024, 7, 11, 9, 0))
    }
    assert [c.text for c in history] == ["Second,\nbetter.", "First thoughts."]
    assert rows == 3  # every entry kept; the refused ones not at all


def test_the_build_shows_commentary_in_json_and_text_and_awaited_for_an_exception_without(settings, data, capsys):  # noqa: F811
    quarter = Q1.code
    # Built first without email: the analyst sees the three exceptions awaiting commentary.
    assert main(["build", "--quarter", quarter, "--no-email"]) == 0
    out = capsys.readouterr().out
    assert (
        "2024-25 Q1: 3 exception(s) awaiting commentary: DA04 Schools notified within 24 hours (Operation "
        "Encompass); DA05 Repeat incidents; CS05 Referrals ending in no further action\n"
    ) in out
    assert out.index("awaiting commentary") < out.index("Built 2024-25 Q1")
    assert main(["comment", quarter, "--missing"]) == 0
    assert capsys.readouterr().out.startswith("3 exception(s) awaiting commentary: DA04 ")

    # The lead officer's words, entered on the command line (--text, then stdin superseding it).
    assert main(["comment", quarter, "da04", "--text", "An early draft.", "--author", "Police lead"]) == 0
    kept = capsys.readouterr().out
    assert "Kept commentary on DA04 for 2024-25 Q1 by Police lead" in kept and "early draft" not in kept
    stdin = sys.stdin
    sys.stdin = io.StringIO(SCRIPT + "\n")
    try:
        assert main(["comment", quarter, "DA04", "-", "--author", "Police lead"]) == 0
    finally:
        sys.stdin = stdin
    capsys.readouterr()
    assert main(["status", "--quarter", quarter]) == 0
    assert "  2024-25 Q1 (2024-25Q1): built " in (status := capsys.readouterr().out)
    assert "3 exception(s), 2 awaiting commentary (DA05, CS05)\n" in status
    assert main(["comment", quarter, "--missing"]) == 0
    missing = capsys.readouterr().out
    assert (
        missing
        == "2 exception(s) awaiting commentary: DA05 Repeat incidents; CS05 Referrals ending in no further action\n"
    )

    # Not shown until the next build: the build decides, renderers never look the warehouse up.
    assert by_id(scorecard_json(settings))["DA04"]["commentary"] is None
    assert main(["build", "--quarter", quarter, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "2024-25 Q1: 2 exception(s) awaiting commentary: DA05 " in out
    assert out.index("awaiting commentary") < out.index("email: ")

    document = scorecard_json(settings)
    indicators = by_id(document)
    assert indicators["DA04"]["commentary"]["text"] == SCRIPT  # plain text as written, never markup
    assert indicators["DA04"]["commentary"]["author"] == "Police lead"
    assert indicators["DA04"]["commentary"]["written_at"].endswith("+00:00")
    assert indicators["DA05"]["commentary"] is None and indicators["CS05"]["commentary"] is None
    assert all("commentary" in i for i in document["indicators"])

    with open_warehouse(settings.warehouse_url) as engine:
        scorecard = load_scorecard(engine, Q1)
    text = render_text(scorecard)
    da04 = text[text.index("DA04 ") :]
    da04 = da04[: da04.index("\nDA05 ")]
    assert "Commentary (Police lead, " in da04 and SCRIPT in da04
    da05 = text[text.index("\nDA05 ") :]
    da05 = da05[: da05.index("\nDA06 ")] if "\nDA06 " in da05 else da05
    assert "Commentary: commentary awaited" in da05
    assert text.count("commentary awaited") == 2  # DA05 and CS05; no other indicator is an exception
    assert scorecard.indicator("DA04").commentary_awaited is False
    assert scorecard.indicator("DA05").commentary_awaited is True
    assert scorecard.indicator("DA01").commentary_awaited is False  # not an exception

    # Entered after the build, the re-render still shows what the build decided.
    with open_warehouse(settings.warehouse_url) as engine:
        add_commentary(engine, Q1, "DA05", "Entered after the build.", "Police lead")
    render_quarter(settings, Q1)
    assert by_id(scorecard_json(settings))["DA05"]["commentary"] is None
    assert by_id(scorecard_json(settings))["DA04"]["commentary"]["text"] == SCRIPT
    built = build_quarter(settings, Q1, email=False, generated_at=BUILT)
    assert built.awaiting_commentary == ["CS05"]
    assert by_id(scorecard_json(settings))["DA05"]["commentary"]["text"] == "Entered after the build."


def test_the_command_refuses_what_it_cannot_keep(settings, capsys, tmp_path):
    assert main(["comment", "2024-25Q1", "DA04"]) == 2
    assert "--text TEXT, --file FILE or -" in capsys.readouterr().err
    assert main(["comment", "2024-25Q1", "ZZ01", "--text", "words"]) == 2
    assert "no indicator 'ZZ01'" in capsys.readouterr().err
    assert main(["comment", "2024-25Q9", "DA04", "--text", "words"]) == 2
    capsys.readouterr()
    long = tmp_path / "long.txt"
    long.write_text("y" * 2001, encoding="utf-8")
    assert main(["comment", "2024-25Q1", "DA04", "--file", str(long)]) == 2
    assert "2,001 characters" in capsys.readouterr().err
    assert main(["comment", "2024-25Q1", "--missing"]) == 0
    assert "has not been built yet" in capsys.readouterr().out
    with open_warehouse(settings.warehouse_url) as engine:
        assert latest_commentary(engine, Q1) == {}
        assert awaiting_commentary(engine, Q1).built is False
    written = tmp_path / "mi05.txt"
    written.write_text("Return interviews\r\nare now offered within 72 hours.\n", encoding="utf-8")
    assert main(["comment", "2024-25Q1", "MI05", "--file", str(written), "--author", "Missing lead"]) == 0
    with open_warehouse(settings.warehouse_url) as engine:
        kept = latest_commentary(engine, Q1)
    assert {k: (c.text, c.author) for k, c in kept.items()} == {
        "MI05": ("Return interviews\nare now offered within 72 hours.", "Missing lead")
    }


def test_an_older_stored_payload_asks_for_a_rebuild():
    with pytest.raises(PayloadError, match="earlier version of the pipeline: build the quarter again"):
        Scorecard.from_payload({"model": PAYLOAD_VERSION - 1, "quarter": "2024-25Q1"})
