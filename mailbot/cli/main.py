"""Entry point: parse arguments, load the config, dispatch to a command, turn known errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from mailbot import __version__
from mailbot.cli.command_list import COMMANDS
from mailbot.malloc_arenas import cap_malloc_arenas

if TYPE_CHECKING:
    from mailbot.config import Config
    from mailbot.time_source import Clock

EXIT_OS = 1  # a file that cannot be read or written (named in the message)
EXIT_CONFIG = 2
EXIT_DATABASE = 3  # the database cannot be reached or refused the connection
EXIT_BROKEN_PIPE = 141

_GLOBAL_WITH_VALUE = {"-c", "--config", "--now"}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command named on the command line, found without building every command's parser."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _GLOBAL_WITH_VALUE:
            skip = True
        elif token == "--":
            return None
        elif not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser for `command` (every command when None); the others are listed by name and help only."""
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
    for name, (module, help_text) in COMMANDS.items():
        if command is None or name == command:
            importlib.import_module(f"mailbot.cli.{module}").register(sub)
            also_after(sub.choices[name])
        else:
            sub.add_parser(name, help=help_text)
    return parser


def also_after(parser: argparse.ArgumentParser) -> None:
    """--config and --now are accepted after the command's name (and its action's) too; given there, they win."""
    parser.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--now", metavar="TIME", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                also_after(child)


def make_clock(now: str | None, zone: str) -> Clock:
    """The system clock, or with --now a clock that starts at that instant and keeps running."""
    from mailbot.time_source import OffsetClock, SystemClock, parse_moment

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
    cap_malloc_arenas()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_command(argv) or "")
    args = parser.parse_args(argv)
    if not getattr(args, "needs_config", True):
        return int(args.handler(args) or 0)
    from mailbot import logs
    from mailbot.config import load
    from mailbot.errors import ConfigError, SchemaNotReady

    try:
        config: Config = load(config_path(args))
    except ConfigError as exc:
        print(f"mailbot: configuration error\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs.setup(config.settings.logging.level, config.settings.logging.format)
    try:
        args.clock = make_clock(args.now, config.settings.mailbot.timezone)
    except ValueError as exc:
        print(f"mailbot: --now: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from sqlalchemy.exc import DBAPIError

    try:
        code = int(args.handler(config, args) or 0)
        sys.stdout.flush()  # inside the try: a reader that went away is noticed here, not at interpreter exit
        return code
    except ConfigError as exc:
        print(f"mailbot: configuration error\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except SchemaNotReady as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DBAPIError as exc:
        print(f"mailbot: database {database_shown(config)}: {first_line(exc.orig or exc)}", file=sys.stderr)
        return EXIT_DATABASE
    except BrokenPipeError:
        # The reader went away (`mailbot tickets list | head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mailbot: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_OS
    except KeyboardInterrupt:
        return 130


def first_line(exc: BaseException) -> str:
    from mailbot.core.url_passwords import hide_passwords

    return hide_passwords((str(exc).strip().splitlines() or [type(exc).__name__])[0])


def database_shown(config: Config) -> str:
    """The database URL with its password hidden, in the user part and in the query (`?password=`)."""
    from mailbot.core.url_passwords import hide_passwords

    return hide_passwords(config.database_url)


if __name__ == "__main__":
    sys.exit(main())
