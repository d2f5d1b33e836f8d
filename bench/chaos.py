#!/usr/bin/env python3
"""The chaos test in full: three `mailbot run` workers on one PostgreSQL database; 2,000 messages (30 % of them
replies to acknowledgements through the signed reply address and References) delivered to a real Dovecot while the
workers run; at least 30 SIGKILLs of random workers (counted when work was in flight), a Dovecot restart and a
one-minute SMTP outage. Asserts what tests/integration/test_chaos.py asserts and prints kills, take-over times and
throughput.
    .venv/bin/python bench/chaos.py [--new 1400] [--kills 30] [--outage 60] [--workers 3] [--seed N]
Needs Dovecot (scripts/install-dovecot.sh) and the local PostgreSQL (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from mailbot.store import migrate  # noqa: E402
from mailbot.store.db import make_engine  # noqa: E402
from tests.support.chaos import run_chaos  # noqa: E402

ADMIN = os.environ.get("MAILBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new", type=int, default=1400, help="new tickets (replies come on top: 30 %% of the total)")
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the SMTP server is down")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    name = f"mailbot_chaos_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        with tempfile.TemporaryDirectory(prefix="mailbot-chaos-") as tmp:
            report = run_chaos(Path(tmp), url, new=args.new, min_kills=args.kills, seed=args.seed,
                               smtp_outage=args.outage, workers=args.workers, timeout=3 * 3600)
        print(report.summary())
        takes = sorted(report.take_overs)
        if takes:
            print(f"take-over seconds: min {takes[0]:.1f}, median {takes[len(takes) // 2]:.1f}, max {takes[-1]:.1f}")
        print("all assertions held: every message filed once, replies on their tickets, one acknowledgement per ticket, INBOX empty")
        return 0
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
