"""`mailbot run`: the daemon, or every job once with --once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.collector_settings import settle_collector
from mailbot.config import Config
from mailbot.daemon import Daemon
from mailbot.store.sqlite_lock import AlreadyRunning, DaemonLock

EXIT_ALREADY_RUNNING = 2


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    config.check_state_dir()  # before the lock file beside a SQLite database in it is made
    lock = DaemonLock(config.database_url)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    with opened_app(config, args) as app:
        app.policy  # bad rules stop start-up, with file, rule and key
        daemon = Daemon(app)
        settle_collector()
        if args.once:
            return 0 if asyncio.run(daemon.run_once()) else 1
        asyncio.run(daemon.run_forever())
        return 0


def register(sub: Any) -> None:
    p = sub.add_parser("run", help=command_help("run"))
    p.add_argument("--once", action="store_true", help="run each job once, in order, and exit")
    p.set_defaults(handler=cmd_run)
