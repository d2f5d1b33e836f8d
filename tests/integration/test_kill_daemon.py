"""SIGKILL the real daemon at random moments while 500 messages (more, until enough kills landed mid-flow) flow from
Dovecot to SMTP: afterwards every message is a ticket message exactly once, and every ticket got exactly one
acknowledgement (a resend after a kill carries the same Message-ID)."""

from __future__ import annotations

import os
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.outbox.sender import ROWS_PER_CLAIM
from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Inbound, Outbox, Ticket, TicketMessage
from tests.conftest import ACK_ALL, imap_section, write_config
from tests.integration.test_daemon import FAST
from tests.support.cli import run_mailbot
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail, sent_now
from tests.support.smtp import SmtpServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

N = 500
WAVE = 100  # more mail when everything was done before enough kills landed mid-flow
SEED = int(os.environ.get("MAILBOT_KILL_SEED", "20261122"))
T = TypeVar("T")


def config(tmp_path: Path, db_url: str, dovecot: Dovecot, user: ImapUser, smtp: SmtpServer) -> Path:
    return write_config(
        tmp_path / "mailbot.toml",
        {
            "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef", "support_address": "support@example.com"},
            "schedule": FAST,
            "rules": {"dir": str(ACK_ALL)},
            # A message whose processing was killed is retried at once; a send cut off is retried after its lease.
            # Small batches: many commits between two kills, so kills land between them at many different points.
            "processing": {"retry_base_seconds": 0, "max_attempts": 50, "batch_size": 10},
            "smtp": smtp.section(timeout_seconds=1, retry_base_seconds=1, max_automatic_per_hour=0),  # 500 acks in minutes
            "imap": [imap_section(dovecot, user, after_fetch="move", batch_size=10)],
            # The mailbox is filled before the daemon first sees it; here that mail is new mail, not history.
            "intake": {"history": False},
        },
    )


def read(db_url: str, query: Callable[[Session], T]) -> T:
    """One read of the database the daemon writes, on an engine of its own."""
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            return query(s)
    finally:
        engine.dispose()


def snapshot(db_url: str) -> dict[str, int]:
    def counts(s: Session) -> dict[str, int]:
        return {
            "inbound": s.scalar(select(func.count()).select_from(Inbound)) or 0,
            "distinct": s.scalar(select(func.count(func.distinct(Inbound.raw_sha256)))) or 0,
            "filed": s.scalar(select(func.count()).select_from(TicketMessage).where(TicketMessage.direction == "in")) or 0,
            "tickets": s.scalar(select(func.count()).select_from(Ticket)) or 0,
            "acks": s.scalar(select(func.count()).select_from(Outbox).where(Outbox.kind == "ack")) or 0,
            "sent": s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "sent")) or 0,
            "pending": s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "received")) or 0,
        }

    return read(db_url, counts)


def started_count(log: Path) -> int:
    return log.read_text(errors="replace").count("event=daemon.started") if log.exists() else 0


def ticket_ids(db_url: str) -> list[int]:
    return read(db_url, lambda s: list(s.scalars(select(Ticket.id).order_by(Ticket.id))))


def acks_by_ticket(smtp: SmtpServer) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for msg in smtp.handler.received:
        m = re.match(r"\[#(\d+)\]", msg.header("Subject"))
        assert m, msg.header("Subject")
        found[int(m.group(1))].add(msg.header("Message-ID"))
    return found


