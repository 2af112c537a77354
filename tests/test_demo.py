"""`scorecard demo` (what `make demo` runs), as a real subprocess, twice in one home: the portal's
address and how to start it, a login per role that signs in to the real application on the
demo's warehouse, and a second run that gives the same accounts new passwords instead of failing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from pipelines.warehouse.schema import portal_users
from tests.portal_client import client_for, sign_in
from tests.test_status import run

pytestmark = pytest.mark.slow

LOGIN = re.compile(r"^    (data_officer|analyst|board) +(\S+@\S+) +password: (\S+)$", re.M)


def logins(output: str) -> dict[str, tuple[str, str]]:
    return {role: (email, password) for role, email, password in LOGIN.findall(output)}


def portal_app(home: Path):
    from pipelines.config import load_settings
    from pipelines.portal.app import create_app

    settings = load_settings({"SCORECARD_HOME": str(home)})  # the key: the demo's pseudonym.key
    return create_app(settings)


def test_the_demo_prints_the_portal_and_a_working_login_per_role_and_runs_again(tmp_path):
    home = tmp_path / "home"
    first = run(["demo"], home)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "The partner portal: http://127.0.0.1:8000/" in out
    assert re.search(r"SCORECARD_PORTAL_SECURE_COOKIES=false \S*scorecard serve\n", out)
    found = logins(out)
    assert set(found) == {"data_officer", "analyst", "board"}
    assert found["data_officer"][0] == "police.officer@demo.lscp.invalid"
    assert len({password for _, password in found.values()}) == 3
    assert all(len(password) >= 12 for _, password in found.values())
    assert out.rstrip().endswith(found["board"][1])  # the logins are the last thing printed

    engine = create_engine(f"sqlite:///{home / 'warehouse.db'}")
    with engine.connect() as conn:
        rows = {r.email: r for r in conn.execute(select(portal_users))}
    assert {email: rows[email].role for email, _ in found.values()} == {
        "police.officer@demo.lscp.invalid": "data_officer",
        "analyst@demo.lscp.invalid": "analyst",
        "board@demo.lscp.invalid": "board",
    }
    for _, password in found.values():  # only argon2id hashes are kept
        assert all(password not in r.password_hash and r.password_hash.startswith("$argon2id$") for r in rows.values())

    app = portal_app(home)
    for role, (email, password) in found.items():
        client = client_for(app)
        response = sign_in(client, email, password)
        assert response.status_code == 303, (role, response.text[:300])
        assert email in client.get("/").text, role

    # Again in the same home: no failure on the existing accounts; new passwords, the old ones refused.
    second = run(["demo"], home)
    assert second.returncode == 0, second.stderr
    again = logins(second.stdout)
    assert {role: email for role, (email, _) in again.items()} == {role: email for role, (email, _) in found.items()}
    for role, (email, password) in again.items():
        assert password != found[role][1], role
        assert sign_in(client_for(app), email, found[role][1]).status_code == 401, role
        assert sign_in(client_for(app), email, password).status_code == 303, role
    with engine.connect() as conn:
        assert len(conn.execute(select(portal_users.c.user_id)).all()) == 3
    engine.dispose()
    app.state.portal.engine.dispose()
