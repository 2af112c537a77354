"""Helpers for portal tests: accounts with known passwords, and a signed-in HTTP client over
the real application (Starlette's TestClient: the app, its warehouse and its folders are real;
only the socket is skipped). Browser tests start a real uvicorn instead (``tests/portal_server.py``)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from pipelines.portal.accounts import PortalUser, add_user
from pipelines.portal.passwords import hash_password

PASSWORD = "correct horse battery staple"


def make_user(engine, email: str, role: str, sources=(), password: str = PASSWORD) -> PortalUser:
    return add_user(engine, email, role, sources, password_hash=hash_password(password))


def csrf_of(page: str) -> str:
    """The CSRF token in a page's first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf_token field in the page"
    return found.group(1)


def client_for(app) -> TestClient:
    """https, so Secure cookies are kept and sent as a browser would."""
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/"):
    form = client.get("/login")
    assert form.status_code == 200
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": next_path}
    )


def signed_in_client(app, email: str, password: str = PASSWORD) -> TestClient:
    client = client_for(app)
    response = sign_in(client, email, password)
    assert response.status_code == 303, response.text
    return client
