"""Start the real `mailbot run` daemon as a child process, and stop or kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import ROOT


class DaemonProcess:
    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> "DaemonProcess":
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailbot.cli.main", "--config", str(self.config), "run", *extra],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) before logging {text!r}:\n{self.log[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"daemon did not log {text!r} within {timeout}s:\n{self.log[-3000:]}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    def cpu_seconds(self) -> float:
        """User plus system CPU time the daemon (all its threads) has used so far, from /proc/PID/stat."""
        assert self.proc is not None
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.splitlines() if text in line]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
