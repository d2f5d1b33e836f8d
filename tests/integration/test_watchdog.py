"""The systemd notify protocol as the real daemon speaks it, read from a local NOTIFY_SOCKET: READY, watchdog
pings that stop when a job hangs in a thread, RELOADING/READY around SIGHUP, and a one-line STATUS."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ACK_ALL, write_config
from tests.support.daemon import DaemonProcess
from tests.support.flow import customer_mail, sent_now
from tests.support.maildir import deliver_to_maildir

pytestmark = [pytest.mark.slow]


class NotifySocket:
    """What systemd would receive: one datagram per sd_notify call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[str] = []

    def next(self, timeout: float = 30.0) -> str:
        self.sock.settimeout(timeout)
        message = self.sock.recv(65536).decode()
        self.received.append(message)
        return message

    def wait_for(self, predicate: str, timeout: float = 30.0) -> str:
        """The first message from now on that contains `predicate` (a line such as READY=1)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(deadline - time.monotonic(), 0.01))
            if predicate in message.splitlines():
                return message

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_watchdog_pings_only_while_jobs_progress(tmp_path: Path, db_url: str, notify: NotifySocket) -> None:
    maildir = tmp_path / "Maildir"
    cfg = write_config(tmp_path / "mailbot.toml", {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
                    "support_address": "support@example.com"},
        "schedule": {"poll_seconds": 0.5, "process_seconds": 0.5, "outbox_seconds": 0.5, "sweep_seconds": 1, "stall_seconds": 3},
        "rules": {"dir": str(ACK_ALL)},
        "maildir": [{"name": "local", "path": str(maildir)}],
    })
    log = tmp_path / "daemon.log"
    log.touch()
    st = os.stat(log)
    # As under systemd: stderr goes to the journal, whose stream JOURNAL_STREAM names (device:inode).
    env = {
        "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000", "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
        "MAILBOT_HANG_AT": "process.after_claim",
    }
    daemon = DaemonProcess(cfg, log, env=env).start()
    try:
        notify.wait_for("READY=1")
        ping = notify.wait_for("WATCHDOG=1")
        assert re.search(r"^STATUS=backlog 0, outbox 0 queued, last poll (\d\d:\d\d:\d\d UTC|not yet)$", ping, re.M), ping

        daemon.signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1")
        usec = int(re.search(r"^MONOTONIC_USEC=(\d+)$", reloading, re.M).group(1))  # type: ignore[union-attr]
        assert abs(usec - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000) < 60_000_000
        notify.wait_for("READY=1")
        daemon.wait_for_log("event=rules.reloaded")
        notify.wait_for("WATCHDOG=1")  # still healthy after the reload

        # A message whose processing hangs in its worker thread: the process job stops showing progress.
        deliver_to_maildir(maildir, sent_now(customer_mail("a@customer.example", "Hangs")), "1.test")
        daemon.wait_for_log("event=job.stuck", timeout=60)
        while not notify.next().startswith("STATUS=stuck"):
            pass  # pings sent before the job was found stuck, still queued in the socket
        later = [notify.next() for _ in range(4)]  # the daemon keeps reporting, but no longer pings
        assert not [m for m in later if "WATCHDOG=1" in m.splitlines()], later
        assert all(m.startswith("STATUS=stuck: process for ") for m in later), later
        assert daemon.running()  # systemd, not mailbot, ends it (WatchdogSec= elapses without a ping)
    finally:
        if daemon.running():
            daemon.kill()
    stuck = daemon.lines("event=job.stuck")
    assert len(stuck) == 1 and stuck[0].startswith("<3>level=error event=job.stuck job=process ")
    # Every line carries its syslog priority for journald (`journalctl -p warning` finds the stuck job).
    lines = daemon.log.splitlines()
    assert lines and all(re.match(r"<[3467]>level=", line) for line in lines), lines
    assert [line for line in lines if line.startswith("<6>")] and not [line for line in lines if "time=" in line]
