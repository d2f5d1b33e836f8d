"""Several `mailbot run` workers on one PostgreSQL database, killed at random while mail flows from Dovecot to SMTP,
with a Dovecot restart and an SMTP outage on the way: shared by the chaos test and bench/chaos.py."""

from __future__ import annotations

import random
import socket
import ssl
import re
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import func, select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Inbound, Outbox, SourceLease, Ticket, TicketMessage
from tests.conftest import ACK_ALL, imap_section, write_config
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.smtp import SmtpServer
from tests.support.waiting import wait_until

LEASE_SECONDS = 6.0
SCHEDULE = {"poll_seconds": 1, "process_seconds": 0.5, "outbox_seconds": 0.5, "sweep_seconds": 30}


@dataclass
class ChaosReport:
    delivered: int = 0
    new_tickets: int = 0
    replies: int = 0
    kills: int = 0
    kills_in_flight: int = 0
    take_overs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    state: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        worst = max(self.take_overs, default=0.0)
        return (
            f"{self.delivered} messages ({self.new_tickets} new, {self.replies} replies through the signed reply address) "
            f"in {self.seconds:.0f} s = {self.delivered / max(self.seconds, 1e-9):.1f} msg/s; {self.kills} SIGKILLs "
            f"({self.kills_in_flight} with work in flight); {len(self.take_overs)} take-overs, worst {worst:.1f} s "
            f"(lease {LEASE_SECONDS:.0f} s)"
        )


def counts(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            return {
                "inbound": s.scalar(select(func.count()).select_from(Inbound)) or 0,
                "distinct": s.scalar(select(func.count(func.distinct(Inbound.raw_sha256)))) or 0,
                "received": s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "received")) or 0,
                "filed": s.scalar(select(func.count()).select_from(TicketMessage).where(TicketMessage.direction == "in")) or 0,
                "tickets": s.scalar(select(func.count()).select_from(Ticket)) or 0,
                "acks": s.scalar(select(func.count()).select_from(Outbox).where(Outbox.kind == "ack")) or 0,
                "unsent": s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent")) or 0,
            }
    finally:
        engine.dispose()


def lease_owner(db_url: str) -> str | None:
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            return s.scalar(select(SourceLease.owner))
    finally:
        engine.dispose()


def worker_id(name: str, proc: DaemonProcess) -> str:
    """The identity a worker daemon of this host holds leases under: "<[workers] name>@<host>:<pid>"."""
    assert proc.proc is not None
    return f"{name}@{socket.gethostname()}:{proc.proc.pid}"


def tickets_of(db_url: str) -> dict[str, int]:
    """Message-ID (without brackets) → ticket, for every filed customer message."""
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            rows = s.execute(select(TicketMessage.message_id, TicketMessage.ticket_id).where(TicketMessage.direction == "in"))
            return {mid.strip("<>"): tid for mid, tid in rows}
    finally:
        engine.dispose()


def new_mail(i: int) -> tuple[bytes, str]:
    mid = f"new-{i}-{uuid.uuid4().hex[:8]}@customer.example"
    raw = (
        f"From: customer{i}@customer.example\r\nTo: support@example.com\r\nSubject: question {i}\r\n"
        f"Message-ID: <{mid}>\r\nDate: {formatdate()}\r\nContent-Type: text/plain\r\n\r\nbody {i}\r\n"
    ).encode()
    return raw, mid


def reply_to(ack: Any, n: int) -> tuple[bytes, str, int]:
    """A customer's answer to an acknowledgement: to its signed Reply-To, with References. Returns raw, id, ticket."""
    ticket = int(re.match(r"\[#(\d+)\]", ack.header("Subject")).group(1))  # type: ignore[union-attr]
    mid = f"reply-{n}-{uuid.uuid4().hex[:8]}@customer.example"
    raw = (
        f"From: {ack.header('To')}\r\nTo: {ack.header('Reply-To')}\r\nSubject: Re: {ack.header('Subject')}\r\n"
        f"Message-ID: <{mid}>\r\nIn-Reply-To: {ack.header('Message-ID')}\r\nReferences: {ack.header('Message-ID')}\r\n"
        f"Date: {formatdate()}\r\nContent-Type: text/plain\r\n\r\nmore detail {n}\r\n"
    ).encode()
    return raw, mid, ticket


