"""The commands of the CLI: each one's module and one-line help, known without importing the module."""

from __future__ import annotations

# Each command's module is imported only when that command runs (or its --help is asked for), so `--help`,
# `--version` and the daemon's start-up do not pay for every other command's imports.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("cmd_init", "start a deployment in DIR: a commented config, a copy of a preset's rules, a secret"),
    "run": ("cmd_run", "the daemon: poll, process, send and sweep on timers until SIGTERM"),
    "check-config": ("cmd_check_config", "validate the configuration and exit"),
    "db": ("cmd_db", "database schema"),
    "poll": ("cmd_poll", "fetch new mail from every source and file it"),
    "rules": ("cmd_rules", "validate the rules and templates, or show what they would do with a message"),
    "outbox": ("cmd_outbox", "outgoing mail: list, show, retry failed, release held"),
    "tickets": ("cmd_tickets", "list tickets or show one"),
    "quarantine": ("cmd_quarantine", "messages that could not be processed"),
    "customers": ("cmd_customers", "import purchases from CSV, sync from the billing database, show a sender's entitlement"),
    "reminders": ("cmd_reminders", "list the renewal reminders due at a moment (dry run), and how the hourly rate spreads them"),
    "escalations": ("cmd_escalations", "list the warnings and breach notices that would fire at a moment (dry run)"),
    "explain": ("cmd_explain", "how ticket N's deadline was computed: entitlement, plan, calendar, hours day by day"),
    "secret": ("cmd_secret", "the desk's reply-token secrets (fingerprints only); rotate to a new one with a grace period"),
    "status": ("cmd_status", "the desk's health with a monitoring exit code; or `status N STATE`: set ticket N's status"),
    "queues": ("cmd_queues", "inbound and outgoing mail not yet done, with age, attempts, next attempt and last error (like mailq)"),
}


def command_help(name: str) -> str:
    return COMMANDS[name][1]
