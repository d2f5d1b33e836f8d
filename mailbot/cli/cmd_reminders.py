"""`mailbot reminders list [--at TIME]`: the renewal reminders due at a moment, soonest period end first (nothing is
sent), and how many hours the hourly rate spreads them over."""

from __future__ import annotations

import argparse
import math
from typing import Any

from mailbot.cli.app_session import opened_reader
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo
from mailbot.cli.output import Column, add_json_flag, as_json, table
from mailbot.config import Config
from mailbot.process.renewals import DueReminder
from mailbot.time_source import parse_moment

COLUMNS = (
    Column("customer", 8, right=True), Column("plan", 14), Column("period ends (UTC)", 17), Column("product", 16), Column("to", 0),
)


def pace(due: int, per_hour: int) -> str:
    """How the hourly rate spreads `due` reminders, in words."""
    if not due:
        return "nothing to send"
    if not per_hour or due <= per_hour:
        return f"all {due} go out with the next run"
    return f"{per_hour} per hour ([replies] reminders_per_hour): the last goes out in about {math.ceil(due / per_hour) - 1} h"


def reminder_json(r: DueReminder) -> dict[str, Any]:
    return {
        "customer_id": r.customer_id, "customer": r.customer_name, "plan": r.plan, "product": r.product,
        "ends_at": r.ends_at, "to": [a.addr for a in r.to],
    }


def cmd_reminders(config: Config, args: argparse.Namespace) -> int:
    with opened_reader(config, args) as app:
        at = parse_moment(args.at, config.settings.mailbot.timezone) if args.at else app.clock.now()
        due = app.reminders.preview(at)
    if args.json:
        echo(as_json([reminder_json(r) for r in due]))
        return 0
    echo(f"at {at:%Y-%m-%d %H:%M} UTC: {len(due)} renewal reminder(s) due (nothing is sent); {pace(len(due), config.settings.replies.reminders_per_hour)}")
    if due:
        echo(table(COLUMNS, [(r.customer_id, r.plan, r.ends_at, r.product, ", ".join(a.addr for a in r.to)) for r in due]))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("reminders", help=command_help("reminders"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lp = actions.add_parser("list", help="the renewal reminders due at a moment (nothing is sent)")
    lp.add_argument("--at", metavar="TIME", help='"2026-12-04 17:30" (desk time zone) or ISO 8601; default: now')
    add_json_flag(lp)
    p.set_defaults(handler=cmd_reminders)
