"""Running under systemd: the unit file verifies, and the daemon speaks sd_notify (READY, WATCHDOG, STOPPING)."""

from __future__ import annotations

import pytest

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import write_config
from tests.support.cli import ROOT
from tests.support.daemon import DaemonProcess

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)

UNIT = ROOT / "contrib" / "systemd" / "mailbot.service"


def test_unit_file_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd)"
    unit = tmp_path / "mailbot.service"
    unit.write_text(UNIT.read_text().replace("/opt/mailbot/.venv", str(ROOT / ".venv")))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    text = UNIT.read_text()
    for hardening in ("User=mailbot", "ProtectSystem=strict", "StateDirectory=mailbot", "Restart=on-failure", "NoNewPrivileges=true"):
        assert hardening in text


def test_daemon_notifies_systemd(tmp_path: Path, db_url: str) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(60)
    cfg = write_config(
        tmp_path / "m.toml",
        {
            "mailbot": {"state_dir": str(tmp_path / "s"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"},
            "maildir": [{"name": "local", "path": str(tmp_path / "Maildir")}],
        },
    )
    daemon = DaemonProcess(cfg, tmp_path / "d.log", env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}).start()
    got: list[str] = []
    try:
        deadline = time.monotonic() + 60
        # READY=1 comes once the analysis worker is warm; watchdog pings may come before it (polling already runs).
        while not (any("READY=1" in g for g in got) and any("WATCHDOG=1" in g for g in got)) and time.monotonic() < deadline:
            got.append(listener.recv(4096).decode())
        assert any("READY=1" in g for g in got), got
        assert any("WATCHDOG=1" in g for g in got), got
        assert daemon.stop() == 0
        while not any("STOPPING=1" in g for g in got):
            got.append(listener.recv(4096).decode())
    finally:
        listener.close()
        if daemon.running():
            daemon.kill()
