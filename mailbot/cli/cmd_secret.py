"""`mailbot secret show|rotate`: the desk's reply-token secrets in the database, by fingerprint."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.cli.display import local_time
from mailbot.config import Config
from mailbot.store import desk_secrets


def cmd_secret(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        now = app.clock.now()
        zone = ZoneInfo(config.settings.mailbot.timezone)
        if args.action == "rotate":
            old, new = desk_secrets.rotate(app.sessions, now, timedelta(days=args.grace_days))
            print(f"signing with {new} now; {old} keeps verifying replies for {args.grace_days} day(s)")
            if config.configured_secret() is not None:
                print(f"note: {config.secret_key()} in {config.source} still names the old secret: remove it (or give the new "
                      "one) on every worker before their next start")
        print(f"{'fingerprint':<18}{'role':<11}{'created':<26}verifies until")
        for fp, role, created, until in desk_secrets.listing(app.sessions, now):
            shown = "-" if role == "signing" else ("always" if until is None else local_time(until, zone))
            print(f"{fp:<18}{role:<11}{local_time(created, zone):<26}{shown}")
        return 0


def register(sub: Any) -> None:
    p = sub.add_parser("secret", help=command_help("secret"))
    p.add_argument("action", choices=["show", "rotate"])
    p.add_argument("--grace-days", type=int, default=365, help="rotate: how long the old secret keeps verifying (default 365)")
    p.set_defaults(handler=cmd_secret)
