"""Run the real `mailbot` command in a child process, as ops and systemd do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_mailbot(
    config: Path | None, *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mailbot.cli.main"]
    if config is not None:
        cmd += ["--config", str(config)]
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONPATH", str(ROOT))
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd or ROOT)
