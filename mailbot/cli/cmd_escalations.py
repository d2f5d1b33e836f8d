"""`mailbot escalations --at TIME`: the warnings and breach notices a sweep would send then (nothing is sent)."""

from __future__ import annotations

import argparse
from typing import Any

from mailbot.cli.app_session import opened_reader
from mailbot.cli.display import local_time
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.sla import format_span
from mailbot.process.sweep import preview
from mailbot.time_source import parse_moment


def cmd_escalations(config: Config, args: argparse.Namespace) -> int:
    with opened_reader(config, args) as app:
        terms = app.policy.terms
        at = parse_moment(args.at, config.settings.mailbot.timezone) if args.at else app.clock.now()
        planned = preview(app.sessions, terms, at)
        zone = terms.desk_zone
        print(f"at {local_time(at, zone)}: {len(planned)} escalation(s) would fire (nothing is sent)")
        for p in sorted(planned, key=lambda p: (p.fires_at, p.ticket.id)):
            print(
                f"  #{p.ticket.id:<6} {p.level.name:<12} due since {local_time(p.fires_at, zone)}; deadline {local_time(p.deadline, zone)}"
                f" ({format_span(p.left)} of business time left); to {', '.join(p.recipients) or 'nobody (no recipients configured)'}"
            )
        return 0


def register(sub: Any) -> None:
    p = sub.add_parser("escalations", help=command_help("escalations"))
    p.add_argument("--at", metavar="TIME", help='"2026-12-04 17:30" (desk time zone) or ISO 8601; default: now')
    p.set_defaults(handler=cmd_escalations)
