"""The whole desk end to end on the real daemon, real Dovecot and a real SMTP server: entitlement and
deadline, warnings as the clock moves, an agent answering from a mail client, commands, a forgery."""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from tests.conftest import imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.smtp import Received, SmtpServer

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[1] / "data"
AGENT = "bob@vendor.example"
AUTH = "Authentication-Results: mx.test; dkim=pass header.d=vendor.example header.s=s1"



def config(tmp_path: Path, db_url: str, dovecot: Dovecot, user: ImapUser, smtp: SmtpServer) -> Path:
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "customer,email,product,plan,paid\n"
        "C1,alice@customer.example,Shop,standard,2026-03-01\n"
        "C2,old@customer.example,Shop,standard,2026-01-01\n"
    )
    body: dict[str, Any] = {
        "mailbot": {
            "state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
            "support_address": "support@example.com", "support_name": "Example Support", "timezone": "Europe/Berlin",
        },
        "rules": {"dir": str(DATA / "rules" / "sla")},
        "smtp": smtp.section(),
        "imap": [imap_section(dovecot, user, after_fetch="move")],
        "agents": {"authserv_id": "mx.test"},
        "agent": [{"address": AGENT, "name": "Bob", "queues": ["support"]}],
    }
    cfg = write_config(tmp_path / "mailbot.toml", body)
    imported = run_mailbot(cfg, "customers", "import", str(csv))
    assert imported.returncode == 0, imported.stderr
    # Connect to the mailbox while it is empty: the mail the tests append afterwards is new mail, not history.
    connected = run_mailbot(cfg, "poll", "--history-only")
    assert connected.returncode == 0, connected.stderr
    return cfg


def append(dovecot: Dovecot, user: ImapUser, raw: bytes) -> None:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as c:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        c.login(user.name, user.password)
        c.append("INBOX", raw)


def once(cfg: Path, now: str) -> None:
    result = run_mailbot(cfg, "--now", now, "run", "--once")
    assert result.returncode == 0, result.stderr


def new_mail(smtp: SmtpServer, seen: int) -> list[Received]:
    return smtp.handler.received[seen:]


