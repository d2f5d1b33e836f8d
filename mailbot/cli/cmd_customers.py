"""`mailbot customers import|sync|show`: who has paid for what."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tqdm import tqdm

from mailbot.app import App
from mailbot.cli.app_session import opened_app
from mailbot.cli.cmd_reminders import pace
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo
from mailbot.cli.output import add_json_flag, as_json
from mailbot.config import Config
from mailbot.core.entitlement import decide_entitlement
from mailbot.customers.importer import RowError, import_rows, read_csv
from mailbot.customers.lookup import find_customer
from mailbot.store.db import unit_of_work


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


def reminders_made_due(app: App, now: datetime, before: int) -> str:
    """What the change means for automatic mail: the renewal reminders now due, and how they will be paced."""
    due = len(app.reminders.preview(now))
    return (
        f"renewal reminders due now: {due} ({due - before:+d} by this change); "
        f"{pace(due, app.config.settings.replies.reminders_per_hour)}; `mailbot reminders list` shows them"
    )


def cmd_customers(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        terms = app.policy.terms
        now = app.clock.now()
        due_before = len(app.reminders.preview(now)) if args.action in ("import", "sync") else 0
        if args.action == "import":
            if not args.file:
                print("customers import needs a CSV file", file=sys.stderr)
                return 2
            path = Path(args.file)
            try:
                rows = read_csv(path)
                # A progress bar on a terminal (stderr), nothing when output goes to a log or a pipe.
                bar = tqdm(rows, total=_count_lines(path), unit="rows", disable=None, file=sys.stderr, leave=False)
                with unit_of_work(app.sessions) as session:
                    report = import_rows(session, bar, terms.plans, terms.desk_zone, "csv", now)
            except (RowError, OSError, UnicodeDecodeError) as exc:
                print(f"mailbot: {exc}", file=sys.stderr)
                return 2
            for line, problem in report.errors:
                print(f"{path}:{line}: {problem}", file=sys.stderr)
            echo(report.summary())
            echo(reminders_made_due(app, now, due_before))
            return 1 if report.errors else 0
        if args.action == "sync":
            found = app.sync_customers()
            if found is None:
                print("no billing database configured ([customers] sql_url)", file=sys.stderr)
                return 2
            for line, problem in found.errors:
                print(f"row {line}: {problem}", file=sys.stderr)
            echo(found.summary())
            echo(reminders_made_due(app, now, due_before))
            return 1 if found.errors else 0
        if not args.file:
            print("customers show needs an address", file=sys.stderr)
            return 2
        with unit_of_work(app.sessions) as session:
            match = find_customer(session.connection(), args.file)
        if match is None:
            ent = decide_entitlement([], terms.plans, now)
            if args.json:
                echo(as_json({"address": args.file, "customer": None, "entitlement": ent.state, "plan": None, "product": None,
                                   "reason": ent.reason, "promise": None, "purchases": []}))
                return 0
            echo(f"{args.file}: not a customer ({ent.state})")
            return 0
        zone = ZoneInfo(match.timezone) if match.timezone else terms.desk_zone  # as processing decides it
        ent = decide_entitlement(match.purchases, terms.plans, now, zone)
        if args.json:
            echo(as_json({
                "address": args.file, "customer": {"id": match.external_id, "name": match.name, "matched_by": match.matched},
                "entitlement": ent.state, "plan": ent.plan, "product": ent.product, "reason": ent.reason,
                "promise": ent.promise.describe() if ent.promise else None,
                "purchases": [{"product": p.product, "kind": p.kind, "plan": p.plan, "paid_at": p.paid_at} for p in match.purchases],
            }))
            return 0
        echo(f"{args.file}: customer {match.external_id} {match.name} (matched by {match.matched})")
        echo(f"  now: {ent.state}, plan {ent.plan or '-'}, product {ent.product or '-'}")
        echo(f"  why: {ent.reason}")
        if ent.promise:
            echo(f"  promise: first response within {ent.promise.describe()}")
        for p in sorted(match.purchases, key=lambda p: p.paid_at):
            echo(f"  purchase: {p.product} {p.kind} plan {p.plan} paid {p.paid_at.astimezone(terms.desk_zone):%Y-%m-%d}")
        return 0


def register(sub: Any) -> None:
    p = sub.add_parser("customers", help=command_help("customers"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ip = actions.add_parser("import", help="import customers and purchases from a CSV file (idempotent)")
    ip.add_argument("file", metavar="FILE.csv")
    actions.add_parser("sync", help="pull purchases from the billing database now ([customers] sql_url)")
    sp = actions.add_parser("show", help="what a sender is entitled to now, and why")
    sp.add_argument("file", metavar="ADDRESS")
    add_json_flag(sp)
    p.set_defaults(handler=cmd_customers)
