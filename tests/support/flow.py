"""Drive intake and processing in-process against the test database, the way the daemon's jobs do."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.tokens import Signer
from mailbot.intake.inbound import Fetched, store_raw
from mailbot.process.desk import Desk, RunnerContext
from mailbot.process.runner import RunStats, process_pending
from mailbot.store.db import unit_of_work
from mailbot.store.models import Inbound
from mailbot.time_source import Clock

SECRET = b"test-secret-0123456789abcdef"
SUPPORT = "support@example.com"
SIGNER = Signer(SECRET)
REPLIES = Path(__file__).resolve().parents[1] / "data" / "replies"


def make_context(clock: Clock, max_attempts: int = 3) -> RunnerContext:
    desk = Desk(
        support_address=SUPPORT,
        message_id_domain="example.com",
        signer=SIGNER,
        max_attempts=max_attempts,
        retry_base_seconds=60,
        retry_max_seconds=600,
    )
    return RunnerContext(desk=desk, clock=clock)


def deliver(sessions: sessionmaker[Session], clock: Clock, *raws: bytes) -> list[int]:
    """Store raw messages as intake would; returns their inbound ids."""
    with unit_of_work(sessions) as s:
        store_raw(s, "test", [Fetched(raw=r, folder="INBOX", location=uuid.uuid4().hex) for r in raws], clock.now())
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(Inbound.id).order_by(Inbound.id.desc()).limit(len(raws))).all())[::-1]


def file_all(sessions: sessionmaker[Session], ctx: RunnerContext) -> RunStats:
    return process_pending(sessions, ctx)


def reply(template: str, **values: str) -> bytes:
    """A reply shaped like a real client's (tests/data/replies/<template>.eml) with the placeholders filled."""
    text = (REPLIES / f"{template}.eml").read_text()
    values.setdefault("NONCE", uuid.uuid4().hex[:12])
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text.encode()


def customer_mail(
    sender: str, subject: str, body: str = "Hello", message_id: str | None = None, extra: str = "", date: datetime | None = None,
) -> bytes:
    mid = message_id or f"{uuid.uuid4().hex}@customer.example"
    stamp = format_datetime(date) if date is not None else "Mon, 02 Mar 2026 09:00:00 +0000"
    return (
        f"From: {sender}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
        f"Date: {stamp}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def sent_now(raw: bytes) -> bytes:
    """`raw` dated as sent just now by the system clock, for tests of the daemon, which runs on that clock
    (mail older than [intake] max_ack_age_hours by its own Date is not acknowledged)."""
    stamp = format_datetime(datetime.now(timezone.utc)).encode()
    return re.sub(rb"(?mi)^Date:[^\r\n]*", b"Date: " + stamp, raw, count=1)
