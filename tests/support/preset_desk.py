"""A desk configured with one of the shipped presets, driven one `mailbot run --once` at a time against real
Dovecot and SMTP with a moved clock."""

from __future__ import annotations

import shutil
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Outbox, Ticket
from tests.conftest import imap_section, write_config
from tests.support.cli import ROOT, run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.smtp import Received, SmtpServer

AGENT = "agent@vendor.example"
AUTH = "Authentication-Results: mx.test; dkim=pass header.d=vendor.example"


class DeskUnderTest:
    """A desk configured with a preset, driven one `mailbot run --once` at a time."""

    def __init__(self, preset: str, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: SmtpServer, timezone: str, customers: str) -> None:
        self.dovecot, self.smtp, self.db_url = dovecot, smtp, db_url
        self.user: ImapUser = dovecot.add_user()
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules" / preset, rules)  # what a vendor does: copy the preset folder
        escalation = (rules / "escalation.toml").read_text()
        (rules / "escalation.toml").write_text(escalation.replace("team = []", 'team = ["team@vendor.example"]').replace("lead = []", 'lead = ["lead@vendor.example"]'))
        body: dict[str, Any] = {
            "mailbot": {
                "state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
                "support_address": "support@vendor.example", "support_name": "Vendor Support", "timezone": timezone,
            },
            "rules": {"dir": str(rules)},
            "smtp": smtp.section(),
            "imap": [imap_section(dovecot, self.user, after_fetch="move")],
            "agents": {"authserv_id": "mx.test"},
            "agent": [{"address": AGENT, "name": "Agent", "queues": ["support", "presales", "quotes", "partnership"]}],
        }
        self.config = write_config(tmp_path / "mailbot.toml", body)
        csv = tmp_path / "customers.csv"
        csv.write_text(customers)
        imported = run_mailbot(self.config, "customers", "import", str(csv))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        # Connect to the mailbox while it is empty: the mail the tests write afterwards is new mail, not history.
        connected = run_mailbot(self.config, "poll", "--history-only")
        assert connected.returncode == 0, connected.stdout + connected.stderr
        self.seen = 0
        self.logs = ""  # everything `mailbot run` wrote to its output and log
        self.tmp_path = tmp_path

    def write(self, sender: str, subject: str, body: str, extra: str = "") -> None:
        raw = (
            f"From: {sender}\r\nTo: support@vendor.example\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@customer.example>\r\n"
            f"{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
        ).encode()
        self.append(raw)

    def append(self, raw: bytes) -> None:
        """Deliver a message, as it is, to the support mailbox."""
        with IMAPClient("127.0.0.1", port=self.dovecot.port, ssl=False, timeout=10) as c:
            c.starttls(ssl.create_default_context(cafile=str(self.dovecot.cert)))
            c.login(self.user.name, self.user.password)
            c.append("INBOX", raw)

    def agent_reply(self, notification: Received, body: str) -> None:
        reply_to = notification.message["Reply-To"].addresses[0].addr_spec
        raw = (
            f"{AUTH}\r\nFrom: Agent <{AGENT}>\r\nTo: {reply_to}\r\nSubject: Re: {notification.header('Subject')}\r\n"
            f"In-Reply-To: {notification.header('Message-ID')}\r\nMessage-ID: <{uuid.uuid4().hex}@vendor.example>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        ).encode()
        self.append(raw)

    def run(self, now: str) -> list[Received]:
        """`mailbot run --once` at `now`; returns the mail the SMTP server got from it."""
        result = run_mailbot(self.config, "--now", now, "run", "--once")
        assert result.returncode == 0, result.stderr
        self.logs += result.stdout + result.stderr
        new = self.smtp.handler.received[self.seen :]
        self.seen = len(self.smtp.handler.received)
        # Mail goes out over several SMTP connections side by side, so it may arrive in any order: give it back
        # in the order the desk queued it (an acknowledgement before the reminder queued after it).
        engine = make_engine(self.db_url)
        with unit_of_work(session_factory(engine)) as s:
            queued = {mid: row_id for mid, row_id in s.execute(select(Outbox.message_id, Outbox.id))}
        engine.dispose()
        return sorted(new, key=lambda m: queued.get(m.header("Message-ID").strip("<>"), 0))

    def ticket(self, number: int = 1) -> Ticket:
        engine = make_engine(self.db_url)
        with unit_of_work(session_factory(engine)) as s:
            found = s.get_one(Ticket, number)
        engine.dispose()
        return found


def to(mails: list[Received], address: str) -> list[Received]:
    return [m for m in mails if address in m.rcpt_tos]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


PERIOD_CUSTOMERS = (
    "customer,name,email,timezone,product,plan,paid\n"
    "F1,Anna,anna@shop.example,,Classifieds,basic,2026-03-01\n"
    "F2,Ben,ben@us-shop.example,America/New_York,Classifieds,basic,2026-03-01\n"
    "F3,Cleo,cleo@old-shop.example,,Classifieds,basic,2026-01-01\n"
    "F4,Dan,dan@renew.example,,Classifieds,basic,2026-03-01\n"
    "F4,Dan,dan@renew.example,,Classifieds,basic,2026-03-21\n"
    "F5,Gus,gus@month-end.example,,Classifieds,basic,2026-01-31\n"
)


LICENSE_CUSTOMERS = (
    "customer,name,email,domain,product,plan,paid\n"
    "D1,Ирина,irina@site.example,,DIAFAN.CMS,commercial,2026-04-24\n"
    "D2,Pavel,,old-license.example,DIAFAN.CMS,commercial,2025-01-10\n"
)


@pytest.fixture
def flynax(tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: SmtpServer) -> DeskUnderTest:
    return DeskUnderTest("support-period", tmp_path, db_url, dovecot, smtp, "Europe/Berlin", PERIOD_CUSTOMERS)


@pytest.fixture
def diafan(tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: SmtpServer) -> DeskUnderTest:
    return DeskUnderTest("license-age", tmp_path, db_url, dovecot, smtp, "Europe/Moscow", LICENSE_CUSTOMERS)
