"""`mailbot check-config`: validate the configuration, rules and templates, and say what was found."""

from __future__ import annotations

import argparse
from typing import Any

from mailbot.config import Config
from mailbot.policy.in_force import load_policy


def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    s = config.settings
    config.secret_bytes()  # a secret_file that is missing or short is a config error too
    policy = load_policy(config)  # rules, terms, and every template against the context of its kind
    print(f"{config.source}: OK")
    print(f"  database: {config.database_url}")
    print(f"  support address: {config.support_address}")
    smtp = s.smtp
    if smtp.transport == "smtp":
        print(f"  outgoing: smtp {smtp.host}:{smtp.effective_port} ({smtp.security})")
    else:
        print(f"  outgoing: written to the Maildir {config.outgoing_maildir} (no [smtp] transport configured)")
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


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate the configuration and exit")
    p.set_defaults(handler=cmd_check_config)
