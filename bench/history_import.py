#!/usr/bin/env python3
"""History import benchmark: `mailbot poll --history-only` on a Maildir pre-filled with years of threads.

    .venv/bin/python bench/history_import.py [--threads N]

Generates N conversations (tests/support/mailbox_history.py: two to six messages each, customers asking and
support answering, the last five recent and unanswered) into a throw-away Maildir, runs the import as a child
process on SQLite with `--now` at the generator's moment, and prints the wall clock, the rate and what the
command reported (tickets by status, mail queued) and the peak RSS of the largest mailbot process. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.mailbox_history import in_arrival_order, make_history  # noqa: E402
from tests.support.maildir import deliver_to_maildir  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailbot-history-") as tmp:
        base = Path(tmp)
        raws = in_arrival_order(make_history(NOW, args.threads))
        for i, raw in enumerate(raws):
            deliver_to_maildir(base / "maildir", raw, f"{i:06d}.bench")
        config = base / "mailbot.toml"
        config.write_text(
            '[mailbot]\nstate_dir = "state"\nsecret = "bench-secret-0123456789abcdef"\nsupport_address = "support@example.com"\n'
            '[logging]\nlevel = "warning"\n[[maildir]]\nname = "local"\npath = "maildir"\n'
        )
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "mailbot.cli.main", "--config", str(config), "--now", NOW.isoformat(), "poll", "--history-only"],
            capture_output=True, text=True, cwd=ROOT,
        )
        took = time.monotonic() - started
    print(done.stdout.strip())
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        sys.exit(done.returncode)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux: the largest mailbot process
    print(f"{len(raws)} messages in {args.threads} threads: {took:.1f} s, {len(raws) / took:.0f} messages/s, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
