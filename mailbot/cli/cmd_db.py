"""`mailbot db upgrade|status`: the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.store import migrate


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args, migrate=False) as app:
        if args.action == "upgrade":
            migrate.upgrade(app.engine)
        current, head = migrate.current_revision(app.engine), migrate.head_revision(app.engine)
        print(f"schema revision {current or 'none'} (latest {head})")
        return 0 if current == head else 1


def register(sub: Any) -> None:
    p = sub.add_parser("db", help=command_help("db"))
    p.add_argument("action", choices=["upgrade", "status"])
    p.set_defaults(handler=cmd_db)
