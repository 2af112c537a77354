"""Delivering email: to a real SMTP server on localhost (plain, login, STARTTLS, SSL) or the outbox."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import re
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipelines.config import MailSettings
from pipelines.mail import MailError, deliver
from tests.smtp_server import Catcher, free_port

SENDER = "scorecard@lscp.invalid"
RECIPIENTS = ("pmsg@lscp.invalid", "chair@lscp.invalid")
PASSWORD = "s3cret-do-not-log"


def message(subject: str = "LSCP performance scorecard 2024-25 Q1: 2 exceptions") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = SENDER
    msg["To"] = ", ".join(RECIPIENTS)
    msg.set_content("Ratings: 2 red.")
    msg.add_alternative("<p>Ratings: 2 red.</p>", subtype="html")
    return msg


@pytest.fixture
def tls_files(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that the client is told to trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    # ssl.create_default_context() reads SSL_CERT_FILE, so the client trusts exactly this certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    return server_context


def received(catcher: Catcher):
    assert len(catcher.envelopes) == 1
    envelope = catcher.envelopes[0]
    parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    return envelope, parsed


def test_sends_to_a_real_smtp_server(smtp_server, tmp_path):
    catcher, port = smtp_server()
    where = deliver(message(), MailSettings(host="127.0.0.1", port=port, sender=SENDER), tmp_path / "outbox")
    assert where == f"sent to 127.0.0.1:{port}"
    envelope, parsed = received(catcher)
    assert envelope.mail_from == SENDER
    assert sorted(envelope.rcpt_tos) == sorted(RECIPIENTS)
    assert parsed["Subject"] == "LSCP performance scorecard 2024-25 Q1: 2 exceptions"
    assert not (tmp_path / "outbox").exists()  # nothing written when a server is configured


def test_logs_in_when_a_username_is_set_and_never_logs_the_password(smtp_server, tmp_path, caplog):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: aiosmtpd itself answers 535 on failure (True would leave the client waiting)
        return AuthResult(success=auth_data.password.decode() == PASSWORD, handled=False)

    catcher, port = smtp_server(authenticator=authenticator, auth_require_tls=False)
    settings = MailSettings(host="127.0.0.1", port=port, username="scorecard", password=PASSWORD)
    caplog.set_level(logging.DEBUG)
    assert deliver(message(), settings, tmp_path) == f"sent to 127.0.0.1:{port}"
    assert logins == [("scorecard", PASSWORD)]
    assert len(catcher.envelopes) == 1
    assert PASSWORD not in caplog.text and PASSWORD not in repr(settings)

    wrong = MailSettings(host="127.0.0.1", port=port, username="scorecard", password="wrong-password")
    with pytest.raises(MailError, match="rejected the login for user 'scorecard'") as info:
        deliver(message(), wrong, tmp_path)
    assert "wrong-password" not in str(info.value)


def test_starttls(smtp_server, tls_files, tmp_path):
    catcher, port = smtp_server(tls_context=tls_files, require_starttls=True)
    settings = MailSettings(host="127.0.0.1", port=port, security="starttls")
    assert deliver(message(), settings, tmp_path) == f"sent to 127.0.0.1:{port}"
    envelope, parsed = received(catcher)
    assert sorted(envelope.rcpt_tos) == sorted(RECIPIENTS)

    # The same server refuses a client that does not upgrade: the error says why.
    with pytest.raises(MailError, match="did not accept the email"):
        deliver(message(), MailSettings(host="127.0.0.1", port=port, security="none"), tmp_path)


def test_implicit_ssl(smtp_server, tls_files, tmp_path):
    catcher, port = smtp_server(ssl_context=tls_files)
    settings = MailSettings(host="127.0.0.1", port=port, security="ssl")
    assert deliver(message(), settings, tmp_path) == f"sent to 127.0.0.1:{port}"
    received(catcher)


def test_untrusted_certificate_is_a_clear_error(smtp_server, tls_files, tmp_path, monkeypatch):
    _catcher, port = smtp_server(ssl_context=tls_files)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing.pem"))
    with pytest.raises(MailError, match="secure connection"):
        deliver(message(), MailSettings(host="127.0.0.1", port=port, security="ssl"), tmp_path, timeout=5)


def test_server_down_raises_mail_error(tmp_path):
    port = free_port()  # nothing listens here now
    with pytest.raises(MailError) as info:
        deliver(message(), MailSettings(host="127.0.0.1", port=port), tmp_path, timeout=5)
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "connection refused" in text


def test_writes_eml_to_the_outbox_when_no_host(tmp_path):
    outbox = tmp_path / "out" / "outbox"
    first = deliver(message(), MailSettings(host=None), outbox)
    second = deliver(message(), MailSettings(host=None), outbox)
    assert first != second
    path = Path(first)
    assert path.parent == outbox and path.suffix == ".eml"
    assert re.fullmatch(r"\d{8}T\d{12}Z-lscp-performance-scorecard-2024-25-q1-2-exceptions(-\d+)?\.eml", path.name)
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "LSCP performance scorecard 2024-25 Q1: 2 exceptions"
    assert parsed["To"] == ", ".join(RECIPIENTS)
    assert sorted(p.name for p in outbox.iterdir()) == sorted([path.name, Path(second).name])  # no .part left


def _scorecard():
    """One exception (CS03, red) and one green, as the typed scorecard the renderers take."""
    from test_render import cs03, indicator, scorecard

    return scorecard(
        [
            cs03(),
            indicator(
                id="CS05",
                name="Referrals ending in no further action",
                value=19.0,
                numerator=399,
                denominator=2100,
                target=20.0,
                rag="green",
            ),
        ]
    )


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "starttls-login"])
def test_the_scorecard_email_goes_through_smtp_intact(smtp_server, tls_files, tmp_path, secure):
    """Multipart text+HTML, inline charts referenced by cid:, the workbook attached, the subject."""
    import io

    import openpyxl

    from pipelines.render import build_scorecard_email, render_charts, write_workbook

    sc = _scorecard()
    msg = build_scorecard_email(
        sc,
        sender=SENDER,
        recipients=RECIPIENTS,
        workbook=write_workbook(sc, tmp_path / "s.xlsx"),
        charts=render_charts(sc),
    )
    logins = []
    if secure:

        def authenticator(server, session, envelope, mechanism, auth_data):
            logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password.decode() == PASSWORD, handled=False)

        catcher, port = smtp_server(
            tls_context=tls_files, require_starttls=True, authenticator=authenticator, auth_require_tls=True
        )
        settings = MailSettings(
            host="127.0.0.1", port=port, security="starttls", username="scorecard", password=PASSWORD
        )
    else:
        catcher, port = smtp_server()
        settings = MailSettings(host="127.0.0.1", port=port)
    assert deliver(msg, settings, tmp_path) == f"sent to 127.0.0.1:{port}"
    assert logins == ([("scorecard", PASSWORD)] if secure else [])

    envelope, parsed = received(catcher)
    assert sorted(envelope.rcpt_tos) == sorted(RECIPIENTS)
    assert parsed["Subject"] == "LSCP performance scorecard 2024-25 Q1: 1 exception"
    assert parsed.is_multipart()
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "Re-referrals within 12 months" in text and "Re-referrals within 12 months" in html
    assert "<script" not in html.lower()
    images = {p["Content-ID"].strip("<>"): p for p in parsed.walk() if p.get_content_type() == "image/png"}
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    assert cids and cids == set(images), (cids, set(images))
    assert all(p.get_content()[:8] == b"\x89PNG\r\n\x1a\n" for p in images.values())
    [attachment] = [p for p in parsed.iter_attachments() if p.get_content_type().endswith("spreadsheetml.sheet")]
    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    assert "CS03" in [c.value for row in workbook.worksheets[0].iter_rows() for c in row]