def test_random_sigkills_lose_and_duplicate_nothing(dovecot: Dovecot, imap_user: ImapUser, tmp_path: Path, db_url: str) -> None:
    rng = random.Random(SEED)
    smtp = SmtpServer().start()
    total = 0

    def deliver_wave(count: int) -> None:
        nonlocal total
        for i in range(total, total + count):
            dovecot.deliver(imap_user, sent_now(customer_mail(f"customer{i}@customer.example", f"question {i}", f"body {i}")))
        total += count

    try:
        deliver_wave(N)
        cfg = config(tmp_path, db_url, dovecot, imap_user, smtp)
        log = tmp_path / "daemon.log"
        kills = early = mid_flow = 0
        last_progress, idle_runs = -1, 0
        while True:
            started_before = started_count(log)
            daemon = DaemonProcess(cfg, log).start()
            if rng.random() < 0.2:
                # Now and then during start-up (migrations check, rules load, IMAP log-in): however long start-up
                # takes on this machine, the kill lands somewhere inside it.
                time.sleep(rng.uniform(0.0, 0.5))
                early += 1
            else:
                # Otherwise timed from the moment the daemon says it is running, so a slow machine changes how long
                # start-up takes, not where the kills land.
                wait_until(lambda: started_count(log) > started_before or not daemon.running(), timeout=120, what="the daemon to start")
                assert daemon.running(), daemon.log[-3000:]
                time.sleep(rng.uniform(0.0, 1.0))
            state = snapshot(db_url)
            if state["sent"] >= total and state["pending"] == 0:
                if mid_flow >= 8 and early >= 1:
                    assert daemon.stop() == 0
                    break
                # A fast machine filed everything before enough kills landed in the middle of it: more mail.
                deliver_wave(WAVE)
            daemon.kill()
            kills += 1
            progress = state["filed"] + state["sent"]
            if progress > 0 and (state["pending"] > 0 or state["sent"] < total):
                mid_flow += 1  # progress seen before the kill, work left after it
            idle_runs = idle_runs + 1 if progress == last_progress else 0
            last_progress = progress
            if idle_runs >= 40:
                pytest.fail(f"no progress over 40 runs after {kills} kills: {state}")
    finally:
        smtp.stop()

    state = snapshot(db_url)
    assert mid_flow >= 8, f"only {mid_flow} of {kills} kills landed mid-flow: the test did not exercise crashes"
    assert early >= 1, "no kill landed early in a run"
    assert state["inbound"] == state["distinct"] == total
    assert state["filed"] == total and state["tickets"] == total
    assert state["acks"] == total and state["sent"] == total
    acks = acks_by_ticket(smtp)
    # Every ticket has an acknowledgement. (Numbers may have gaps on PostgreSQL: a sequence value taken by a
    # transaction that a kill rolled back is not reused, as in any database-numbered ticket system.)
    assert sorted(acks) == ticket_ids(db_url)
    assert all(len(ids) == 1 for ids in acks.values()), "a ticket got two different acknowledgements"
    resent = len(smtp.handler.received) - total
    print(f"\n{total} messages, {kills} SIGKILLs ({mid_flow} mid-flow, {early} within half a second of the start); {resent} acknowledgement(s) resent with their original Message-ID")


def test_kill_after_smtp_accepted_resends_with_the_same_message_id(dovecot: Dovecot, imap_user: ImapUser, tmp_path: Path, db_url: str) -> None:
    smtp = SmtpServer().start()
    try:
        for i in range(5):
            dovecot.deliver(imap_user, sent_now(customer_mail(f"c{i}@customer.example", f"q{i}")))
        cfg = config(tmp_path, db_url, dovecot, imap_user, smtp)
        killed = run_mailbot(cfg, "run", "--once", env={"MAILBOT_CRASH_AT": "outbox.after_send:2"})
        assert killed.returncode == -9
        before = {m.header("Message-ID") for m in smtp.handler.received}
        assert len(before) >= 2
        # Later than the lease: the claims of the batches cut off have run out.
        later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
        done = run_mailbot(cfg, "--now", later, "run", "--once")
        assert done.returncode == 0, done.stderr
    finally:
        smtp.stop()
    copies: dict[str, list[bytes]] = defaultdict(list)
    for m in smtp.handler.received:
        copies[m.header("Message-ID")].append(m.data)
    assert len(copies) == 5 and snapshot(db_url)["sent"] == 5
    resent = {mid for mid, data in copies.items() if len(data) > 1}
    # Only mail accepted before the kill and not yet marked sent goes again: at most the last batch of each
    # connection ([smtp] connections = 2, ROWS_PER_CLAIM rows each), once, with the very same bytes.
    assert resent and resent <= before and len(resent) <= 2 * ROWS_PER_CLAIM
    assert all(len(data) == 2 and data[0] == data[1] for mid, data in copies.items() if mid in resent)
