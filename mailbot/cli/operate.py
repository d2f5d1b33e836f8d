"""Commands that run mailbot's work: check-config, db, poll."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mailbot.app import load_policy
from mailbot.cli.opened import opened_app
from mailbot.config import Config
from mailbot.daemon import Daemon
from mailbot.store import migrate


def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    s = config.settings
    config.secret_bytes()  # a secret_file that is missing or short is a config error too
    print(f"{config.source}: OK")
    print(f"  database: {config.database_url}")
    print(f"  support address: {config.support_address}")
    smtp = s.smtp
    if smtp.transport == "smtp":
        print(f"  outgoing: smtp {smtp.host}:{smtp.effective_port} ({smtp.security})")
    else:
        print(f"  outgoing: written to the Maildir {config.outgoing_maildir} (no [smtp] transport configured)")
    policy = load_policy(config)
    print(f"  rules: {config.rules_dir} ({len(policy.rules.rules)} rules, templates {', '.join(sorted(policy.templates.names))})")
    for acc in s.imap:
        print(f"  imap {acc.name}: {acc.username}@{acc.host}:{acc.effective_port} ({acc.security}) folders={','.join(acc.folders)}")
    for md in s.maildir:
        print(f"  maildir {md.name}: {md.path}")
    if s.agent:
        auth = f"proof: Authentication-Results from {s.agents.authserv_id}" if s.agents.require_authentication else "no authentication check"
        print(f"  agents: {', '.join(a.address for a in s.agent)} ({auth})")
    if not s.imap and not s.maildir:
        print("  note: no mail source is configured; this instance will only process and send")
    return 0


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args, migrate=False) as app:
        if args.action == "upgrade":
            migrate.upgrade(app.engine)
        current, head = migrate.current_revision(app.engine), migrate.head_revision(app.engine)
        print(f"schema revision {current or 'none'} (latest {head})")
        return 0 if current == head else 1


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        app.policy  # bad rules stop here rather than after mail was fetched
        stored = app.poll()
        stats = app.process()
        print(
            f"stored {stored} new message(s); filed {stats.done}, duplicates {stats.duplicates}, "
            f"retry later {stats.retried}, quarantined {stats.quarantined}"
        )
        return 0


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        app.policy  # bad rules stop start-up, with file, rule and key
        daemon = Daemon(app)
        if args.once:
            return 0 if asyncio.run(daemon.run_once()) else 1
        asyncio.run(daemon.run_forever())
        return 0


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="the daemon: poll, process, send and sweep on timers until SIGTERM")
    p.add_argument("--once", action="store_true", help="run each job once, in order, and exit")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("check-config", help="validate the configuration and exit")
    p.set_defaults(handler=cmd_check_config)

    p = sub.add_parser("db", help="database schema")
    p.add_argument("action", choices=["upgrade", "status"])
    p.set_defaults(handler=cmd_db)

    p = sub.add_parser("poll", help="fetch new mail from every source and file it")
    p.add_argument("--once", action="store_true", required=True, help="fetch, process, exit (the daemon is `run`)")
    p.set_defaults(handler=cmd_poll)
