"""`mailbot poll --once`: fetch new mail from every source, file it, exit; `--history-only`: import only what
folders seen for the first time hold, as history (cli/poll_history.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.store import source_leases


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        app.policy  # bad rules stop here rather than after mail was fetched
        if args.history_only:
            from mailbot.cli.poll_history import import_history

            return import_history(app)
        stored = app.poll()
        stats = app.process()
        print(
            f"stored {stored} new message(s); filed {stats.done}, duplicates {stats.duplicates}, "
            f"retry later {stats.retried}, quarantined {stats.quarantined}"
        )
        for name, error in app.unreadable.items():
            print(f"mailbot: could not read source {name}: {error}", file=sys.stderr)
        holders = {lease.source: lease.owner for lease in source_leases.holders(app.sessions)}
        for src in app.sources:
            if src.name not in app.held:
                # Not an error: one worker reads a source at a time, and another (a running daemon) has it.
                print(f"source {src.name}: not read here, worker {holders.get(src.name, 'another worker')} holds its lease")
        return 1 if app.unreadable else 0


def register(sub: Any) -> None:
    p = sub.add_parser("poll", help=command_help("poll"))
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--once", action="store_true", help="fetch, process, exit (the daemon is `run`)")
    how.add_argument(
        "--history-only", action="store_true",
        help="import only what folders seen for the first time hold, as history (filed, never answered, no clock); "
        "report what was done",
    )
    p.set_defaults(handler=cmd_poll)
