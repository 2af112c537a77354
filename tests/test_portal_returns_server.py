"""The portal's upload and downloads against a real ``scorecard serve`` (uvicorn on 127.0.0.1):
an upload over the size limit is refused while it is still arriving (the server answers before
the body has ended, so it never waited for, or held, the whole file), and nothing reaches the
inbox; paths with literal ``../`` (which HTTP clients would tidy away) never reach a file."""

from __future__ import annotations

import http.client
import re
import socket
import time

import httpx
import pytest

from pipelines.warehouse import connect_warehouse, init_warehouse
from tests.portal_client import PASSWORD, csrf_of, make_user
from tests.portal_server import running_portal

pytestmark = [pytest.mark.slow]

POLICE = "police_domestic_incidents"
LIMIT_MB = 1


def _portal(settings, **env):
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    make_user(engine, "police@lscp.example", "data_officer", [POLICE])
    engine.dispose()
    return running_portal(
        {"SCORECARD_HOME": str(settings.home), "SCORECARD_WAREHOUSE_URL": settings.warehouse_url, **env}
    )


def _signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    form = client.get("/login")
    response = client.post(
        "/login", data={"email": "police@lscp.example", "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    assert response.status_code == 303, response.text
    return client


def test_an_upload_over_the_limit_is_refused_while_it_is_still_arriving(settings):
    with _portal(settings, SCORECARD_MAX_FILE_MB=str(LIMIT_MB)) as url:
        client = _signed_in(url)
        token = csrf_of(client.get("/check").text)
        cookie = client.cookies["lscp_session"]
        port = int(url.rsplit(":", 1)[1])
        boundary = "portal-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\n{POLICE}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                (
                    "POST /check HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\n"
                    f"Cookie: lscp_session={cookie}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )

            def chunk(data: bytes) -> None:
                sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

            chunk(head)
            line = b"INC00001,01/04/2024 10:00,N,0,No,standard,,Armley,PC Example\n"
            block = line * (65536 // len(line))
            sent = 0
            while sent <= LIMIT_MB * 1024 * 1024 + 256 * 1024:  # past the limit, then stop sending
                chunk(block)
                sent += len(block)
            # The body is never finished (no last chunk, no closing boundary): a server that
            # waited for the whole form before looking at it would never answer.
            started = time.monotonic()
            answer = b""
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
            waited = time.monotonic() - started
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line == b"HTTP/1.1 413 Request Entity Too Large", answer[:300]
        assert waited < 15
        assert [p for p in settings.inbox.rglob("*") if p.is_file()] == []
        assert list((settings.home / "uploads").iterdir()) == []
        # The same size, sent as a browser sends a form (with its length), is refused too.
        body = head + block * (sent // len(block)) + f"\r\n--{boundary}--\r\n".encode()
        response = client.post(
            "/check", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert response.status_code == 413
        assert f"larger than the {LIMIT_MB} MB limit" in response.text
        assert [p for p in settings.inbox.rglob("*") if p.is_file()] == []
        assert list((settings.home / "uploads").iterdir()) == []
        # And the server still works.
        assert client.get("/check").status_code == 200


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_literal_dot_dot_paths_reach_no_file(settings):
    (settings.home / "secret.txt").write_text("secret-key-not-to-be-served")
    (settings.out / "2024-25Q4").mkdir(parents=True)
    (settings.out / "2024-25Q4" / "scorecard.html").write_text("<p>built</p>")
    with _portal(settings) as url:
        client = _signed_in(url)
        cookie = client.cookies["lscp_session"]
        port = int(url.rsplit(":", 1)[1])
        paths = [
            "/scorecards/../secret.txt",
            "/scorecards/2024-25Q4/../../secret.txt",
            "/scorecards/../../../../etc/passwd",
            "/submissions/../secret.txt",
            "/submissions/1/../../secret.txt",
            "/uploads/../../secret.txt",
            "/static/../secret.txt",
            "/static/..%2f..%2fsecret.txt",
            "/static/%2e%2e/%2e%2e/secret.txt",
            "//etc/passwd",
        ]
        for path in paths:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers={"Cookie": f"lscp_session={cookie}"})
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            conn.close()
            assert response.status in (303, 400, 403, 404), (path, response.status)
            assert "secret-key-not-to-be-served" not in body and not re.search(r"root:.*:0:0:", body), path
