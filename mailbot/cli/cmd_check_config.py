"""`mailbot check-config`: validate the configuration, rules and templates, and say what was found; with
`--connect`, also sign in to every mail server and open the database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mailbot.cli.border_checks import config_warnings
from mailbot.cli.connection_checks import check_connections
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.url_passwords import hide_passwords
from mailbot.policy.in_force import load_policy

EXIT_CONNECT = 2  # as for any other problem check-config finds


def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    s = config.settings
    config.check_state_dir()
    config.configured_secret()  # a secret_file that is missing or short is a config error too
    policy = load_policy(config)  # rules, terms, and every template against the context of its kind
    print(f"{config.source}: OK")
    print(f"  database: {hide_passwords(config.database_url)}")
    if s.customers.sql_url:
        print(f"  billing database: {hide_passwords(s.customers.sql_url)} (every {s.customers.sync_minutes:g} min)")
    print(f"  support address: {config.support_address}")
    smtp = s.smtp
    if smtp.transport == "smtp":
        print(f"  outgoing: smtp {smtp.host}:{smtp.effective_port} ({smtp.security})")
    else:
        print(f"  outgoing: written to the Maildir {config.outgoing_maildir} (no [smtp] transport configured)")
    print(f"  rules: {config.rules_dir} ({len(policy.rules.rules)} rules, templates {', '.join(sorted(policy.templates.names))})")
    for acc in s.imap:
        print(f"  imap {acc.name}: {acc.username}@{acc.host}:{acc.effective_port} ({acc.security}, {acc.auth}) folders={','.join(acc.folders)}")
    for md in s.maildir:
        print(f"  maildir {md.name}: {md.path}")
    if s.agent:
        auth = f"proof: Authentication-Results from {s.agents.authserv_id}" if s.agents.require_authentication else "no authentication check"
        print(f"  agents: {', '.join(a.address for a in s.agent)} ({auth})")
    for warning in config_warnings(s):
        print(f"  warning: {warning}")
    if not s.imap and not s.maildir:
        print("  note: no mail source is configured; this instance will only process and send")
    if not args.connect:
        return 0
    print("connecting (nothing is fetched or sent):")
    checks = check_connections(config)
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    if failed:
        print(f"mailbot: {len(failed)} of {len(checks)} connection check(s) failed", file=sys.stderr)
        return EXIT_CONNECT
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help=command_help("check-config"))
    p.add_argument(
        "--connect", action="store_true",
        help="also sign in to every IMAP account (and open its folders), every SMTP server (EHLO, STARTTLS, AUTH, "
        "QUIT: nothing is sent) and the database; exit 2 naming the account and what failed",
    )
    p.set_defaults(handler=cmd_check_config)
