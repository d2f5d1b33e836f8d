"""`mailbot escalations --at TIME`: the warnings and breach notices a sweep would send then (nothing is sent)."""

from __future__ import annotations

import argparse
from typing import Any

from mailbot.cli.app_session import opened_reader
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo
from mailbot.cli.display import local_time
from mailbot.cli.output import Column, add_json_flag, as_json, table
from mailbot.config import Config
from mailbot.core.sla import format_span
from mailbot.process.sweep import preview
from mailbot.time_source import parse_moment

COLUMNS = (
    Column("ticket", 6, right=True), Column("level", 12), Column("due since", 16), Column("deadline", 16),
    Column("left", 10), Column("to", 0),
)


def cmd_escalations(config: Config, args: argparse.Namespace) -> int:
    with opened_reader(config, args) as app:
        terms = app.policy.terms
        at = parse_moment(args.at, config.settings.mailbot.timezone) if args.at else app.clock.now()
        planned = sorted(preview(app.sessions, terms, at), key=lambda p: (p.fires_at, p.ticket.id))
    if args.json:
        echo(as_json([
            {"ticket": p.ticket.id, "level": p.level.name, "fires_at": p.fires_at, "deadline": p.deadline,
             "business_seconds_left": int(p.left.total_seconds()), "recipients": list(p.recipients)}
            for p in planned
        ]))
        return 0
    zone = terms.desk_zone
    echo(f"at {local_time(at, zone)}: {len(planned)} escalation(s) would fire (nothing is sent); times in {zone.key}")
    if planned:
        echo(table(COLUMNS, [
            (p.ticket.id, p.level.name, p.fires_at.astimezone(zone), p.deadline.astimezone(zone), format_span(p.left),
             ", ".join(p.recipients) or "nobody (no recipients configured)")
            for p in planned
        ]))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("escalations", help=command_help("escalations"))
    p.add_argument("--at", metavar="TIME", help='"2026-12-04 17:30" (desk time zone) or ISO 8601; default: now')
    add_json_flag(p)
    p.set_defaults(handler=cmd_escalations)
