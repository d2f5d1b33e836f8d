"""Entry point: parse arguments, load the config, dispatch to a command, turn known errors into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.exc import OperationalError

from mailbot import __version__, logs
from mailbot.cli import (
    cmd_check_config,
    cmd_customers,
    cmd_db,
    cmd_escalations,
    cmd_explain,
    cmd_outbox,
    cmd_poll,
    cmd_quarantine,
    cmd_rules,
    cmd_run,
    cmd_status,
    cmd_tickets,
)
from mailbot.config import Config, load
from mailbot.core.url_passwords import hide_passwords
from mailbot.errors import ConfigError
from mailbot.time_source import Clock, OffsetClock, SystemClock, parse_moment

EXIT_CONFIG = 2
EXIT_DATABASE = 1  # the database cannot be reached or refuses us: an outage, not a configuration error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailbot", description="A support desk that lives in email.")
    parser.add_argument(
        "-c", "--config", type=Path, default=None,
        help="config file (default: $MAILBOT_CONFIG, else the embedded default: SQLite and a Maildir in ./mailbot-state)",
    )
    parser.add_argument(
        "--now", metavar="TIME", default=None,
        help='act as if it were TIME ("2026-12-04 17:30" in the desk time zone, or ISO 8601 with an offset); '
        "time keeps running from there. For dry runs and tests",
    )
    parser.add_argument("--version", action="version", version=f"mailbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (
        cmd_run, cmd_check_config, cmd_db, cmd_poll, cmd_rules, cmd_outbox, cmd_tickets, cmd_quarantine,
        cmd_customers, cmd_escalations, cmd_explain, cmd_status,
    ):
        command.register(sub)
    return parser


def make_clock(now: str | None, zone: str) -> Clock:
    """The system clock, or with --now a clock that starts at that instant and keeps running."""
    if now is None:
        return SystemClock()
    return OffsetClock(parse_moment(now, zone) - datetime.now(timezone.utc))


def config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return Path(args.config)
    env = os.environ.get("MAILBOT_CONFIG")
    return Path(env) if env else None


# Group may read (the mailbot group: backups, monitoring), others nothing: the database, the secret, outgoing
# mail and attachments are written with it, also when mailbot runs outside its systemd unit (UMask= there too).
UMASK = 0o027


def restrict_umask() -> int:
    """Set the process umask to UMASK, keeping any stricter bits already set; returns the one in force."""
    current = os.umask(UMASK)
    os.umask(current | UMASK)
    return current | UMASK


def main(argv: Sequence[str] | None = None) -> int:
    restrict_umask()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config: Config = load(config_path(args))
    except ConfigError as exc:
        print(f"mailbot: configuration error\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs.setup(config.settings.logging.level)
    try:
        args.clock = make_clock(args.now, config.settings.mailbot.timezone)
    except ValueError as exc:
        print(f"mailbot: --now: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return int(args.handler(config, args) or 0)
    except ConfigError as exc:
        print(f"mailbot: configuration error\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()
        reason = hide_passwords(first[0]) if first else type(exc).__name__
        print(f"mailbot: cannot use the database {hide_passwords(config.database_url)}: {reason}", file=sys.stderr)
        return EXIT_DATABASE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
