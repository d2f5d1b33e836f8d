#!/usr/bin/env python3
"""Sweep benchmark: one deadline sweep over 1,000,000 open tickets in SQLite, with nothing due and with 1,000 due.

    .venv/bin/python bench/sweep.py [--tickets N] [--due K] [--keep DIR]

Builds a database of N open tickets whose response clocks run on a Mon–Fri 09:00–17:00 calendar, each
with its next check some time in the coming weeks, then times `Sweeper.run` (the daemon's sweep job) at an
instant when nothing is due (median of 5), and again after K tickets were made due: every due level is
recorded, and one escalation mail per ticket is composed and queued in the outbox. Targets (issue):
nothing due < 50 ms, 1,000 due < 1 s. Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from mailbot.app import App  # noqa: E402
from mailbot.config import parse  # noqa: E402
from mailbot.store.models import Escalation, Outbox  # noqa: E402
from mailbot.time_source import FixedClock  # noqa: E402

NOW = datetime(2026, 3, 9, 9, 0, tzinfo=timezone.utc)  # a Monday morning


def write_config(work: Path) -> Path:
    rules = work / "rules"
    shutil.copytree(ROOT / "rules" / "default", rules)
    esc = (rules / "escalation.toml").read_text().replace("team = []", 'team = ["team@example.com"]').replace("lead = []", 'lead = ["lead@example.com"]')
    (rules / "escalation.toml").write_text(esc)
    cfg = work / "mailbot.toml"
    cfg.write_text(
        f'[mailbot]\nstate_dir = "{work}"\nsupport_address = "support@example.com"\nsecret = "bench-secret-0123456789"\n'
        f'[rules]\ndir = "{rules}"\n'
    )
    return cfg


def populate(app: App, n: int, seed: int) -> float:
    """Insert n open tickets with running clocks (raw executemany: setting up is not what is measured)."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    with app.engine.begin() as conn:
        batch = []
        for i in range(1, n + 1):
            started = NOW - timedelta(minutes=rng.randint(0, 600))
            check = NOW + timedelta(hours=rng.randint(1, 24 * 21))  # later than now: nothing due
            batch.append({
                "id": i, "subject": f"question {i}", "customer": f"c{i}@customer.example",
                "started": started.replace(tzinfo=None).strftime(fmt), "check": check.replace(tzinfo=None).strftime(fmt),
                "due": (check + timedelta(hours=8)).replace(tzinfo=None).strftime(fmt),
            })
            if len(batch) == 50_000:
                _insert(conn, batch)
                batch = []
        if batch:
            _insert(conn, batch)
    return time.perf_counter() - t0


def _insert(conn, rows) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO ticket (id, subject, status, queue, priority, customer, tags, created_at, updated_at, entitlement_state, plan,"
            " entitlement, sla_clock, sla_started_at, sla_total_seconds, sla_consumed_seconds, sla_calendar, sla_due_at, sla_next_check_at)"
            " VALUES (:id, :subject, 'open', 'support', 'normal', :customer, '[]', :started, :started, 'active', 'standard',"
            " '{}', 'first', :started, 86400, 0, 'default', :due, :check)"
        ),
        rows,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--due", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and leave it (default: a temporary folder)")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mailbot-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        cfg = write_config(work)
        clock = FixedClock(NOW)
        app = App(parse(cfg.read_text(), cfg), clock)
        app.ensure_schema()
        setup = populate(app, args.tickets, args.seed)
        with app.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        app.policy  # load the rules once, as the daemon does at start-up

        idle = []
        for _ in range(5):
            t0 = time.perf_counter()
            fired = app.sweep()
            idle.append(time.perf_counter() - t0)
            assert fired == 0

        # Make `due` tickets due: their clocks started the Wednesday before, so every level is due now.
        rng = random.Random(args.seed + 1)
        chosen = rng.sample(range(1, args.tickets + 1), args.due)
        started = (NOW - timedelta(days=5)).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        with app.engine.begin() as conn:
            conn.execute(
                text("UPDATE ticket SET sla_started_at = :s, sla_next_check_at = :s WHERE id = :id"),
                [{"s": started, "id": i} for i in chosen],
            )
        t0 = time.perf_counter()
        fired = app.sweep()
        busy = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = app.sweep()
        repeat = time.perf_counter() - t0
        with app.sessions() as s:
            escalations = s.scalar(select(func.count()).select_from(Escalation))
            mails = s.scalar(select(func.count()).select_from(Outbox))
        app.close()

        idle_ms = statistics.median(idle) * 1000
        print(f"mailbot sweep benchmark: {args.tickets:,} open tickets in SQLite ({setup:.0f} s to build)")
        print(f"  {'figure':<52}{'value':>12}   {'target':<10} result")
        print(f"  {'sweep, nothing due (median of 5)':<52}{idle_ms:>9.1f} ms   {'< 50 ms':<10} {'PASS' if idle_ms < 50 else 'FAIL'}")
        print(f"  {f'sweep, {args.due} tickets due':<52}{busy * 1000:>9.0f} ms   {'< 1 s':<10} {'PASS' if busy < 1 else 'FAIL'}")
        print(f"    levels fired {fired:,}, recorded {escalations:,}; escalation mails queued {mails:,} (one per ticket: the most severe level)")
        print(f"  {'the same sweep again (all fired already)':<52}{repeat * 1000:>9.1f} ms   fired {again}")
        print(f"  reproduce: .venv/bin/python bench/sweep.py --tickets {args.tickets} --due {args.due}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
