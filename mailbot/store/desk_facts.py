"""What the database says about the desk right now: workers, sources, queues and deadlines, read in one go
for `mailbot status`, `mailbot queues` and the metrics gauges."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from mailbot.core.desk_health import DeskFacts, QueueFact, SourceFact, WorkerFact
from mailbot.core.ticket_states import InboundStatus, OutboxStatus, TicketStatus
from mailbot.store.models import Inbound, Outbox, SourceHealthRow, Ticket, WorkerHeartbeat


def _inbound(s: Session) -> QueueFact:
    received = Inbound.status == InboundStatus.RECEIVED.value
    waiting, retrying = (
        s.scalar(select(func.count()).where(received, cond)) or 0
        for cond in (Inbound.attempts == 0, Inbound.attempts > 0)
    )
    quarantined = s.scalar(select(func.count()).where(Inbound.status == InboundStatus.QUARANTINED.value)) or 0
    oldest = s.scalar(select(func.min(Inbound.fetched_at)).where(received))
    soonest = s.scalar(select(func.min(Inbound.next_attempt_at)).where(received, Inbound.attempts > 0))
    return QueueFact(waiting, retrying, 0, quarantined, oldest, soonest)


def _outbox(s: Session) -> QueueFact:
    queued = Outbox.status == OutboxStatus.QUEUED.value
    waiting, retrying = (
        s.scalar(select(func.count()).where(queued, cond)) or 0 for cond in (Outbox.attempts == 0, Outbox.attempts > 0)
    )
    held, failed = (
        s.scalar(select(func.count()).where(Outbox.status == st.value)) or 0 for st in (OutboxStatus.HELD, OutboxStatus.FAILED)
    )
    oldest = s.scalar(select(func.min(Outbox.created_at)).where(queued))
    soonest = s.scalar(select(func.min(Outbox.next_attempt_at)).where(queued, Outbox.attempts > 0))
    return QueueFact(waiting, retrying, held, failed, oldest, soonest)


def clock_running() -> ColumnElement[bool]:
    """Tickets whose response clock runs: a deadline is owed and not paused."""
    return and_(Ticket.sla_clock.is_not(None), Ticket.sla_paused_at.is_(None), Ticket.sla_due_at.is_not(None))


def read_facts(s: Session, now: datetime, risk_window: timedelta) -> DeskFacts:
    workers = [
        WorkerFact(w.worker, w.host, w.pid, w.version, w.started_at, w.beat_at)
        for w in s.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker))
    ]
    sources = [
        SourceFact(r.source, r.kind, r.last_success_at, r.last_error, r.last_error_at)
        for r in s.scalars(select(SourceHealthRow).order_by(SourceHealthRow.source))
    ]
    running = clock_running()
    at_risk = s.scalar(select(func.count()).where(running, Ticket.sla_due_at > now, Ticket.sla_due_at <= now + risk_window)) or 0
    breached = s.scalar(select(func.count()).where(running, Ticket.sla_due_at <= now)) or 0
    open_states = [st.value for st in TicketStatus if st not in (TicketStatus.SOLVED, TicketStatus.CLOSED)]
    counted = s.execute(
        select(Ticket.queue, Ticket.status, func.count()).where(Ticket.status.in_(open_states)).group_by(Ticket.queue, Ticket.status)
    )
    return DeskFacts(
        now=now, workers=workers, sources=sources, inbound=_inbound(s), outbox=_outbox(s),
        at_risk=at_risk, breached=breached, open_tickets={(q, st): n for q, st, n in counted},
    )
