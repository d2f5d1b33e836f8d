"""The real daemon process end to end: Dovecot in, SMTP out, SIGTERM, SIGHUP, run --once."""

from __future__ import annotations

import re
import signal
import ssl
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Inbound, Outbox, Ticket, TicketMessage
from mailbot.time_source import SystemClock
from tests.conftest import ACK_ALL, data, imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail, deliver, sent_now
from tests.support.smtp import SmtpServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

FAST = {"poll_seconds": 0.3, "process_seconds": 0.3, "outbox_seconds": 0.3, "sweep_seconds": 1}



def daemon_config(tmp_path: Path, db_url: str, dovecot: Dovecot, user: ImapUser, smtp: SmtpServer, **sections: Any) -> Path:
    body: dict[str, Any] = {
        "mailbot": {
            "state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
            "support_address": "support@example.com", "support_name": "Example Support",
        },
        "schedule": FAST,
        "rules": {"dir": str(ACK_ALL)},
        "smtp": smtp.section(),
        "imap": [imap_section(dovecot, user, after_fetch="move")],
    }
    body.update(sections)
    return write_config(tmp_path / "mailbot.toml", body)


def append(dovecot: Dovecot, user: ImapUser, raw: bytes) -> None:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as c:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        c.login(user.name, user.password)
        c.append("INBOX", sent_now(raw))


def count(db_url: str, model: Any, *where: Any) -> int:
    engine = make_engine(db_url)
    with unit_of_work(session_factory(engine)) as s:
        n = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    engine.dispose()
    return n


def test_mail_in_acknowledgement_out_reply_threads_sigterm_exits(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp)
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        # Mail that was there before the daemon first looked at the folder would be history.
        daemon.wait_for_log("event=intake.first_seen")
        append(dovecot, imap_user, data("plain.eml"))
        [ack] = smtp.handler.wait_for(1)
        assert ack.rcpt_tos == ["alice@customer.example"]
        assert ack.header("Subject") == "[#1] Checkout page shows a blank screen"
        assert ack.header("In-Reply-To") == "<plain-1@customer.example>"
        assert ack.header("Auto-Submitted") == "auto-replied"
        assert ack.header("From") == "Example Support <support@example.com>"
        assert ack.header("Reply-To").startswith("Example Support <support+t1-")
        assert "Your message is ticket #1" in ack.text

        # The customer answers the acknowledgement from a client that keeps only In-Reply-To.
        reply = customer_mail(
            "Alice Customer <alice@customer.example>", "Re: Checkout page shows a blank screen", "Found the log",
            extra=f"In-Reply-To: {ack.header('Message-ID')}\r\n",
        )
        append(dovecot, imap_user, reply)
        wait_until(lambda: count(db_url, TicketMessage, TicketMessage.direction == "in") >= 2, what="the follow-up to be filed")
        assert count(db_url, Ticket) == 1
        assert count(db_url, TicketMessage, TicketMessage.direction == "in", TicketMessage.ticket_id == 1) == 2
        # Filing and its outgoing mail commit together: no second outbox row means no second mail, ever.
        assert count(db_url, Outbox) == 1
        assert len(smtp.handler.received) == 1  # a follow-up gets no acknowledgement

        assert daemon.stop(timeout=30) == 0
    finally:
        if daemon.running():
            daemon.kill()
    log = daemon.log
    assert "event=daemon.stopping signal=SIGTERM" in log and "event=daemon.stopped" in log
    assert "Traceback" not in log
    # One key=value line per event, each with its time, and a healthy run says nothing above info.
    lines = [line for line in log.splitlines() if line.strip()]
    assert all(re.match(r"time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 level=(debug|info) event=", line) for line in lines), log


