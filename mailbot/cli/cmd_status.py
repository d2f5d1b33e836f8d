"""`mailbot status`: the desk's health in one screen with a Nagios exit code (0 ok, 1 warning, 2 critical);
`mailbot status N STATUS`: set a ticket's status by hand, with what that does to its clock."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cli.app_session import on_ticket, opened_reader
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo
from mailbot.cli.output import add_json_flag, as_json
from mailbot.config import Config, StatusChecks
from mailbot.core.desk_health import Check, DeskFacts, SourceFact, Thresholds, judge, overall
from mailbot.core.ticket_states import TicketStatus
from mailbot.outbox.throttle import throttle
from mailbot.process import response_clock
from mailbot.process.filing import TicketState
from mailbot.store.db import unit_of_work
from mailbot.store.desk_facts import read_facts
from mailbot.store.journal import add_event


def sec(value: float) -> timedelta:
    return timedelta(seconds=value)


def thresholds(cfg: StatusChecks) -> Thresholds:
    return Thresholds(
        heartbeat_warning=sec(cfg.heartbeat_warning_seconds), heartbeat_critical=sec(cfg.heartbeat_critical_seconds),
        poll_warning=sec(cfg.poll_warning_seconds), poll_critical=sec(cfg.poll_critical_seconds),
        backlog_warning=cfg.backlog_warning, backlog_critical=cfg.backlog_critical,
        backlog_age_warning=sec(cfg.backlog_age_warning_seconds), backlog_age_critical=sec(cfg.backlog_age_critical_seconds),
        outbox_warning=cfg.outbox_warning, outbox_critical=cfg.outbox_critical,
        outbox_age_warning=sec(cfg.outbox_age_warning_seconds), outbox_age_critical=sec(cfg.outbox_age_critical_seconds),
        quarantined_warning=cfg.quarantined_warning, failed_warning=cfg.failed_warning,
        at_risk_warning=cfg.at_risk_warning, breached_critical=cfg.breached_critical, risk_window=sec(cfg.risk_window_seconds),
    )


def desk_facts(config: Config, app: App, limits: Thresholds) -> DeskFacts:
    """What the database holds, plus the configured sources no worker has reported on yet."""
    with unit_of_work(app.sessions) as s:
        facts = read_facts(s, app.clock.now(), limits.risk_window)
    known = {src.source for src in facts.sources}
    configured = [(a.name, "imap") for a in config.settings.imap] + [(m.name, "maildir") for m in config.settings.maildir]
    missing = [SourceFact(name, kind, None, None, None) for name, kind in configured if name not in known]
    return replace(facts, sources=facts.sources + missing)


def health_json(facts: DeskFacts, checks: list[Check]) -> dict[str, Any]:
    level = overall(checks)
    return {
        "status": level.label.lower(),
        "exit_code": int(level),
        "now": facts.now,
        "checks": [{"name": c.name, "status": c.level.label.lower(), "summary": c.summary} for c in checks],
        "workers": [
            {"worker": w.worker, "host": w.host, "pid": w.pid, "version": w.version, "started_at": w.started_at, "heartbeat_at": w.beat_at}
            for w in facts.workers
        ],
        "sources": [
            {"name": s.source, "kind": s.kind, "last_success_at": s.last_success_at, "last_error": s.last_error,
             "last_error_at": s.last_error_at, "failing": s.failing}
            for s in facts.sources
        ],
        "inbound": {"pending": facts.inbound.waiting, "retrying": facts.inbound.retrying, "quarantined": facts.inbound.failed,
                    "oldest_at": facts.inbound.oldest_at, "next_attempt_at": facts.inbound.next_attempt_at},
        "outbox": {"queued": facts.outbox.waiting, "retrying": facts.outbox.retrying, "held": facts.outbox.held,
                   "failed": facts.outbox.failed, "oldest_at": facts.outbox.oldest_at, "next_attempt_at": facts.outbox.next_attempt_at},
        "tickets": {"at_risk": facts.at_risk, "breached": facts.breached},
    }


def show_health(config: Config, args: argparse.Namespace) -> int:
    limits = thresholds(config.settings.status)
    with opened_reader(config, args) as app:
        facts = desk_facts(config, app, limits)
        with unit_of_work(app.sessions) as s:
            cap = throttle(s.connection(), app.clock.now(), config.settings.smtp.max_automatic_per_hour)
    checks = judge(facts, limits)
    level = overall(checks)
    if args.json:
        found = health_json(facts, checks)
        found["automatic_mail"] = {"sent_last_hour": cap.sent, "limit": cap.limit, "waiting": cap.waiting, "throttled": cap.active}
        echo(as_json(found))
        return int(level)
    echo(f"MAILBOT {level.label} - {sum(c.level > 0 for c in checks)} of {len(checks)} checks need attention")
    for c in checks:
        echo(f"  {c.level.label:<8} {c.name}: {c.summary}")
    echo(f"  {cap.describe()}")
    return int(level)


def set_status(config: Config, args: argparse.Namespace) -> int:
    changed: list[str] = []  # the status before, once the change is made

    def change(app: App, session: Session, ticket: TicketState) -> int:
        now = app.clock.now()
        changed.append(ticket.status)
        response_clock.set_status(ticket, TicketStatus(args.status), now, app.policy.terms)
        ticket.save(session.connection(), now)
        add_event(session, ticket.id, "ticket.status", now, before=changed[0], after=args.status, by="cli")
        return 0

    code = on_ticket(config, args, change)
    if changed:  # said only once committed
        echo(f"ticket #{args.number}: {changed[0]} → {args.status}")
    return code


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    if args.number is None:
        return show_health(config, args)
    if args.status is None:
        print(f"mailbot status {args.number}: name the new status ({', '.join(s.value for s in TicketStatus)})", file=sys.stderr)
        return 2
    return set_status(config, args)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "status", help=command_help("status"),
        description="Without arguments: the desk's health, exit 0 ok, 1 warning, 2 critical. With N STATUS: set ticket N's status.",
    )
    p.add_argument("number", type=int, nargs="?", help="a ticket number, to set its status")
    p.add_argument("status", nargs="?", choices=[s.value for s in TicketStatus], help="; ".join(f"{s.value}: {s.meaning}" for s in TicketStatus))
    add_json_flag(p)
    p.set_defaults(handler=cmd_status)
