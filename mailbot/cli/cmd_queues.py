"""`mailbot queues`: every inbound and outgoing row not yet done, with age, attempts, next attempt and last error
(what `mailq` is to Postfix)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from sqlalchemy import select

from mailbot.cli.app_session import opened_reader
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo
from mailbot.cli.output import Column, add_json_flag, as_json, table
from mailbot.config import Config
from mailbot.core.desk_health import spoken
from mailbot.core.ticket_states import InboundStatus, OutboxStatus
from mailbot.store.db import unit_of_work
from mailbot.store.models import Inbound, Outbox

INBOUND_WAITING = (InboundStatus.RECEIVED.value, InboundStatus.QUARANTINED.value)
OUTBOX_WAITING = (OutboxStatus.QUEUED.value, OutboxStatus.HELD.value, OutboxStatus.FAILED.value)

COLUMNS = (
    Column("queue", 7), Column("id", 6, right=True), Column("status", 11), Column("age", 6, right=True),
    Column("tries", 5, right=True), Column("next attempt", 16), Column("what / last error", 0),
)


def first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else None


def queued_rows(app: Any, limit: int) -> list[dict[str, Any]]:
    with unit_of_work(app.sessions) as s:
        inbound = s.scalars(select(Inbound).where(Inbound.status.in_(INBOUND_WAITING)).order_by(Inbound.id).limit(limit)).all()
        outbox = s.scalars(select(Outbox).where(Outbox.status.in_(OUTBOX_WAITING)).order_by(Outbox.id).limit(limit)).all()
        rows: list[dict[str, Any]] = [
            {
                "queue": "inbound", "id": r.id, "status": r.status, "created_at": r.fetched_at, "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at if r.status == InboundStatus.RECEIVED.value else None,
                "last_error": r.last_error, "source": r.source, "folder": r.folder, "message_id": r.message_id,
                "size": r.size, "ticket": r.ticket_id,
            }
            for r in inbound
        ]
        rows += [
            {
                "queue": "outbox", "id": r.id, "status": r.status, "created_at": r.created_at, "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at if r.status == OutboxStatus.QUEUED.value else None,
                "last_error": r.last_error, "kind": r.kind, "recipients": list(r.recipients), "subject": r.subject,
                "ticket": r.ticket_id, "expires_at": r.expires_at,
            }
            for r in outbox
        ]
    return rows


def described(row: dict[str, Any]) -> str:
    what = f"{row['source']}/{row['folder']}" if row["queue"] == "inbound" else f"{row['kind']} to {', '.join(row['recipients'])}"
    error = first_line(row["last_error"])
    return f"{what}: {error}" if error else what


def cmd_queues(config: Config, args: argparse.Namespace) -> int:
    with opened_reader(config, args) as app:
        now: datetime = app.clock.now()
        rows = queued_rows(app, args.limit)
    if args.json:
        echo(as_json(rows))
        return 0
    if not rows:
        echo("queues are empty")
        return 0
    echo(table(COLUMNS, [
        (r["queue"], r["id"], r["status"], spoken(now - r["created_at"]), r["attempts"], r["next_attempt_at"], described(r))
        for r in rows
    ]))
    counts = {q: sum(r["queue"] == q for r in rows) for q in ("inbound", "outbox")}
    echo(f"-- {counts['inbound']} inbound, {counts['outbox']} outgoing not yet done")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("queues", help=command_help("queues"))
    p.add_argument("--limit", type=int, default=1000, help="at most this many rows of each queue")
    add_json_flag(p)
    p.set_defaults(handler=cmd_queues)
