"""`mailbot quarantine list|show|retry`: messages that could not be processed, and why."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select

from mailbot.app import App
from mailbot.cli.app_session import opened_app, opened_reader
from mailbot.cli.command_list import command_help
from mailbot.cli.output import Column, add_json_flag, as_json, table
from mailbot.cli.display import echo
from mailbot.config import Config
from mailbot.core.ticket_states import InboundStatus
from mailbot.process.runner import retry_quarantined
from mailbot.store.db import unit_of_work
from mailbot.store.models import Inbound, InboundRaw

LIST_COLUMNS = (
    Column("id", 6, right=True), Column("source/folder", 16), Column("tries", 5, right=True),
    Column("quarantined", 16), Column("next try", 8), Column("reason", 0),
)
# A quarantined message is tried again only when a person says so.
NEXT_TRY = "by hand"


def row_json(r: Inbound, raw: bytes | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "status": r.status, "source": r.source, "folder": r.folder, "uidvalidity": r.uidvalidity, "uid": r.uid,
        "location": r.location, "message_id": r.message_id, "size": r.size, "attempts": r.attempts,
        "fetched_at": r.fetched_at, "quarantined_at": r.processed_at,
        "next_attempt_at": r.next_attempt_at if r.status == InboundStatus.RECEIVED.value else None,
        "last_error": r.last_error,
    }
    if raw is not None:
        out["raw"] = raw.decode("utf-8", "replace")
    return out


def reason(r: Inbound) -> str:
    return r.last_error.strip().splitlines()[0] if r.last_error and r.last_error.strip() else "-"


def list_rows(app: App, args: argparse.Namespace) -> int:
    with unit_of_work(app.sessions) as s:
        rows = s.scalars(select(Inbound).where(Inbound.status == InboundStatus.QUARANTINED.value).order_by(Inbound.id)).all()
    if args.json:
        echo(as_json([row_json(r) for r in rows]))
        return 0
    if not rows:
        echo("quarantine is empty")
        return 0
    echo(table(LIST_COLUMNS, [
        (r.id, f"{r.source}/{r.folder}", r.attempts, r.processed_at or r.next_attempt_at, NEXT_TRY, reason(r)) for r in rows
    ]))
    return 0


def show_row(app: App, args: argparse.Namespace) -> int:
    with unit_of_work(app.sessions) as s:
        row = s.get(Inbound, args.id)
        raw = s.get_one(InboundRaw, row.id).raw if row is not None and (args.raw or args.json) else None
    if row is None:
        print(f"no inbound message {args.id}", file=sys.stderr)
        return 1
    if args.json:
        echo(as_json(row_json(row, raw)))
        return 0
    next_try = NEXT_TRY if row.status == InboundStatus.QUARANTINED.value else f"{row.next_attempt_at:%Y-%m-%d %H:%M} UTC"
    echo(f"inbound {row.id}: {row.status}, from {row.source}/{row.folder} uid={row.uid} file={row.location}")
    echo(f"Message-ID: {row.message_id or '-'}; {row.size} bytes; tries {row.attempts}; next try {next_try}")
    echo(f"error:\n{row.last_error or '-'}")
    if args.raw and raw is not None:
        echo("\n" + raw.decode("utf-8", "replace"))
    return 0


def retry(app: App, args: argparse.Namespace) -> int:
    if not args.ids and not args.all:
        print("quarantine retry: name the ids, or --all", file=sys.stderr)
        return 2
    with unit_of_work(app.sessions) as s:
        n = retry_quarantined(s, None if args.all else args.ids, app.clock.now())
    echo(f"{n} message(s) queued again")
    if n == 0:
        print("quarantine retry: " + ("the quarantine is empty" if args.all else "no quarantined message with that id"), file=sys.stderr)
    return 0 if n else 1


def cmd_quarantine(config: Config, args: argparse.Namespace) -> int:
    if args.action == "retry":
        with opened_app(config, args) as app:
            return retry(app, args)
    with opened_reader(config, args) as app:
        return list_rows(app, args) if args.action == "list" else show_row(app, args)


def register(sub: Any) -> None:
    p = sub.add_parser("quarantine", help=command_help("quarantine"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lp = actions.add_parser("list", help="every quarantined message, with its reason")
    add_json_flag(lp)
    sp = actions.add_parser("show", help="one message: where it came from, the whole error, optionally the raw message")
    sp.add_argument("id", type=int)
    sp.add_argument("--raw", action="store_true", help="print the raw message")
    add_json_flag(sp)
    rp = actions.add_parser("retry", help="file these messages again (attempts start from zero)")
    rp.add_argument("ids", nargs="*", type=int)
    rp.add_argument("--all", action="store_true", help="every quarantined message")
    p.set_defaults(handler=cmd_quarantine)
