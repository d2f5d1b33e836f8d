"""`mailbot poll --history-only`: import what first-seen folders hold as history, with a progress bar, and
say what became of it. Nothing is sent and no clock starts; mail that is not history waits for the daemon."""

from __future__ import annotations

import sys

from sqlalchemy import func, select
from tqdm import tqdm

from mailbot.app import App
from mailbot.core.ticket_states import InboundStatus
from mailbot.process.runner import CLAIM_BATCH, RunStats
from mailbot.store.db import unit_of_work
from mailbot.store.models import Inbound, Outbox, Ticket


def _pending_history(app: App) -> int:
    with unit_of_work(app.sessions) as session:
        query = select(func.count()).select_from(Inbound).where(Inbound.history.is_(True), Inbound.status == InboundStatus.RECEIVED)
        return session.scalar(query) or 0


def _outbox_rows(app: App) -> int:
    with unit_of_work(app.sessions) as session:
        return session.scalar(select(func.count()).select_from(Outbox)) or 0


def _history_tickets(app: App) -> dict[str, int]:
    """Tickets holding history, by status."""
    with unit_of_work(app.sessions) as session:
        ids = select(Inbound.ticket_id).where(Inbound.history.is_(True), Inbound.ticket_id.is_not(None)).distinct()
        rows = session.execute(select(Ticket.status, func.count()).where(Ticket.id.in_(ids)).group_by(Ticket.status)).all()
        return {status: n for status, n in rows}


def import_history(app: App) -> int:
    outbox_before = _outbox_rows(app)
    for result in app.poll_sources(history_only=True):
        if not result.ok:
            continue
        for folder in result.folders:
            if folder.fetched:
                print(f"{result.source} {folder.folder}: fetched {folder.fetched}, of which history {folder.history}, newly stored {folder.stored}")
    total = RunStats()
    # A progress bar on a terminal (stderr), nothing when output goes to a log or a pipe.
    with tqdm(total=_pending_history(app), unit="msg", desc="filing history", disable=None, file=sys.stderr, leave=False) as bar:
        while True:
            stats = app.process(limit=CLAIM_BATCH, history_only=True)
            if stats.handled == 0:
                break
            bar.update(stats.handled)
            total.done += stats.done
            total.duplicates += stats.duplicates
            total.retried += stats.retried
            total.quarantined += stats.quarantined
    tickets = _history_tickets(app)
    shown = ", ".join(f"{n} {status}" for status, n in sorted(tickets.items())) or "none"
    print(
        f"filed {total.done} message(s) of history, duplicates {total.duplicates}, retry later {total.retried}, "
        f"quarantined {total.quarantined}"
    )
    print(f"tickets holding history: {sum(tickets.values())} ({shown}); mail queued: {_outbox_rows(app) - outbox_before}; no response clock started")
    for name, error in app.unreadable.items():
        print(f"mailbot: could not read source {name}: {error}", file=sys.stderr)
    return 1 if app.unreadable or total.retried or total.quarantined else 0
