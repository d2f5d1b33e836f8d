"""The production install path of the README, from a clean build: wheel, fresh virtualenv, `mailbot init`,
`check-config`, `run --once` on a Maildir — with nothing from the checkout (run from a folder outside it)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email import message_from_bytes
from pathlib import Path

import pytest

from tests.support.cli import ROOT
from tests.support.flow import customer_mail, sent_now, sent_now

pytestmark = [pytest.mark.slow]


def run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAILBOT_CONFIG", "VIRTUAL_ENV")}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with only the wheel built from a clean export of the checkout (and its dependencies)."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    # Exactly what is committed, as a clean clone would have it (no .venv, no build leftovers).
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    # Files of this change not yet committed are exported too, so the test checks the tree as it stands.
    for name in subprocess.run(["git", "-C", str(ROOT), "ls-files", "-m", "-o", "--exclude-standard"], capture_output=True, text=True, check=True).stdout.split():
        src, dst = ROOT / name, source / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.unlink(missing_ok=True)
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            dst.write_bytes(src.read_bytes())
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(source)], cwd=base)
    (wheel,) = (base / "dist").glob("mailbot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for preset in ("default", "support-period", "license-age"):
        assert f"mailbot/presets/{preset}/plans.toml" in names, f"the wheel lacks the {preset} preset"
    assert "mailbot/store/migrations/env.py" in names and "mailbot/templates/ack.en.j2" in names
    assert "mailbot/config.example.toml" in names
    assert not [n for n in names if n.startswith("tests/")]
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=base)
    return venv


def test_wheel_init_check_config_and_run_once_on_a_maildir(installed: Path, tmp_path: Path) -> None:
    mailbot = str(installed / "bin" / "mailbot")
    etc, state = tmp_path / "etc", tmp_path / "state"
    assert run([mailbot, "--version"], cwd=tmp_path).stdout.startswith("mailbot ")
    assert "init" in run([str(installed / "bin" / "python"), "-m", "mailbot", "--help"], cwd=tmp_path).stdout

    run([mailbot, "init", str(etc), "--preset", "license-age", "--state-dir", str(state)], cwd=tmp_path)
    assert (etc / "secret").stat().st_mode & 0o777 == 0o600
    assert (etc / "rules" / "plans.toml").exists() and (etc / "config.example.toml").exists()
    config = str(etc / "mailbot.toml")
    checked = run([mailbot, "--config", config, "check-config"], cwd=tmp_path)
    assert "OK" in checked.stdout and str(etc / "rules") in checked.stdout
    run([mailbot, "--config", config, "rules", "check"], cwd=tmp_path)

    # A copy of config.example.toml validates as it stands (given the passwords it names in the environment).
    example = tmp_path / "elsewhere" / "mailbot.toml"
    example.parent.mkdir()
    example.write_text((etc / "config.example.toml").read_text())
    env_run = subprocess.run(
        [mailbot, "--config", str(example), "check-config"], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": os.environ["PATH"], "MAILBOT_IMAP_PASSWORD": "x", "MAILBOT_SMTP_PASSWORD": "y"}, timeout=120,
    )
    assert env_run.returncode == 0, env_run.stderr

    run([mailbot, "--config", config, "db", "upgrade"], cwd=tmp_path)
    (state / "maildir" / "new").mkdir(parents=True, exist_ok=True)
    for sub in ("cur", "tmp"):
        (state / "maildir" / sub).mkdir(exist_ok=True)
    # Connected to the mailbox first: what it already holds is history, filed but not answered.
    run([mailbot, "--config", config, "poll", "--history-only"], cwd=tmp_path)
    (state / "maildir" / "new" / "1.eml").write_bytes(sent_now(customer_mail("alice@customer.example", "The export fails")))
    run([mailbot, "--config", config, "run", "--once"], cwd=tmp_path)
    sent = list((state / "outgoing" / "new").iterdir())
    assert len(sent) == 1
    ack = message_from_bytes(sent[0].read_bytes())
    assert ack["To"] == "alice@customer.example" and ack["Subject"].startswith("[#1] ")
