"""One reader per mail source: a lease row per source with its holder and expiry, renewed by the holder and taken
over by another worker once it has run out. A row rather than a PostgreSQL advisory lock: it works the same on
SQLite, needs no connection held open for it, and `status` can show who holds what until when."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.store.db import unit_of_work
from mailbot.store.models import OWNER_LENGTH, SourceLease


def worker_identity(name: str, host: str, pid: int) -> str:
    """Who a worker process is in leases, heartbeats, logs and `status`: "<name>@<host>:<pid>", or "<host>:<pid>"
    without a configured name. One per process: two processes given the same `[workers] name` (a daemon and a
    `poll --once` beside it, or two daemons with one config) are two holders, and only one of them reads a source."""
    where = f"{host}:{pid}"
    if not name:
        return where
    # A 200-character name and a 255-character host fit; were that not so, the name would give way, never host:pid.
    return f"{name[:OWNER_LENGTH - len(where) - 1]}@{where}"


def host_and_pid(owner: str) -> tuple[str, int] | None:
    """The host and process id in an owner written by `worker_identity`; None for one that names no process (an
    explicit name alone, as older versions wrote it)."""
    rest, _, pid = owner.rpartition(":")
    if not rest or not pid.isdigit():
        return None
    return rest.rpartition("@")[2], int(pid)


def local_process_gone(owner: str) -> bool:
    """Is `owner` a process of this host that no longer exists? A live process of this host is not gone, whatever
    its name (a `poll --once` beside a daemon of the same name waits); nor is one of another host, one naming no
    process, or this process's own pid (another App here, or a host name shared across PID namespaces)."""
    found = host_and_pid(owner)
    if found is None:
        return False
    host, pid = found
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists (another user's)
    return False


@dataclass(frozen=True)
class Holding:
    held: bool
    taken_from: str | None = None  # the previous holder, when this call took an expired lease over
    holder: str | None = None  # who holds it, when we do not


def hold(
    sessions: sessionmaker[Session], source: str, owner: str, now: datetime, ttl: timedelta,
    is_gone: Callable[[str], bool] = lambda owner: False,
) -> Holding:
    """Renew our lease on `source`, or take it if it is free, has run out, or its holder is known to be gone
    (`is_gone`: a process of this host that no longer exists — a worker killed a moment ago, restarted by systemd
    or followed by a `poll --once`, need not wait for its own old lease). `owner` is this process's
    `worker_identity`: a renewal matches only the process that wrote the row, never another one of the same name."""
    with unit_of_work(sessions) as session:
        renewed = session.connection().execute(
            update(SourceLease).where(SourceLease.source == source, SourceLease.owner == owner).values(expires_at=now + ttl)
        ).rowcount
        if renewed:
            return Holding(True)
        current = session.execute(select(SourceLease.owner, SourceLease.expires_at).where(SourceLease.source == source)).first()
        if current is not None:
            if current.expires_at > now and not is_gone(current.owner):
                return Holding(False, holder=current.owner)
            # Conditional on the row being as we read it: of two workers taking over at once, one wins.
            taken = session.connection().execute(
                update(SourceLease)
                .where(SourceLease.source == source, SourceLease.owner == current.owner, SourceLease.expires_at == current.expires_at)
                .values(owner=owner, expires_at=now + ttl, acquired_at=now)
            ).rowcount
            return Holding(True, taken_from=current.owner) if taken else Holding(False, holder="another worker")
    try:
        with unit_of_work(sessions) as session:
            session.add(SourceLease(source=source, owner=owner, expires_at=now + ttl, acquired_at=now))
    except IntegrityError:
        return Holding(False, holder="another worker")
    return Holding(True)


def release(sessions: sessionmaker[Session], owner: str, sources: list[str] | None = None) -> None:
    """Give up our leases (all, or those named) so another worker can take the sources at once."""
    with unit_of_work(sessions) as session:
        query = delete(SourceLease).where(SourceLease.owner == owner)
        if sources is not None:
            query = query.where(SourceLease.source.in_(sources))
        session.execute(query)


def holders(sessions: sessionmaker[Session]) -> list[SourceLease]:
    with unit_of_work(sessions) as session:
        rows = list(session.scalars(select(SourceLease).order_by(SourceLease.source)))
        session.expunge_all()
        return rows
