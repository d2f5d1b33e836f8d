"""The global hourly cap on automatic mail: past it, acknowledgements and notifications wait in the outbox.

The per-address daily cap stops a loop with one correspondent; this one stops a flood from many (a forged
campaign, an auto-responder duel across addresses) from turning the desk into a mail cannon. What waits is
sent, oldest first, as the hour's count falls below the cap; answers by people (relays) are never held back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from mailbot.core.ticket_states import OutboxStatus
from mailbot.store.models import Outbox

# The kinds the cap counts and holds back: what mailbot writes by itself in answer to incoming mail.
AUTOMATIC_KINDS = ("ack", "reply", "notify", "agent-notify", "command-error")
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Throttle:
    sent: int  # automatic mail sent in the last hour
    limit: int  # 0: no limit
    waiting: int  # automatic mail queued and due now

    @property
    def active(self) -> bool:
        return self.limit > 0 and self.sent >= self.limit

    def describe(self) -> str:
        if self.limit == 0:
            return f"automatic mail: {self.sent} sent in the last hour (no hourly limit)"
        state = f"throttled, {self.waiting} waiting in the outbox" if self.active else "not throttled"
        return f"automatic mail: {self.sent} sent in the last hour (limit {self.limit}): {state}"


def automatic_sent(conn: Connection, now: datetime) -> int:
    count = conn.execute(
        select(func.count()).select_from(Outbox).where(
            Outbox.kind.in_(AUTOMATIC_KINDS), Outbox.sent_at.is_not(None), Outbox.sent_at > now - WINDOW,
        )
    ).scalar_one()
    return int(count)


def throttle(conn: Connection, now: datetime, limit: int) -> Throttle:
    sent = automatic_sent(conn, now)
    waiting = 0
    if limit > 0 and sent >= limit:
        waiting = int(conn.execute(
            select(func.count()).select_from(Outbox).where(
                Outbox.kind.in_(AUTOMATIC_KINDS), Outbox.status == OutboxStatus.QUEUED, Outbox.next_attempt_at <= now,
            )
        ).scalar_one())
    return Throttle(sent=sent, limit=limit, waiting=waiting)