def customer(sender: str, subject: str, body: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@customer.example>\r\n"
        f"Date: Fri, 06 Mar 2026 17:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def agent_reply(notification: Received, body: str, auth: str = AUTH) -> bytes:
    reply_to = notification.message["Reply-To"].addresses[0].addr_spec
    return (
        f"{auth}\r\nFrom: Bob <{AGENT}>\r\nTo: {reply_to}\r\nSubject: Re: {notification.header('Subject')}\r\n"
        f"In-Reply-To: {notification.header('Message-ID')}\r\nMessage-ID: <{uuid.uuid4().hex}@vendor.example>\r\n"
        f"Date: Mon, 09 Mar 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\r\n"
        f"On Mon, Mar 9, 2026 at 9:00 AM Example Support <support@example.com> wrote:\r\n> earlier text\r\n"
    ).encode()


def test_deadline_warnings_and_breach_each_once(dovecot: Dovecot, imap_user: ImapUser, smtp: SmtpServer, tmp_path: Path, db_url: str) -> None:
    cfg = config(tmp_path, db_url, dovecot, imap_user, smtp)
    append(dovecot, imap_user, customer("Alice <alice@customer.example>", "Cart broken", "The cart is broken since the update."))
    append(dovecot, imap_user, customer("old@customer.example", "Also broken", "Our cart is broken too, please help us."))
    once(cfg, "2026-03-06 17:00")  # Friday 17:00
    first = new_mail(smtp, 0)
    ack = next(m for m in first if m.rcpt_tos == ["alice@customer.example"])
    assert "You will have our answer by Wednesday 11 March, 17:00 CET." in ack.text
    renewal = next(m for m in first if m.rcpt_tos == ["old@customer.example"])
    assert "The last day of your support period for Shop was 30 January 2026" in renewal.text and "answer by" not in renewal.text
    assert sorted(m.rcpt_tos[0] for m in first) == sorted([AGENT, AGENT, "alice@customer.example", "old@customer.example"])

    seen = len(smtp.handler.received)
    expected = {
        "2026-03-10 13:00": "[#1] Response due in 12 h: Cart broken",
        "2026-03-11 11:00": "[#1] Response due in 6 h: Cart broken",
        "2026-03-11 14:36": "[#1] Response due in 2 h 24 min: Cart broken",
        "2026-03-11 17:00": "[#1] Response deadline missed: Cart broken",
    }
    for at, subject in expected.items():
        once(cfg, at)
        once(cfg, at)  # a second sweep at the same moment fires nothing more
        got = new_mail(smtp, seen)
        assert [m.header("Subject") for m in got] == [subject], at
        assert all(m.rcpt_tos for m in got)
        seen = len(smtp.handler.received)
    once(cfg, "2026-03-20 09:00")
    assert new_mail(smtp, seen) == []  # nothing more, and never anything for the expired customer


def test_agent_answers_from_a_mail_client(dovecot: Dovecot, imap_user: ImapUser, smtp: SmtpServer, tmp_path: Path, db_url: str) -> None:
    cfg = config(tmp_path, db_url, dovecot, imap_user, smtp)
    append(dovecot, imap_user, customer("Alice <alice@customer.example>", "Cart broken", "The cart is broken since the update."))
    once(cfg, "2026-03-09 08:59")  # before opening: the clock starts at 09:00 sharp
    ack = next(m for m in smtp.handler.received if m.rcpt_tos == ["alice@customer.example"])
    [note] = [m for m in smtp.handler.received if m.rcpt_tos == [AGENT]]
    assert "The cart is broken since the update." in note.text and "Answer due: Wednesday 11 March, 17:00 CET" in note.text

    # A forged agent reply (no authentication from our border server) does nothing, is not relayed.
    seen = len(smtp.handler.received)
    append(dovecot, imap_user, agent_reply(note, "#close\nClosing this.", auth="X-Spam: maybe"))
    once(cfg, "2026-03-09 09:30")
    assert all(m.rcpt_tos != ["alice@customer.example"] for m in new_mail(smtp, seen))

    # The real agent answers before the deadline: the customer gets it, threaded, from the support address.
    seen = len(smtp.handler.received)
    append(dovecot, imap_user, agent_reply(note, "Hi Alice,\n\nplease update to 4.2.1.\n\n- clear the cache\n- reload"))
    once(cfg, "2026-03-09 10:00")
    [relay] = [m for m in new_mail(smtp, seen) if m.rcpt_tos == ["alice@customer.example"]]
    assert relay.text.replace("\r\n", "\n").strip() == "Hi Alice,\n\nplease update to 4.2.1.\n\n- clear the cache\n- reload"
    assert relay.header("From") == "Example Support <support@example.com>" and AGENT not in relay.data.decode()
    assert relay.header("In-Reply-To") == ack.header("Message-ID") and relay.header("Subject") == "[#1] Cart broken"

    # No warning or breach ever comes: the answer stopped the clock.
    seen = len(smtp.handler.received)
    for at in ("2026-03-10 13:00", "2026-03-11 17:00", "2026-03-16 09:00"):
        once(cfg, at)
    assert new_mail(smtp, seen) == []

    # The customer's reply to the relayed answer threads onto the ticket; a command closes it.
    reply = customer("Alice <alice@customer.example>", "Re: [#1] Cart broken", "Works now, thanks!").replace(
        b"Message-ID:", f"In-Reply-To: {relay.header('Message-ID')}\r\nMessage-ID:".encode()
    )
    append(dovecot, imap_user, reply)
    once(cfg, "2026-03-16 10:00")
    follow_up = next(m for m in new_mail(smtp, seen) if m.rcpt_tos == [AGENT])
    assert "Follow-up on ticket #1" in follow_up.text and "Works now, thanks!" in follow_up.text
    seen = len(smtp.handler.received)
    append(dovecot, imap_user, agent_reply(follow_up, "#close"))
    once(cfg, "2026-03-16 10:30")
    [closing] = new_mail(smtp, seen)
    assert closing.rcpt_tos == ["alice@customer.example"] and "we have closed ticket #1" in closing.text
    shown = run_mailbot(cfg, "tickets", "show", "1")
    assert "status closed" in shown.stdout
