"""Heartbeat rows for running daemons and each source's last poll outcome, written so any host can read them."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from mailbot import __version__
from mailbot.store.models import SourceHealthRow, WorkerHeartbeat

# A worker silent this long is gone for good (crashed, host renamed): its row is dropped by the next beat.
FORGET_AFTER = timedelta(days=7)


def beat(session: Session, worker: str, started_at: datetime, now: datetime) -> None:
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        row = WorkerHeartbeat(worker=worker, host=socket.gethostname(), pid=os.getpid(), version=__version__, started_at=started_at)
        session.add(row)
    row.beat_at = now
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))


def stop_beating(session: Session, worker: str) -> None:
    """A worker that stops cleanly removes its row: it is not 'dead', it is gone."""
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))


def record_source(
    session: Session, source: str, kind: str, last_success: datetime | None, last_error: str | None,
    last_error_at: datetime | None, worker: str, now: datetime,
) -> None:
    """Store what a source's HealthRecord says; an older success or error already stored is kept if newer."""
    row = session.get(SourceHealthRow, source)
    if row is None:
        row = SourceHealthRow(source=source, kind=kind)
        session.add(row)
    row.kind, row.worker, row.updated_at = kind, worker, now
    if last_success is not None and (row.last_success_at is None or last_success > row.last_success_at):
        row.last_success_at = last_success
    if last_error_at is not None and (row.last_error_at is None or last_error_at >= row.last_error_at):
        row.last_error_at = last_error_at
        row.last_error = last_error if last_error is not None else row.last_error
