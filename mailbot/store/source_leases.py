"""One reader per mail source: a lease row per source with its holder and expiry, renewed by the holder and taken
over by another worker once it has run out. A row rather than a PostgreSQL advisory lock: it works the same on
SQLite, needs no connection held open for it, and `status` can show who holds what until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.store.db import unit_of_work
from mailbot.store.models import SourceLease


@dataclass(frozen=True)
class Holding:
    held: bool
    taken_from: str | None = None  # the previous holder, when this call took an expired lease over
    holder: str | None = None  # who holds it, when we do not


def hold(sessions: sessionmaker[Session], source: str, owner: str, now: datetime, ttl: timedelta) -> Holding:
    """Renew our lease on `source`, or take it if it is free or has run out."""
    with unit_of_work(sessions) as session:
        renewed = session.connection().execute(
            update(SourceLease).where(SourceLease.source == source, SourceLease.owner == owner).values(expires_at=now + ttl)
        ).rowcount
        if renewed:
            return Holding(True)
        current = session.execute(select(SourceLease.owner, SourceLease.expires_at).where(SourceLease.source == source)).first()
        if current is not None:
            if current.expires_at > now:
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
