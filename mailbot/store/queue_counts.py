"""How much is waiting: inbound messages not yet filed and outgoing mail not yet sent (for systemd's STATUS=)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.core.ticket_states import InboundStatus, OutboxStatus
from mailbot.store.models import Inbound, Outbox


@dataclass(frozen=True)
class QueueCounts:
    inbound_waiting: int
    outbox_queued: int


def queue_counts(session: Session) -> QueueCounts:
    inbound = session.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == InboundStatus.RECEIVED))
    outbox = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.QUEUED))
    return QueueCounts(inbound or 0, outbox or 0)
