"""What reaches the operator and the disk: passwords hidden, mail's control characters escaped, files kept from
other users, and check-config --connect warning about an unsafe border server."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail, sent_now
from tests.support.maildir import deliver_to_maildir

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)

SECRET_PW = "S3cretPW-do-not-show"
# A subject that retitles the terminal and clears the screen, and a body with colours, a right-to-left override
# and a carriage return that would hide the line before it.
HOSTILE_SUBJECT = "Invoice \x1b]0;pwned\x07\x1b[2J all good"
HOSTILE_BODY = "Look: \x1b[31mred\x1b[0m and \u202eevil\u202c text\r\x1b[1Ahidden"


def config(tmp_path: Path, db_url: str, **extra: object) -> Path:
    return write_config(tmp_path / "m.toml", {
        "mailbot": {"state_dir": str(tmp_path / "s"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"},
        "maildir": [{"name": "local", "path": str(tmp_path / "Maildir")}],
        **extra,
    })


def hostile_mail() -> bytes:
    raw = customer_mail("alice@customer.example", "SUBJECT", "BODY")
    return raw.replace(b"SUBJECT", HOSTILE_SUBJECT.encode()).replace(b"BODY", HOSTILE_BODY.encode())


def test_control_characters_from_mail_are_shown_escaped(tmp_path: Path, db_url: str) -> None:
    cfg = config(tmp_path, db_url)
    assert run_mailbot(cfg, "poll", "--history-only").returncode == 0  # connected first: the next mail is answered
    deliver_to_maildir(tmp_path / "Maildir", sent_now(hostile_mail()), "1.h")
    assert run_mailbot(cfg, "poll", "--once").returncode == 0
    for args in (("tickets", "list"), ("tickets", "show", "1"), ("tickets", "show", "1", "--full"),
                 ("quarantine", "show", "1", "--raw"), ("outbox", "list"), ("outbox", "show", "1")):
        shown = run_mailbot(cfg, *args)
        assert shown.returncode == 0, (args, shown.stderr)
        out = shown.stdout + shown.stderr
        assert not any(c in out for c in "\x1b\x07\r\u202e"), (args, out)
        if args[0] in ("tickets", "quarantine"):
            assert "\\x1b]0;pwned\\x07" in out, (args, out)
    shown = run_mailbot(cfg, "tickets", "show", "1").stdout
    assert "Invoice \\x1b]0;pwned\\x07\\x1b[2J all good" in shown
    assert "\\x1b[31mred\\x1b[0m and \\u202eevil\\u202c text" in shown and "\\x1b[1Ahidden" in shown


def test_database_passwords_never_shown(tmp_path: Path, pg_database: str) -> None:
    # The local PostgreSQL trusts every connection, so a password in the URL is accepted and ignored.
    with_password = pg_database.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{SECRET_PW}@")
    in_query = pg_database + f"?password={SECRET_PW}"
    extra = {"customers": {"sql_url": with_password, "sql_query": "SELECT 1 AS customer WHERE false"}, "logging": {"level": "debug"}}
    for url in (with_password, in_query):
        cfg = config(tmp_path, url, **extra)
        deliver_to_maildir(tmp_path / "Maildir", customer_mail("alice@customer.example", "hello"), f"{len(url)}.h")
        for args in (("check-config",), ("check-config", "--connect"), ("poll", "--once"), ("run", "--once"), ("customers", "sync")):
            result = run_mailbot(cfg, *args)
            out = result.stdout + result.stderr
            assert result.returncode == 0, (args, out)
            assert SECRET_PW not in out, (args, out)
        assert "***" in run_mailbot(cfg, "check-config").stdout
    # Unreachable, and a URL that does not parse: the same, and one clear line instead of a traceback.
    for url, message in (
        (f"postgresql+psycopg://bob:{SECRET_PW}@127.0.0.1:1/x", "mailbot: database postgresql+psycopg://bob:***@127.0.0.1:1/x: "),
        (f"postgresql+psycopg://bob:{SECRET_PW}@127.0.0.1:1:/x", "mailbot.database_url: Value error, 'postgresql+psycopg://bob:***@"),
    ):
        result = run_mailbot(config(tmp_path, url), "tickets", "list")
        assert result.returncode != 0 and SECRET_PW not in result.stdout + result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_files_are_not_readable_by_others_whatever_the_umask(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 's' / 'mailbot.db'}")
    before = os.umask(0)  # a careless shell: the child inherits it
    try:
        # Connected while the Maildir is empty, so the message after it is answered (and the answer written).
        assert run_mailbot(cfg, "poll", "--history-only").returncode == 0
        deliver_to_maildir(tmp_path / "Maildir", sent_now(customer_mail("alice@customer.example", "hello")), "1.h")
        result = run_mailbot(cfg, "run", "--once")
    finally:
        os.umask(before)
    assert result.returncode == 0, result.stderr
    written = [p for p in (tmp_path / "s").rglob("*") if p.is_file()]
    assert any(p.name == "mailbot.db" for p in written) and any("outgoing" in p.parts for p in written)
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path} is {oct(mode)}"


@pytest.fixture
def agents_inbox(dovecot: Dovecot, imap_user: ImapUser) -> Iterator[ImapUser]:
    yield imap_user


AGENTS = {"agents": {"authserv_id": "mx.vendor.example"}, "agent": [{"address": "bob@vendor.example", "name": "Bob"}]}


def _check(tmp_path: Path, dovecot: Dovecot, user: ImapUser) -> str:
    cfg = write_config(tmp_path / "c.toml", {
        "mailbot": {"state_dir": str(tmp_path / "s"), "secret": "test-secret-0123456789abcdef"},
        "imap": [imap_section(dovecot, user)], **AGENTS,
    })
    result = run_mailbot(cfg, "check-config", "--connect")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.dovecot
def test_connect_warns_when_the_border_server_lets_our_header_in(dovecot: Dovecot, agents_inbox: ImapUser, tmp_path: Path) -> None:
    good = "Authentication-Results: mx.vendor.example; dkim=pass header.d=customer.example\r\n"
    forged = "Authentication-Results: mx.vendor.example; dkim=pass header.d=vendor.example\r\n"
    dovecot.deliver(agents_inbox, customer_mail("a@customer.example", "one", extra=good))
    assert "WARN" not in _check(tmp_path, dovecot, agents_inbox)
    dovecot.deliver(agents_inbox, customer_mail("a@customer.example", "two", extra=good + forged))
    out = _check(tmp_path, dovecot, agents_inbox)
    assert "WARN   border server" in out and "1 of the newest 2 messages carry more than one" in out


@pytest.mark.dovecot
def test_connect_warns_when_no_mail_carries_our_header(dovecot: Dovecot, agents_inbox: ImapUser, tmp_path: Path) -> None:
    other = "Authentication-Results: mx.elsewhere.example; dkim=pass header.d=customer.example\r\n"
    dovecot.deliver(agents_inbox, customer_mail("a@customer.example", "one", extra=other))
    out = _check(tmp_path, dovecot, agents_inbox)
    assert "none of the newest 1 messages has an Authentication-Results header from 'mx.vendor.example'" in out
    assert "(they have: mx.elsewhere.example)" in out


def test_check_config_warns_when_agent_proof_is_off(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", {
        "mailbot": {"state_dir": str(tmp_path / "s"), "secret": "test-secret-0123456789abcdef"},
        "agents": {"require_authentication": False}, "agent": [{"address": "bob@vendor.example", "name": "Bob"}],
    })
    result = run_mailbot(cfg, "check-config")
    assert result.returncode == 0 and "warning: agents.require_authentication is false" in result.stdout
