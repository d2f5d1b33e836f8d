#!/usr/bin/env python3
"""Hostile-mail benchmark: for each kind of crafted message (tests/support/hostile_messages.py), the time and peak
memory to file it, and the delay it causes to an ordinary message sent beside it.

    .venv/bin/python bench/hostile.py [--kinds digit-line,long-word,...] [--rounds N] [--json FILE]

1. Filing: a fresh child process builds the desk (SQLite in a temp dir, rules tests/data/rules/ack-all plus a
   rule with the backtracking-prone pattern `\\A\\W*(\\w+\\W*){0,4}\\Z`, one agent so every message is
   quote-stripped for a notification), stores the message as intake would, and times `App.process()`:
   parse, analysis, filing, rules, acknowledgement and notification, in one process (isolate = false), so
   the figure is the work itself. Peak RSS is the child's VmHWM after filing; the RSS before filing (imports,
   language models) is printed beside it.
2. Delay: the real daemon (`mailbot run`, Maildir source, aiosmtpd on loopback, the analysis worker on)
   gets the hostile message and, right after it, an ordinary question from another customer. Delay = the
   moment the SMTP server accepted the ordinary message's acknowledgement minus the moment it was delivered;
   the baseline is the same for an ordinary message alone. The issue's bar: under 5 s above the baseline.

This prints figures; it is not a test. Nothing under mailbot/ or tests/ is modified.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import ACK_ALL, write_config  # noqa: E402
from tests.support.daemon import DaemonProcess  # noqa: E402
from tests.support.hostile_messages import BACKTRACKING_RULE, KINDS, ordinary  # noqa: E402
from tests.support.maildir import deliver_to_maildir  # noqa: E402
from tests.support.smtp import Arrivals, SmtpServer  # noqa: E402


def rules_dir(base: Path) -> Path:
    rules = base / "rules"
    shutil.copytree(ACK_ALL, rules)
    (rules / "05-unclear.toml").write_text(
        f"[[rule]]\nname = \"unclear\"\nwhen = {{ new_ticket = true, body_matches = '''{BACKTRACKING_RULE}''' }}\n"
        "then = { tags = [\"unclear\"] }\ncontinue = true\n",
        encoding="utf-8",
    )
    return rules


def config(base: Path, smtp: dict[str, Any] | None, maildir: Path | None, isolate: bool) -> Path:
    body: dict[str, Any] = {
        "mailbot": {
            "state_dir": str(base / "state"), "database_url": f"sqlite:///{base / 'mailbot.db'}",
            "secret": "bench-secret-0123456789abcdef", "support_address": "support@example.com",
        },
        "schedule": {"poll_seconds": 0.2, "process_seconds": 0.2, "outbox_seconds": 0.2, "sweep_seconds": 5},
        "rules": {"dir": str(rules_dir(base))},
        "processing": {"isolate": isolate},
        "agents": {"require_authentication": False},
        "agent": [{"address": "agent@example.com", "name": "Agent"}],
        "replies": {"max_auto_replies_per_day": 1000},
    }
    if smtp is not None:
        body["smtp"] = smtp
    if maildir is not None:
        body["maildir"] = [{"name": "inbox", "path": str(maildir)}]
    return write_config(base / "mailbot.toml", body)


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def file_one(kind: str) -> None:
    """In a child process: file one message of `kind`; print JSON with seconds and memory."""
    from mailbot.app import App
    from mailbot.config import load
    from tests.support.flow import deliver

    base = Path(tempfile.mkdtemp(prefix="hostile-file-"))
    try:
        app = App(load(config(base, None, None, isolate=False)))
        app.ensure_schema()
        app.process()  # warm: imports and language models load before the clock starts
        deliver(app.sessions, app.clock, ordinary("warm-up", "warm@customer.test"))
        app.process()
        raw = KINDS[kind](kind) if kind != "ordinary" else ordinary("alone")
        deliver(app.sessions, app.clock, raw)
        before = _rss_kb("VmRSS")
        started = time.perf_counter()
        stats = app.process()
        seconds = time.perf_counter() - started
        print(json.dumps({
            "kind": kind, "bytes": len(raw), "seconds": seconds, "filed": stats.done,
            "rss_before_mb": before / 1024, "peak_rss_mb": _rss_kb("VmHWM") / 1024,
        }))
        app.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def filing_figures(kinds: list[str]) -> list[dict[str, Any]]:
    out = []
    for kind in ["ordinary", *kinds]:
        result = subprocess.run(
            [sys.executable, __file__, "--file-one", kind], capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=1800,
        )
        if result.returncode != 0:
            raise SystemExit(f"filing {kind} failed:\n{result.stderr[-3000:]}")
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


def delay_figures(kinds: list[str], rounds: int) -> tuple[float, dict[str, list[float]]]:
    base = Path(tempfile.mkdtemp(prefix="hostile-delay-"))
    seen = Arrivals()
    server = SmtpServer().start()
    server.handler.on_message = seen
    maildir = base / "Maildir"
    daemon = DaemonProcess(config(base, server.section(), maildir, isolate=True), base / "daemon.log").start()
    daemon.wait_for_log("event=intake.first_seen", timeout=300)  # mail delivered before would be history
    n = 0

    def acknowledged(raw: bytes, customer: str) -> float:
        nonlocal n
        n += 1
        sent = time.monotonic()
        deliver_to_maildir(maildir, raw, f"{n:04d}-ordinary")
        return seen.wait(customer, timeout=300) - sent

    try:
        daemon.wait_for_log("event=analysis.worker_ready", timeout=120)
        baselines = [acknowledged(ordinary(f"base-{i}", f"base{i}@customer.test"), f"base{i}@customer.test") for i in range(max(3, rounds))]
        delays: dict[str, list[float]] = {k: [] for k in kinds}
        for r in range(rounds):
            for kind in kinds:
                n += 1
                deliver_to_maildir(maildir, KINDS[kind](f"{kind}-{r}"), f"{n:04d}-hostile")
                customer = f"beside-{kind}-{r}@customer.test"
                delays[kind].append(acknowledged(ordinary(f"beside-{kind}-{r}", customer), customer))
        return statistics.median(baselines), delays
    finally:
        daemon.stop(timeout=60)
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--rounds", type=int, default=3, help="hostile+ordinary pairs per kind for the delay")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--file-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.file_one:
        file_one(args.file_one)
        return
    kinds = [k for k in args.kinds.split(",") if k]
    filing = filing_figures(kinds)
    baseline, delays = delay_figures(kinds, args.rounds)
    print(f"{'kind':<16} {'size':>9} {'file it':>9} {'peak RSS':>9} {'RSS before':>10} {'delay beside it (max of ' + str(args.rounds) + ')':>28}")
    for row in filing:
        kind = row["kind"]
        delay = f"{max(delays[kind]):.2f} s" if kind in delays else f"{baseline:.2f} s (baseline)"
        print(f"{kind:<16} {row['bytes'] / 1024:>7.0f} KB {row['seconds']:>7.3f} s {row['peak_rss_mb']:>6.0f} MB {row['rss_before_mb']:>7.0f} MB {delay:>28}")
    worst = max(max(v) for v in delays.values()) if delays else 0.0
    print(f"worst delay beside a hostile message: {worst:.2f} s (baseline {baseline:.2f} s; the bar is baseline + 5 s)")
    if args.json:
        args.json.write_text(json.dumps({"filing": filing, "baseline": baseline, "delays": delays}, indent=2))


if __name__ == "__main__":
    main()
