#!/usr/bin/env python3
"""Outage benchmark: the real daemon under IMAP IDLE while its Dovecot is stopped and started again.

    .venv/bin/python bench/outage.py [--outage-seconds S] [--reconnect-max S] [--tree DIR]

A throw-away Dovecot (plaintext on loopback), an in-process SMTP server and a SQLite database in a temp dir;
`mailbot run` with polls ten minutes apart, so only IDLE brings mail in quickly. One message is acknowledged,
Dovecot is stopped for S seconds (default 30), started again, and a second message is APPENDed. Printed: the
daemon's CPU time while the server was down (from /proc/PID/stat, all threads), the time from the APPEND after
the restart to its acknowledgement, and the warning and error lines logged. `--tree DIR` runs the daemon from
another checkout (for example the commit before this benchmark: `git worktree add /tmp/before HEAD~1`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402

from tests.conftest import ACK_ALL, imap_section, write_config  # noqa: E402
from tests.support.dovecot import Dovecot, ImapUser  # noqa: E402
from tests.support.flow import customer_mail  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def append(server: Dovecot, user: ImapUser, raw: bytes) -> None:
    with IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10) as c:
        c.login(user.name, user.password)
        c.append("INBOX", raw)


def wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument("--reconnect-max", type=float, default=300.0, help="[[imap]] reconnect_max_seconds (default 300)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose mailbot runs (default: this one)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mailbot-outage-"))
    server = Dovecot(tls=False).start()
    smtp = SmtpServer().start()
    user = server.add_user()
    account = imap_section(server, user, security="plain", allow_plaintext=True, after_fetch="move",
                           reconnect_max_seconds=args.reconnect_max)
    cfg = write_config(work / "mailbot.toml", {
        "mailbot": {"state_dir": str(work / "state"), "database_url": f"sqlite:///{work / 'mailbot.db'}",
                    "secret": "bench-secret-0123456789abcdef", "support_address": "support@example.com"},
        "schedule": {"poll_seconds": 600},
        "rules": {"dir": str(ACK_ALL)},
        "smtp": smtp.section(),
        "imap": [account],
    })
    log_path = work / "daemon.log"
    env = {**os.environ, "PYTHONPATH": str(args.tree)}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mailbot.cli.main", "--config", str(cfg), "run"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=args.tree)
    try:
        if not wait_for(lambda: "event=imap.idle " in log_path.read_text(), 60):
            raise SystemExit(f"the daemon never started IDLE:\n{log_path.read_text()[-2000:]}")
        append(server, user, customer_mail("a@customer.example", "Before the outage"))
        smtp.handler.wait_for(1, timeout=60)

        server.stop()
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.outage_seconds)
        cpu, down = cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
        server.start()
        t1 = time.monotonic()
        append(server, user, customer_mail("b@customer.example", "After the restart"))
        acked = wait_for(lambda: len(smtp.handler.received) >= 2, 120)
        latency = time.monotonic() - t1
    finally:
        proc.terminate()
        proc.wait(30)
        smtp.stop()
        server.destroy()
    lines = log_path.read_text(errors="replace").splitlines()
    loud = [line for line in lines if " level=warning " in f" {line} " or " level=error " in f" {line} "]
    print(f"tree: {args.tree}")
    print(f"CPU while Dovecot was down: {cpu:.2f} s in {down:.1f} s ({100 * cpu / down:.1f} % of a core)")
    print("APPEND after the restart -> acknowledgement: " + (f"{latency:.1f} s" if acked else "none within 120 s"))
    print(f"warning and error lines: {len(loud)}")
    for line in loud[:10]:
        print("  " + line[:200])
    print(f"reproduce: .venv/bin/python bench/outage.py --outage-seconds {args.outage_seconds:g} "
          f"--reconnect-max {args.reconnect_max:g}" + (f" --tree {args.tree}" if args.tree != ROOT else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
