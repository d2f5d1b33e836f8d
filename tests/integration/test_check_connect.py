"""`check-config --connect` against real servers: each account's line says what failed (DNS, TCP, TLS
certificate, auth, folder missing), nothing is fetched or sent, and any failure exits 2."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import ACK_ALL, imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.dovecot import free_port, make_certificate
from tests.support.flow import customer_mail
from tests.support.smtp import RecordingHandler, SmtpServer

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-pw-31"


def smtp_password(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(RecordingHandler(), authenticator=smtp_password, auth_require_tls=False).start()
    yield server
    server.stop()


def config_file(tmp_path: Path, db_url: str, imap: list[dict[str, Any]], smtp: dict[str, Any]) -> Path:
    return write_config(tmp_path / "mailbot.toml", {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"},
        "rules": {"dir": str(ACK_ALL)},
        "smtp": smtp,
        "imap": imap,
    })


def lines_for(stdout: str) -> dict[str, str]:
    """{'imap NAME' or 'smtp' or 'database': the check's line}."""
    found = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("ok", "FAILED"):
            key = f"{parts[1]} {parts[2]}" if parts[1] == "imap" else parts[1]
            found[key] = line
    return found


def test_everything_reachable_passes_and_nothing_is_fetched_or_sent(dovecot, imap_user, smtp, token_endpoint, tmp_path: Path) -> None:
    dovecot.deliver(imap_user, customer_mail("a@customer.example", "still here after the check"))
    client_id = token_endpoint.add_client(imap_user.name, secret="s3")
    oauth = imap_section(dovecot, imap_user, name="token", password=None, auth="oauth2",
                         oauth2={"token_endpoint": token_endpoint.url, "client_id": client_id, "client_secret": "s3"})
    db_url = f"sqlite:///{tmp_path / 'mailbot.db'}"
    path = config_file(tmp_path, db_url, [imap_section(dovecot, imap_user), oauth],
                       smtp.section(username=SMTP_USER, password=SMTP_PASSWORD))
    result = run_mailbot(path, "check-config", "--connect")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_for(result.stdout)
    assert lines["imap support"].startswith("  ok") and "INBOX (1 messages)" in lines["imap support"]
    assert lines["imap token"].startswith("  ok")
    assert lines["smtp"].startswith("  ok") and f"signed in as {SMTP_USER}" in lines["smtp"]
    assert lines["database"].startswith("  ok")
    assert smtp.handler.connections == 1 and smtp.handler.received == []
    assert len(list((imap_user.maildir / "new").iterdir())) == 1  # not even marked as read


def test_each_imap_failure_names_the_account_and_what_failed(dovecot, imap_user, smtp, token_endpoint, tmp_path: Path) -> None:
    client_id = token_endpoint.add_client(imap_user.name, secret="s3")
    revoked = token_endpoint.grant_refresh_token(client_id, imap_user.name)
    token_endpoint.revoke(revoked)
    rt = tmp_path / "rt"
    rt.write_text(revoked)
    rt.chmod(0o600)
    accounts = [
        imap_section(dovecot, imap_user, name="good"),
        imap_section(dovecot, imap_user, name="wrongpw", password="not-the-password"),
        imap_section(dovecot, imap_user, name="wrongport", port=free_port()),
        imap_section(dovecot, imap_user, name="nofolder", folders=["INBOX", "Support"]),
        imap_section(dovecot, imap_user, name="badcert", port=dovecot.tls_port, security="tls", ca_file=None),
        imap_section(dovecot, imap_user, name="nodns", host="mailbot-test.invalid"),
        imap_section(dovecot, imap_user, name="revoked", password=None, auth="oauth2", oauth2={
            "token_endpoint": token_endpoint.url, "client_id": client_id, "client_secret": "s3", "refresh_token_file": str(rt)}),
    ]
    path = config_file(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}", accounts, smtp.section(username=SMTP_USER, password=SMTP_PASSWORD))
    result = run_mailbot(path, "check-config", "--connect")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "6 of 9 connection check(s) failed" in result.stderr
    lines = lines_for(result.stdout)
    assert lines["imap good"].startswith("  ok")
    assert "FAILED imap wrongpw" in lines["imap wrongpw"] and ": auth: [AUTHENTICATIONFAILED]" in lines["imap wrongpw"]
    assert ": TCP: " in lines["imap wrongport"]
    assert ": folder missing: Support (the server has: INBOX)" in lines["imap nofolder"]
    assert ": TLS certificate: " in lines["imap badcert"] and "certificate verify failed" in lines["imap badcert"]
    assert ": DNS: " in lines["imap nodns"]
    assert ": auth: " in lines["imap revoked"] and "invalid_grant" in lines["imap revoked"]
    assert "Traceback" not in result.stderr


def test_each_smtp_failure_says_what_failed(dovecot, smtp, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tls = SmtpServer(RecordingHandler(), tls_context=context, authenticator=smtp_password).start()
    try:
        cases = {
            "auth": smtp.section(username=SMTP_USER, password="wrong"),
            "TCP": smtp.section(port=free_port(), username=SMTP_USER, password=SMTP_PASSWORD),
            "TLS certificate": tls.section(security="starttls", allow_plaintext=False, username=SMTP_USER, password=SMTP_PASSWORD),
        }
        for kind, section in cases.items():
            path = config_file(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}", [], section)
            result = run_mailbot(path, "check-config", "--connect")
            assert result.returncode == 2, result.stdout + result.stderr
            line = lines_for(result.stdout)["smtp"]
            assert line.startswith("  FAILED smtp 127.0.0.1:") and f": {kind}: " in line, line
        assert smtp.handler.received == [] and tls.handler.received == []
    finally:
        tls.stop()


def test_a_database_that_cannot_be_reached_fails_the_check(tmp_path: Path, smtp) -> None:
    url = f"postgresql+psycopg://mailbot:db-pw-77@127.0.0.1:{free_port()}/mailbot"
    path = config_file(tmp_path, url, [], smtp.section(username=SMTP_USER, password=SMTP_PASSWORD))
    result = run_mailbot(path, "check-config", "--connect")
    assert result.returncode == 2
    line = lines_for(result.stdout)["database"]
    assert line.startswith("  FAILED database postgresql+psycopg://mailbot:***@127.0.0.1") and "cannot connect:" in line
    assert "db-pw-77" not in result.stdout + result.stderr