def test_sighup_reloads_valid_rules_and_keeps_old_ones_otherwise(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10.toml").write_text('[[rule]]\nname = "ack"\nwhen = { new_ticket = true }\nthen = { template = "ack" }\n')
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, rules={"dir": str(rules)})
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for_log("event=intake.first_seen")
        (rules / "10.toml").write_text('[[rule]]\nname = "broken"\nwhen = { subject_matches = "(" }\nthen = { template = "ack" }\n')
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("event=rules.reload_failed")
        assert "bad regular expression" in daemon.log
        append(dovecot, imap_user, customer_mail("a@customer.example", "still acknowledged"))
        smtp.handler.wait_for(1)  # the old rules are still in force

        (rules / "10.toml").write_text('[[rule]]\nname = "quiet"\nthen = { no_reply = true }\n')
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("event=rules.reloaded")
        append(dovecot, imap_user, customer_mail("b@customer.example", "not acknowledged"))
        wait_until(lambda: count(db_url, Ticket) >= 2, what="the second ticket")
        assert count(db_url, Ticket) == 2 and count(db_url, Outbox) == 1 and len(smtp.handler.received) == 1
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()


def test_bad_rules_stop_start_up_with_file_rule_and_key(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "20-route.toml").write_text('[[rule]]\nname = "billing"\nwhen = { subjet_contains = "invoice" }\nthen = { template = "nope" }\n')
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, rules={"dir": str(rules)})
    for args in (("run", "--once"), ("rules", "check")):
        result = run_mailbot(cfg, *args)
        assert result.returncode == 2
        assert f"{rules / '20-route.toml'}: rule[0] 'billing' when.subjet_contains: unknown condition" in result.stderr
        assert "then.template: unknown template 'nope'" in result.stderr


def test_run_once_does_each_job_and_exits(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp)
    # Connected to the (empty) mailbox first: the mail that arrives after that is new mail, not history.
    assert run_mailbot(cfg, "poll", "--history-only").returncode == 0
    dovecot.deliver(imap_user, sent_now(data("plain.eml")))
    dovecot.deliver(imap_user, sent_now(customer_mail("auto@customer.example", "Out of office", extra="Auto-Submitted: auto-replied\r\n")))
    result = run_mailbot(cfg, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(smtp.handler.received) == 1
    assert count(db_url, Outbox, Outbox.status == "sent") == 1
    assert "event=reply.skipped" in result.stderr


def test_idle_fetches_new_mail_at_once_not_at_the_next_poll(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    slow_polls = {**FAST, "poll_seconds": 600}  # the next poll is ten minutes away: only IDLE can be this fast
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, schedule=slow_polls)
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for_log("event=imap.idle")
        daemon.wait_for_log("event=intake.first_seen")
        appended = time.monotonic()
        append(dovecot, imap_user, data("plain.eml"))
        smtp.handler.wait_for(1, timeout=15)
        assert time.monotonic() - appended < 10
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()


def test_answers_go_out_while_a_burst_is_still_being_filed(dovecot, imap_user, smtp, tmp_path: Path, db_url: str) -> None:
    # The sender's own schedule is ten minutes away: only filing's wake-ups can send anything before then.
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, schedule={**FAST, "outbox_seconds": 600})
    cfg.write_text(cfg.read_text().replace("[smtp]\n", "[smtp]\nmax_automatic_per_hour = 0\n", 1))
    burst = 600
    engine = make_engine(db_url)
    deliver(session_factory(engine), SystemClock(), *[
        sent_now(customer_mail(f"Customer {n} <c{n}@customer.example>", f"Question {n}")) for n in range(burst)
    ])
    first_sent: list[datetime] = []
    smtp.handler.on_message = lambda item: first_sent.append(datetime.now(timezone.utc)) if not first_sent else None
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        smtp.handler.wait_for(burst, timeout=300)
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()
    with unit_of_work(session_factory(engine)) as s:
        last_filed = s.scalar(select(func.max(Inbound.processed_at)))
        assert s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "filed")) == burst
    engine.dispose()
    assert last_filed is not None
    if last_filed.tzinfo is None:
        last_filed = last_filed.replace(tzinfo=timezone.utc)
    # The first answer was accepted before the last message of the burst was filed.
    assert first_sent[0] < last_filed, (first_sent[0], last_filed)
