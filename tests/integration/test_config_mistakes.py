"""Every configuration mistake ops make on day one ends in one clear line and a non-zero exit — never a traceback —
and `run` does not start on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, run_mailbot

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)


def init(tmp_path: Path) -> Path:
    done = run_mailbot(None, "init", str(tmp_path / "etc"), "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 0, done.stderr
    return tmp_path / "etc" / "mailbot.toml"


def edited(config: Path, old: str, new: str) -> Path:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    return config


def assert_clear(done: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, done.stderr


@pytest.mark.parametrize("command", [("check-config",), ("run",), ("poll", "--once")])
def test_missing_secret_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = edited(init(tmp_path), 'secret_file = "secret"', 'secret_file = "gone"')
    assert_clear(run_mailbot(config, *command, timeout=60), 2, "mailbot.secret_file", "gone' does not exist")


@pytest.mark.parametrize("command", [("check-config",), ("run",)])
def test_state_dir_that_cannot_be_used(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = init(tmp_path)
    (tmp_path / "a-file").write_text("")
    edited(config, f'state_dir = "{tmp_path / "state"}"', f'state_dir = "{tmp_path / "a-file" / "state"}"')
    assert_clear(run_mailbot(config, *command, timeout=60), 2, "mailbot.state_dir", "cannot be used")


def test_database_down_is_one_line_with_the_password_hidden(tmp_path: Path) -> None:
    config = edited(init(tmp_path), '# database_url = ""', 'database_url = "postgresql+psycopg://mailbot:s3cret@127.0.0.1:9/mailbot"')
    done = run_mailbot(config, "run", timeout=60)
    assert_clear(done, 3, "mailbot: database postgresql+psycopg://mailbot:***@127.0.0.1:9/mailbot:")
    assert "s3cret" not in done.stderr


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    assert_clear(run_mailbot(init(tmp_path), "rules", "test", str(tmp_path / "missing.eml")), 1, "missing.eml: No such file")


def test_output_cut_short_by_the_reader(tmp_path: Path) -> None:
    """`mailbot escalations … | head`: the reader goes away; mailbot stops quietly."""
    config = init(tmp_path)
    assert run_mailbot(config, "db", "upgrade").returncode == 0
    cmd = [sys.executable, "-m", "mailbot", "--config", str(config), "escalations", "--at", "2026-12-01 10:00"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) in (0, 141)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
