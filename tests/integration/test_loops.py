"""Mail loops end: mailbot against a naive auto-responder, and two mailbots answering each other,
on real daemons with real Dovecot mailboxes and one real SMTP server that routes between them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from mailbot.store.models import Outbox, Ticket
from tests.conftest import ACK_ALL, imap_section, write_config
from tests.integration.test_daemon import FAST, count
from tests.support.cli import run_mailbot
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.smtp import Received, SmtpServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


def settle(measure: Callable[[], int], at_least: int = 1, quiet: float = 3.0, timeout: float = 120.0) -> int:
    """Wait until `measure()` has reached `at_least` (the daemon got going, however slow the machine) and then
    stops changing for `quiet` seconds; return its value."""
    deadline = time.monotonic() + timeout
    wait_until(lambda: measure() >= at_least, timeout=timeout, what=f"at least {at_least}")
    # Then a quiet window: a loop that is stopped produces nothing new for `quiet` seconds.
    last, since = measure(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = measure()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError(f"still changing after {timeout}s (last value {last})")


def desk(tmp_path: Path, name: str, db_url: str, address: str, dovecot: Dovecot, user: ImapUser, smtp: SmtpServer, cap: int) -> Path:
    return write_config(
        tmp_path / f"{name}.toml",
        {
            "mailbot": {
                "state_dir": str(tmp_path / name), "database_url": db_url, "secret": f"secret-of-{name}-0123456789",
                "support_address": address,
            },
            "schedule": FAST,
            "rules": {"dir": str(ACK_ALL)},
            "replies": {"max_auto_replies_per_day": cap},
            "smtp": smtp.section(),
            "imap": [imap_section(dovecot, user, after_fetch="move")],
        },
    )


def connect(cfg: Path) -> None:
    """Let the desk see its (empty) mailbox first: what arrives afterwards is new mail, not history."""
    result = run_mailbot(cfg, "poll", "--history-only")
    assert result.returncode == 0, result.stderr


def plain(sender: str, to: str, subject: str, body: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@loop.example>\r\n"
        f"Date: {format_datetime(datetime.now(timezone.utc))}\r\n\r\n{body}\r\n"  # the daemons run on the system clock
    ).encode()


@pytest.fixture
def router() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_naive_auto_responder_is_stopped_by_the_daily_cap(dovecot: Dovecot, router: SmtpServer, tmp_path: Path, db_url: str) -> None:
    support = dovecot.add_user()
    cap = 4

    def responder(msg: Received) -> None:
        # The worst kind: no Auto-Submitted, no threading headers, a fresh subject every time.
        if "bot@responder.example" in msg.rcpt_tos:
            dovecot.deliver(support, plain("bot@responder.example", "support@example.com", f"Thanks! ref {uuid.uuid4().hex[:6]}", "We got your mail."))

    router.handler.on_message = responder
    cfg = desk(tmp_path, "desk", db_url, "support@example.com", dovecot, support, router, cap)
    connect(cfg)
    dovecot.deliver(support, plain("bot@responder.example", "support@example.com", "hello", "Are you there?"))
    daemon = DaemonProcess(cfg, tmp_path / "desk.log").start()
    try:
        sent = settle(lambda: len(router.handler.received))
        assert sent == cap
        assert count(db_url, Ticket) == cap + 1  # every message is still filed
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()
    assert f"already got {cap} automatic replies in the last 24 hours" in daemon.log


def test_two_mailbots_stop_after_one_acknowledgement(dovecot: Dovecot, router: SmtpServer, tmp_path: Path) -> None:
    user_a, user_b = dovecot.add_user(), dovecot.add_user()
    routes = {"support@desk-a.example": user_a, "help@desk-b.example": user_b}

    def route(msg: Received) -> None:
        for rcpt in msg.rcpt_tos:
            if rcpt in routes:
                dovecot.deliver(routes[rcpt], msg.data)

    router.handler.on_message = route
    db_a, db_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    cfg_a = desk(tmp_path, "a", db_a, "support@desk-a.example", dovecot, user_a, router, 10)
    cfg_b = desk(tmp_path, "b", db_b, "help@desk-b.example", dovecot, user_b, router, 10)
    connect(cfg_a)
    connect(cfg_b)
    # Desk B's address writes to desk A (a misconfigured forward, a customer's helpdesk, ...).
    dovecot.deliver(user_a, plain("help@desk-b.example", "support@desk-a.example", "Order 17", "Where is my order?"))
    a = DaemonProcess(cfg_a, tmp_path / "a.log").start()
    b = DaemonProcess(cfg_b, tmp_path / "b.log").start()
    try:
        sent = settle(lambda: len(router.handler.received))
        assert sent == 1  # A acknowledges; B files A's auto-reply and does not answer it
        assert count(db_a, Ticket) == 1 and count(db_b, Ticket) == 1
        assert count(db_a, Outbox) == 1 and count(db_b, Outbox) == 0
        assert a.stop() == 0 and b.stop() == 0
    finally:
        for d in (a, b):
            if d.running():
                d.kill()
    assert "automatic mail is never answered: Auto-Submitted: auto-replied" in b.log
