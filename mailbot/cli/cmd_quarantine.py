"""`mailbot quarantine list|show|retry`: messages that could not be processed, and why."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo, short
from mailbot.config import Config
from mailbot.core.ticket_states import InboundStatus
from mailbot.process.runner import retry_quarantined
from mailbot.store.db import unit_of_work
from mailbot.store.models import (
    Inbound,
    InboundRaw,
)


def cmd_quarantine(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        with unit_of_work(app.sessions) as s:
            if args.action == "list":
                rows = s.scalars(select(Inbound).where(Inbound.status == InboundStatus.QUARANTINED).order_by(Inbound.id)).all()
                if not rows:
                    echo("quarantine is empty")
                for r in rows:
                    reason = (r.last_error or "").splitlines()[0] if r.last_error else ""
                    echo(f"{r.id:>6}  {r.source}/{r.folder}  {r.size:>8} B  tries {r.attempts}  {short(reason, 90)}")
                return 0
            if args.action == "show":
                if len(args.ids) != 1:
                    echo("quarantine show takes one id")
                    return 2
                row = s.get(Inbound, args.ids[0])
                if row is None:
                    echo(f"no inbound message {args.ids[0]}")
                    return 1
                echo(f"inbound {row.id}: {row.status}, from {row.source}/{row.folder} uid={row.uid} file={row.location}")
                echo(f"Message-ID: {row.message_id or '-'}; {row.size} bytes; tries {row.attempts}")
                echo(f"error:\n{row.last_error or '-'}")
                if args.raw:
                    raw = s.get_one(InboundRaw, row.id).raw
                    echo("\n" + raw.decode("utf-8", "replace"))
                return 0
            if not args.ids and not args.all:
                echo("name the ids to retry, or --all")
                return 2
            n = retry_quarantined(s, None if args.all else args.ids, app.clock.now())
            echo(f"{n} message(s) queued again")
            return 0


def register(sub: Any) -> None:
    p = sub.add_parser("quarantine", help=command_help("quarantine"))
    p.add_argument("action", choices=["list", "show", "retry"])
    p.add_argument("ids", nargs="*", type=int)
    p.add_argument("--all", action="store_true", help="with retry: every quarantined message")
    p.add_argument("--raw", action="store_true", help="with show: print the raw message")
    p.set_defaults(handler=cmd_quarantine)
