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
        current, head = migrate.current_revision(app.engine), migrate.HEAD
        print(f"schema revision {current or 'none'} (latest {head})")
        return 0 if current == head else 1


def register(sub: Any) -> None:
    p = sub.add_parser("db", help=command_help("db"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="create the schema or bring it up to date")
    actions.add_parser("status", help="the schema's revision and the latest; exit 1 when it is behind")
    p.set_defaults(handler=cmd_db)
