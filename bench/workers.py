#!/usr/bin/env python3
"""Scaling with workers: 1, 2 and 3 `mailbot run` daemons on one PostgreSQL database, one Dovecot folder (read by
whichever worker holds its lease; filing, sending and sweeping are shared through SKIP LOCKED claims).
N new-ticket messages are put into the folder before the workers start; timed from start to the N-th
acknowledgement accepted by the SMTP server. Prints messages/s end to end and the CPU seconds PostgreSQL's processes
spent (from /proc; run as the same user as PostgreSQL or root).
    .venv/bin/python bench/workers.py [--messages 1000] [--workers 1,2,3]"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from mailbot.store import migrate  # noqa: E402
from mailbot.store.db import make_engine  # noqa: E402
from tests.conftest import ACK_ALL, imap_section, write_config  # noqa: E402
from tests.support.chaos import SCHEDULE, counts, new_mail  # noqa: E402
from tests.support.daemon import DaemonProcess  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

ADMIN = os.environ.get("MAILBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_cpu_seconds() -> float:
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() not in ("postgres", "postmaster"):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def one_run(workers: int, messages: int) -> tuple[float, float]:
    name = f"mailbot_scale_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    dovecot = Dovecot().start()
    smtp = SmtpServer().start()
    procs: list[DaemonProcess] = []
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        user = dovecot.add_user()
        for i in range(messages):
            dovecot.deliver(user, new_mail(i)[0])
        with tempfile.TemporaryDirectory(prefix="mailbot-scale-") as tmp:
            cpu0, t0 = postgres_cpu_seconds(), time.monotonic()
            for w in range(workers):
                cfg = write_config(Path(tmp) / f"w{w}.toml", {
                    "mailbot": {"state_dir": f"{tmp}/w{w}", "database_url": url, "support_address": "support@example.com"},
                    "workers": {"name": f"w{w}"}, "intake": {"history": False}, "schedule": SCHEDULE, "rules": {"dir": str(ACK_ALL)},
                    "replies": {"max_auto_replies_per_day": 100000},
                    "smtp": smtp.section(max_automatic_per_hour=0), "imap": [imap_section(dovecot, user, after_fetch="move", batch_size=100)],
                })
                procs.append(DaemonProcess(cfg, Path(tmp) / f"w{w}.log").start())
            wait_until(lambda: len(smtp.handler.received) >= messages, timeout=3600, what="every acknowledgement")
            seconds, cpu = time.monotonic() - t0, postgres_cpu_seconds() - cpu0
            state = counts(url)
            assert state["filed"] == messages and state["acks"] == messages, state
            for p in procs:
                p.stop(timeout=60)
        return messages / seconds, cpu
    finally:
        for p in procs:
            if p.running():
                p.kill()
        smtp.stop()
        dovecot.destroy()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--workers", default="1,2,3")
    args = ap.parse_args()
    print(f"{'workers':>8} {'msg/s':>8} {'postgres CPU s':>15}   ({args.messages} messages, {os.cpu_count()} cores)")
    for n in (int(x) for x in args.workers.split(",")):
        rate, cpu = one_run(n, args.messages)
        print(f"{n:>8} {rate:>8.1f} {cpu:>15.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
