"""`mailbot outbox list|show|retry|release|flush|cancel`: see and nudge outgoing mail."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import select

from mailbot.app import App
from mailbot.cli.app_session import opened_app, opened_reader
from mailbot.cli.command_list import command_help
from mailbot.cli.output import Column, add_json_flag, as_json, table
from mailbot.cli.display import echo
from mailbot.config import Config
from mailbot.outbox.throttle import throttle
from mailbot.core.ticket_states import OutboxStatus
from mailbot.store.db import unit_of_work
from mailbot.store.journal import add_event
from mailbot.store.models import Outbox

LIST_COLUMNS = (
    Column("id", 6, right=True), Column("status", 9), Column("kind", 10), Column("ticket", 6, right=True),
    Column("tries", 5, right=True), Column("sent / next try", 16), Column("to / subject / last error", 0),
)
# What each nudge moves from, and the event it leaves on the ticket.
NUDGES = {
    "retry": ((OutboxStatus.FAILED,), "mail.retried"),
    "release": ((OutboxStatus.HELD,), "mail.released"),
    "cancel": ((OutboxStatus.HELD, OutboxStatus.QUEUED, OutboxStatus.FAILED), "mail.cancelled"),
}


def row_json(r: Outbox, with_raw: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "status": r.status, "kind": r.kind, "ticket": r.ticket_id, "message_id": r.message_id,
        "mail_from": r.mail_from, "recipients": list(r.recipients), "subject": r.subject, "automatic": r.automatic,
        "attempts": r.attempts, "created_at": r.created_at, "sent_at": r.sent_at,
        "next_attempt_at": r.next_attempt_at if r.status == OutboxStatus.QUEUED.value else None,
        "expires_at": r.expires_at, "last_error": r.last_error,
    }
    if with_raw:
        out["raw"] = r.raw.decode("utf-8", "replace")
    return out


def summary(r: Outbox) -> str:
    error = f" — {r.last_error.strip().splitlines()[0]}" if r.last_error and r.last_error.strip() else ""
    return f"{', '.join(r.recipients)}: {r.subject}{error}"


def when(r: Outbox) -> datetime | None:
    return r.sent_at or (r.next_attempt_at if r.status == OutboxStatus.QUEUED.value else None)


def list_rows(app: App, args: argparse.Namespace) -> int:
    with unit_of_work(app.sessions) as s:
        query = select(Outbox).order_by(Outbox.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(Outbox.status == args.status)
        rows = list(s.scalars(query))[::-1]
        cap = throttle(s.connection(), app.clock.now(), app.config.settings.smtp.max_automatic_per_hour)
    if args.json:
        echo(as_json([row_json(r) for r in rows]))
        return 0
    echo(cap.describe())
    if not rows:
        echo("outbox is empty" if not args.status else f"no {args.status} mail")
        return 0
    echo(table(LIST_COLUMNS, [(r.id, r.status, r.kind, r.ticket_id, r.attempts, when(r), summary(r)) for r in rows]))
    return 0


def show_rows(app: App, args: argparse.Namespace) -> int:
    with unit_of_work(app.sessions) as s:
        rows = [s.get(Outbox, row_id) for row_id in args.ids]
    missing = [i for i, r in zip(args.ids, rows) if r is None]
    if missing:
        print(f"no outbox row {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    found = [r for r in rows if r is not None]
    if args.json:
        echo(as_json([row_json(r, with_raw=True) for r in found]))
        return 0
    for row in found:
        next_try = f", next try {row.next_attempt_at:%Y-%m-%d %H:%M} UTC" if row.status == OutboxStatus.QUEUED.value else ""
        echo(f"outbox {row.id}: {row.status}, {row.kind}, ticket #{row.ticket_id}, tries {row.attempts}{next_try}, error: {row.last_error or '-'}")
        echo(f"envelope from {row.mail_from} to {', '.join(row.recipients)}\n")
        echo(row.raw.decode("utf-8", "replace").replace("\r\n", "\n"))
    return 0


def nudge(app: App, args: argparse.Namespace) -> int:
    """retry, release or cancel the named rows (or --all); 1 when none was in a state it applies to."""
    if not args.ids and not args.all:
        print(f"outbox {args.action}: name the ids, or --all", file=sys.stderr)
        return 2
    states, event = NUDGES[args.action]
    now = app.clock.now()
    with unit_of_work(app.sessions) as s:
        query = select(Outbox).where(Outbox.status.in_([st.value for st in states]))
        if not args.all:
            query = query.where(Outbox.id.in_(args.ids))
        rows = list(s.scalars(query))
        for row in rows:
            if args.action == "cancel":
                row.status = OutboxStatus.CANCELLED.value
            else:
                row.status, row.next_attempt_at = OutboxStatus.QUEUED.value, now
            if args.action == "retry":
                row.attempts = 0
                row.expires_at = now + (row.expires_at - row.created_at)
            add_event(s, row.ticket_id, event, now, outbox=row.id, by="cli")
        skipped = sorted(set(args.ids) - {r.id for r in rows})
        shown = {r.id: r.status for r in s.scalars(select(Outbox).where(Outbox.id.in_(skipped)))}
    for row_id in skipped:
        wanted = " or ".join(st.value for st in states)
        print(f"outbox {row_id}: " + (f"is {shown[row_id]}, not {wanted}" if row_id in shown else "no such row"), file=sys.stderr)
    verb = "cancelled" if args.action == "cancel" else "queued to send"
    echo(f"{len(rows)} message(s) {verb}")
    return 0 if rows else 1


def flush(app: App, args: argparse.Namespace) -> int:
    """Like `postqueue -f`: every queued row waiting out a back-off is due now, and sent at once."""
    now: datetime = app.clock.now()
    # A row due within one send lease may be being sent by a daemon right now: leave it to that attempt.
    in_flight = now + app.sender.lease
    with unit_of_work(app.sessions) as s:
        rows = list(s.scalars(select(Outbox).where(Outbox.status == OutboxStatus.QUEUED.value, Outbox.next_attempt_at > in_flight)))
        for row in rows:
            row.next_attempt_at = now
            add_event(s, row.ticket_id, "mail.flushed", now, outbox=row.id, by="cli")

    async def send() -> tuple[int, int, int]:
        try:
            stats = await app.sender.flush()
            return stats.sent, stats.retry, stats.failed
        finally:
            await app.sender.transport.close()

    sent, retry, failed = asyncio.run(send())
    echo(f"{len(rows)} message(s) brought forward; sent {sent}, retry later {retry}, failed {failed}")
    return 0 if retry == 0 and failed == 0 else 1


def cmd_outbox(config: Config, args: argparse.Namespace) -> int:
    if args.action in ("list", "show"):
        with opened_reader(config, args) as app:
            return list_rows(app, args) if args.action == "list" else show_rows(app, args)
    with opened_app(config, args) as app:
        return flush(app, args) if args.action == "flush" else nudge(app, args)


def register(sub: Any) -> None:
    p = sub.add_parser("outbox", help=command_help("outbox"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lp = actions.add_parser("list", help="the latest outgoing mail, with when it was sent or is next tried")
    lp.add_argument("--status", choices=[s.value for s in OutboxStatus])
    lp.add_argument("--limit", type=int, default=50)
    add_json_flag(lp)
    sp = actions.add_parser("show", help="one or more rows in full, with the message as sent")
    sp.add_argument("ids", nargs="+", type=int)
    add_json_flag(sp)
    for name, text in (
        ("retry", "send failed mail again (attempts start from zero)"),
        ("release", "send held mail"),
        ("cancel", "never send these (held, queued or failed); an event on the ticket says so"),
    ):
        np = actions.add_parser(name, help=text)
        np.add_argument("ids", nargs="*", type=int)
        np.add_argument("--all", action="store_true", help=f"every row {name} applies to")
    actions.add_parser("flush", help="send everything waiting out a back-off now (like postqueue -f)")
    p.set_defaults(handler=cmd_outbox)