def inbox_size(dovecot: Dovecot, user: ImapUser) -> int:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
        client.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        client.login(user.name, user.password)
        return int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])


def in_flight(state: dict[str, int], delivered: int) -> bool:
    """Mail delivered and not yet stored, stored and not yet filed, or an answer not yet sent."""
    return state["received"] > 0 or state["unsent"] > 0 or state["inbound"] < delivered


def run_chaos(
    tmp_path: Path, db_url: str, new: int, min_kills: int, seed: int, smtp_outage: float, workers: int = 3,
    reply_share: float = 0.3, timeout: float = 1500,
) -> ChaosReport:
    rng = random.Random(seed)
    report = ChaosReport()
    dovecot = Dovecot().start()
    user = dovecot.add_user()
    smtp = SmtpServer().start()
    port = smtp.port
    names = [f"w{i + 1}" for i in range(workers)]
    procs: dict[str, DaemonProcess] = {}
    seen_before: dict[str, int] = {}  # "daemon.started" lines in each worker's log before its latest start
    expected: dict[str, int] = {}  # reply Message-ID → the ticket it must land on
    new_ids: list[str] = []
    replied: set[str] = set()

    def start(name: str) -> None:
        cfg = write_config(tmp_path / f"{name}.toml", {
            "mailbot": {"state_dir": str(tmp_path / name), "database_url": db_url, "support_address": "support@example.com"},
            "workers": {"name": name, "lease_seconds": LEASE_SECONDS},
            # The first wave may reach the folder before any worker has seen it: that is new mail here, not history.
            "intake": {"history": False},
            "schedule": SCHEDULE,
            "rules": {"dir": str(ACK_ALL)},
            "processing": {"retry_base_seconds": 0, "max_attempts": 50, "batch_size": 10},
            "smtp": {**smtp_section, "port": port},
            "imap": [imap_section(dovecot, user, after_fetch="move", batch_size=20)],
        })
        log = tmp_path / f"{name}.log"
        seen_before[name] = log.read_text(errors="replace").count("event=daemon.started") if log.exists() else 0
        procs[name] = DaemonProcess(cfg, log).start()

    smtp_section = smtp.section(timeout_seconds=2, retry_base_seconds=1, retry_max_seconds=5, max_automatic_per_hour=0)
    replies_wanted = 0
    began = time.monotonic()
    try:
        for name in names:
            start(name)
        restarted_dovecot = outage_done = False
        wave = 1
        while True:
            if time.monotonic() - began > timeout:
                raise AssertionError(f"not done after {timeout}s: {report.summary()} {counts(db_url)}")
            # Keep mail flowing, spread over the kills: new questions in waves, and answers to acknowledgements
            # already received (through their signed Reply-To), so the kills land while work is in flight.
            # While kills remain, waves keep coming (beyond `new` if the flow outran the kills); then the rest.
            allowed = -(-new * wave // max(min_kills, 1)) if report.kills < min_kills else new
            replies_wanted = round(len(new_ids) * reply_share / (1 - reply_share))
            while len(new_ids) < allowed:
                raw, mid = new_mail(len(new_ids))
                dovecot.deliver(user, raw)
                new_ids.append(mid)
            for ack in list(smtp.handler.received):
                key = ack.header("Message-ID")
                if len(expected) < replies_wanted and key not in replied and rng.random() < 0.5:
                    replied.add(key)
                    raw, mid, ticket = reply_to(ack, len(expected))
                    dovecot.deliver(user, raw)
                    expected[mid] = ticket
            state = counts(db_url)
            total = len(new_ids) + len(expected)
            done = (
                len(new_ids) >= new and len(expected) >= replies_wanted and state["filed"] == total
                and state["received"] == 0 and state["unsent"] == 0 and state["acks"] == len(new_ids)
            )
            if done and report.kills >= min_kills:
                break
            if report.kills < min_kills:
                victim = rng.choice(names)
                holder = lease_owner(db_url)
                holder_name = holder.rpartition("@")[0] if holder is not None else None  # "w1@host:pid" → "w1"
                if rng.random() < 0.4 and holder_name is not None and holder_name in procs:
                    victim = holder_name
                # Timed from the victim's observed start, so a slow machine changes how long start-up takes, not
                # where the kills land; and only while there is work in flight.
                proc = procs[victim]
                wait_until(lambda: proc.log.count("event=daemon.started") > seen_before[victim], timeout=120, what=f"{victim} to start")
                time.sleep(rng.uniform(0.2, 1.5))
                busy = counts(db_url)
                if not in_flight(busy, len(new_ids) + len(expected)):
                    # The workers kept up: deliver the next wave now and kill while it is being taken in.
                    wave += 1
                    while len(new_ids) < -(-new * wave // max(min_kills, 1)):
                        raw, mid = new_mail(len(new_ids))
                        dovecot.deliver(user, raw)
                        new_ids.append(mid)
                    time.sleep(rng.uniform(0.0, 0.4))
                    if not in_flight(counts(db_url), len(new_ids) + len(expected)):
                        continue
                victim_id = worker_id(victim, proc)
                proc.kill()
                wave += 1
                killed_at = time.monotonic()
                report.kills += 1
                report.kills_in_flight += 1
                if victim_id == lease_owner(db_url):
                    # The source's reader died: another worker must take it over (the victim is restarted only
                    # afterwards, or its new process would be the one to take its old lease over).
                    wait_until(lambda: lease_owner(db_url) not in (victim_id, None), timeout=4 * LEASE_SECONDS + 60, what="a take-over")
                    report.take_overs.append(time.monotonic() - killed_at)
                start(victim)
                if not restarted_dovecot and report.kills >= min_kills // 3:
                    dovecot.stop()
                    dovecot.start()
                    restarted_dovecot = True
                if not outage_done and report.kills >= 2 * min_kills // 3:
                    smtp.stop()
                    time.sleep(smtp_outage)  # the outage itself: nothing can be sent for this long
                    smtp = SmtpServer(smtp.handler, port=port).start()
                    outage_done = True
            else:
                time.sleep(0.5)
        report.seconds = time.monotonic() - began
        for name, proc in procs.items():
            # A worker restarted a moment ago may still be starting: stop it once it runs, and expect a clean exit.
            wait_until(lambda: proc.log.count("event=daemon.started") > seen_before[name] or not proc.running(), timeout=120, what=f"{name} to start")
            assert proc.stop(timeout=60) == 0, proc.log[-2000:]
    finally:
        for proc in procs.values():
            if proc.running():
                proc.kill()
        smtp.stop()
        dovecot_inbox = None
        try:
            dovecot_inbox = inbox_size(dovecot, user)
        finally:
            dovecot.destroy()

    report.delivered = len(new_ids) + len(expected)
    report.new_tickets, report.replies = len(new_ids), len(expected)
    report.state = counts(db_url)
    state = report.state
    assert state["inbound"] == state["distinct"] == report.delivered, state
    assert state["filed"] == report.delivered and state["tickets"] == report.new_tickets, state
    filed = tickets_of(db_url)
    wrong = {mid: (filed.get(mid), ticket) for mid, ticket in expected.items() if filed.get(mid) != ticket}
    assert not wrong, f"replies not on their customer's ticket: {list(wrong.items())[:5]}"
    acks: dict[int, set[str]] = defaultdict(set)
    for msg in smtp.handler.received:
        acks[int(re.match(r"\[#(\d+)\]", msg.header("Subject")).group(1))].add(msg.header("Message-ID"))  # type: ignore[union-attr]
    assert len(acks) == report.new_tickets and all(len(ids) == 1 for ids in acks.values()), "a ticket got none or two acknowledgements"
    assert dovecot_inbox == 0, f"{dovecot_inbox} message(s) left unprocessed in INBOX"
    assert report.kills_in_flight >= min_kills and report.take_overs, report.summary()
    for seconds in report.take_overs:
        assert seconds <= 2 * LEASE_SECONDS + 30, f"a take-over took {seconds:.1f}s"
    return report

