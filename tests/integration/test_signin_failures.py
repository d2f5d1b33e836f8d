"""A refused password is a configuration error: logged at error level naming the account, and `run --once` /
`poll --once` exit non-zero while the other sources are still read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import ACK_ALL, imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.flow import customer_mail, sent_now
from tests.support.maildir import deliver_to_maildir
from tests.support.smtp import RecordingHandler, SmtpServer

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


def refuse_all(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(RecordingHandler(), authenticator=refuse_all, auth_require_tls=False).start()
    yield server
    server.stop()


def error_line(stderr: str, event: str) -> str:
    return next(line for line in stderr.splitlines() if f"event={event}" in line)


def test_wrong_imap_and_smtp_passwords_are_errors_naming_the_account(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    dovecot.deliver(imap_user, customer_mail("a@customer.example", "never fetched"))
    maildir = tmp_path / "Maildir"
    cfg = write_config(tmp_path / "mailbot.toml", {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
                    "support_address": "support@example.com"},
        "rules": {"dir": str(ACK_ALL)},
        "smtp": smtp.section(username="mailer", password="wrong-smtp-pw"),
        "imap": [imap_section(dovecot, imap_user, name="support", password="wrong-imap-pw")],
        "maildir": [{"name": "local", "path": str(maildir)}],
    })
    # The Maildir is seen once while empty (the IMAP account is refused: exit 1), so what comes next is new mail.
    assert run_mailbot(cfg, "poll", "--history-only").returncode == 1
    deliver_to_maildir(maildir, sent_now(customer_mail("b@customer.example", "still filed")), "1.h")
    result = run_mailbot(cfg, "run", "--once")
    assert result.returncode == 1, result.stderr
    imap = error_line(result.stderr, "imap.signin_failed")
    assert " level=error " in imap and "source=support" in imap and f"username={imap_user.name}" in imap
    assert "[AUTHENTICATIONFAILED]" in imap
    smtp_line = error_line(result.stderr, "smtp.signin_failed")
    assert " level=error " in smtp_line and "username=mailer" in smtp_line and "535" in smtp_line
    assert "check [smtp] username/password" in smtp_line
    assert "wrong-imap-pw" not in result.stderr and "wrong-smtp-pw" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((maildir / "new").iterdir())  # the Maildir source was read and its message filed
    assert smtp.handler.received == []

    poll = run_mailbot(cfg, "poll", "--once")
    assert poll.returncode == 1
    assert "mailbot: could not read source support: LoginError: [AUTHENTICATIONFAILED] Authentication failed." in poll.stderr
