"""Append-only records kept with every change: ticket events, and inserts that keep the first row for a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailbot.store.models import Event


def add_event(session: Session, ticket_id: int | None, event_kind: str, now: datetime, inbound_id: int | None = None, **detail: Any) -> None:
    session.add(Event(ticket_id=ticket_id, inbound_id=inbound_id, at=now, kind=event_kind, detail=detail))


def insert_ignoring_duplicates(session: Session, model: type[Any], key: list[str], **values: Any) -> None:
    """INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL spell it the same way)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing(index_elements=key))

