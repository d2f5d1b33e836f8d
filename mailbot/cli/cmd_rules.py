"""`mailbot rules check` and `mailbot rules test FILE.eml`: validate the policy, and dry-run it on a message."""

from __future__ import annotations

import argparse
import sys
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.ticket_states import InboundStatus
from mailbot.intake.inbound import content_hash, sniff_message_id
from mailbot.parse import MalformedMail, parse_mail
from mailbot.policy.in_force import load_policy
from mailbot.process.desk import parse_options
from mailbot.process.filing import file_message
from mailbot.store.models import Event, Inbound, Outbox
from mailbot.store.writer import Writer


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    policy = load_policy(config)  # every rule, and every template against the context of its kind
    print(f"{config.rules_dir}: {len(policy.rules.rules)} rules OK")
    for rule in policy.rules.rules:
        extra = " (continue)" if rule.keep_going else ""
        print(f"  {rule.file}: {rule.name}{extra}")
    listed = [f"{name} ({'/'.join(sorted(langs))})" for name, langs in sorted(policy.templates.available.items())]
    print("templates: " + ", ".join(listed))
    return 0


def readable(raw: bytes) -> str:
    """A message as a person reads it: decoded headers, then the text."""
    msg = message_from_bytes(raw, policy=default_policy)
    lines = [f"  {k}: {v}" for k, v in msg.items() if k.lower() not in ("content-type", "content-transfer-encoding", "mime-version")]
    body = msg.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return "\n".join(lines) + "\n\n  " + text.rstrip().replace("\n", "\n  ")


def _show(title: str, value: Any, indent: str = "  ") -> None:
    print(f"{indent}{title}: {value}")


def cmd_test(config: Config, args: argparse.Namespace) -> int:
    raw = sys.stdin.buffer.read() if str(args.file) == "-" else Path(args.file).read_bytes()
    try:
        mail = parse_mail(raw, parse_options(config))
    except MalformedMail as exc:
        print(f"would quarantine: {exc}")
        return 1
    with opened_app(config, args) as app:
        now = app.clock.now()
        session = app.sessions()
        try:
            session.begin()
            # Everything below happens in a transaction that is rolled back: nothing is stored or sent.
            before = session.scalar(select(func.max(Outbox.id))) or 0
            row = Inbound(
                source="rules-test", folder="-", raw_sha256="dry-run:" + content_hash(raw)[:56],
                message_id=sniff_message_id(raw), size=len(raw), fetched_at=now, status=InboundStatus.RECEIVED, attempts=0,
                next_attempt_at=now,
            )
            session.add(row)
            session.flush()
            writer = Writer(session.connection())
            filed = file_message(writer, row.id, mail, app.context.desk, now)
            if filed.duplicate:
                print(f"duplicate of a message already filed on ticket #{filed.ticket_id}: nothing would happen")
                return 0
            app.pipeline(writer, row.id, filed, now)
            writer.flush()
            print(f"From: {mail.sender or '(no usable sender: ' + str(mail.sender_problem) + ')'}")
            print(f"Subject: {mail.subject}")
            if filed.new_ticket:
                print("Ticket: would open a new ticket")
            else:
                print(f"Ticket: would join ticket #{filed.ticket_id}")
            for reason in filed.thread.reasons if filed.thread else []:
                _show("because", reason)
            decided = session.scalars(select(Event).where(Event.inbound_id == row.id, Event.kind == "rules.decided")).one()
            d = decided.detail
            print(f"Language: {d['language']}")
            if d["automatic"]:
                print("Automatic mail: " + "; ".join(d["automatic"]))
            print("Rules matched:")
            for hit in d["matched"] or [{"rule": "(none)", "file": "", "because": []}]:
                only = " — suggests its class only: the sender keeps the promised time" if hit.get("suggested_only") else ""
                print(f"  {hit['rule']} ({hit['file']}){only}")
                for why in hit["because"]:
                    _show("because", why, "    ")
            if d.get("suggested"):
                _show("suggested", f"{d['suggested']['class']} (rule {d['suggested']['rule']!r}): an agent confirms or dismisses it")
            for key in ("queue", "priority", "tags", "assign", "template", "notify", "hold"):
                if d.get(key):
                    _show(key, d[key])
            skipped = session.scalars(select(Event).where(Event.inbound_id == row.id, Event.kind == "reply.skipped")).all()
            for e in skipped:
                print(f"No reply: {e.detail['reason']}")
            for out in session.scalars(select(Outbox).where(Outbox.id > before).order_by(Outbox.id)):
                print(f"\nWould send ({out.kind}{', held for review' if out.status == 'held' else ''}) to {', '.join(out.recipients)}:")
                print(readable(out.raw))
            return 0
        finally:
            session.rollback()
            session.close()


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help=command_help("rules"))
    rsub = p.add_subparsers(dest="action", required=True)
    c = rsub.add_parser("check", help="validate every rules file and template; exit 2 on any problem")
    c.set_defaults(handler=cmd_check)
    t = rsub.add_parser("test", help="dry run: which rules match FILE.eml, the ticket it joins, the mail it would send")
    t.add_argument("file", help="a message file, or - for standard input")
    t.set_defaults(handler=cmd_test)
