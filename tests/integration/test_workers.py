"""Several workers on one database: one secret per desk (checked, rotated with a grace period), one reader per mail
source (a lease taken over when its holder dies), and SQLite refusing a second daemon."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mailbot.app import App
from mailbot.config import Config, parse
from mailbot.errors import ConfigError
from mailbot.store import desk_secrets, source_leases
from mailbot.time_source import FixedClock
from tests.conftest import ACK_ALL, write_config
from tests.support.cli import run_mailbot
from tests.support.daemon import DaemonProcess
from tests.support.flow import customer_mail, sent_now
from tests.support.maildir import deliver_to_maildir
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # the daemon, the CLI, and leases timed on a real clock


def worker_config(tmp_path: Path, db_url: str, name: str, secret: str | None = None, **extra: Any) -> Config:
    desk: dict[str, Any] = {"state_dir": str(tmp_path / name), "database_url": db_url, "support_address": "support@example.com"}
    if secret is not None:
        desk["secret"] = secret
    sections: dict[str, Any] = {
        "mailbot": desk, "workers": {"name": name, "lease_seconds": 6}, "rules": {"dir": str(ACK_ALL)},
        "maildir": [{"name": "local", "path": str(tmp_path / "maildir")}], **extra,
    }
    path = write_config(tmp_path / f"{name}.toml", sections)
    return parse(path.read_text(), path)


# --- one secret per desk ----------------------------------------------------------------------------

def test_workers_without_a_configured_secret_share_the_databases(tmp_path: Path, db_url: str) -> None:
    a = App(worker_config(tmp_path, db_url, "a"), FixedClock())
    b = App(worker_config(tmp_path, db_url, "b"), FixedClock())
    try:
        address = a.desk.signer.reply_address("support@example.com", 42)
        token = b.desk.signer.token_in_address(address, "support@example.com")
        assert token is not None and token.ticket_id == 42  # B reads what A signed
        assert a.secrets.fingerprint == b.secrets.fingerprint
    finally:
        a.close()
        b.close()


def test_a_configured_secret_is_adopted_then_enforced(tmp_path: Path, db_url: str) -> None:
    first = App(worker_config(tmp_path, db_url, "a", secret="the-desks-secret-0123456789"), FixedClock())
    assert first.secrets.current == b"the-desks-secret-0123456789"
    first.close()
    same = App(worker_config(tmp_path, db_url, "b", secret="the-desks-secret-0123456789"), FixedClock())
    assert same.secrets.current == b"the-desks-secret-0123456789"
    same.close()
    other = App(worker_config(tmp_path, db_url, "c", secret="another-secret-0123456789"), FixedClock())
    with pytest.raises(ConfigError) as info:
        other.secrets
    assert "mailbot.secret" in str(info.value) and "disagrees with the desk's secret in the database" in str(info.value)
    other.close()


def test_a_worker_with_a_disagreeing_secret_refuses_to_start(tmp_path: Path, db_url: str) -> None:
    first = App(worker_config(tmp_path, db_url, "a"), FixedClock())
    first.secrets  # the database now holds a secret
    first.close()
    cfg = worker_config(tmp_path, db_url, "b", secret="not-the-desks-secret-0123")
    done = run_mailbot(cfg.path, "run", "--once")
    assert done.returncode == 2 and "disagrees with the desk's secret in the database" in done.stderr
    checked = run_mailbot(cfg.path, "check-config", "--connect")
    assert checked.returncode == 2 and "different secrets" in checked.stdout


def test_the_legacy_state_folder_secret_is_adopted(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "secret").write_text("secret-from-an-older-version-0123\n")
    app = App(worker_config(tmp_path, db_url, "a"), FixedClock())
    assert app.secrets.current == b"secret-from-an-older-version-0123"
    app.close()


def test_rotation_keeps_old_reply_addresses_valid_for_the_grace_period(tmp_path: Path, db_url: str) -> None:
    clock = FixedClock()
    cfg = worker_config(tmp_path, db_url, "a")
    before = App(cfg, clock)
    old_address = before.desk.signer.reply_address("support@example.com", 7)
    before.close()
    rotating = App(cfg, clock)
    old_fp, new_fp = desk_secrets.rotate(rotating.sessions, clock.now(), timedelta(days=30))
    rotating.close()
    assert old_fp != new_fp
    after = App(cfg, clock)
    assert after.secrets.fingerprint == new_fp
    assert after.desk.signer.token_in_address(old_address, "support@example.com") is not None  # still verifies
    assert after.desk.signer.reply_address("support@example.com", 7) != old_address  # signed with the new one
    after.close()
    clock.advance(timedelta(days=31))
    expired = App(cfg, clock)
    assert expired.desk.signer.token_in_address(old_address, "support@example.com") is None
    expired.close()


# --- one reader per source --------------------------------------------------------------------------

def test_one_reader_per_source_and_take_over_when_the_lease_runs_out(tmp_path: Path, db_url: str) -> None:
    clock_a, clock_b = FixedClock(), FixedClock()
    a = App(worker_config(tmp_path, db_url, "a"), clock_a)
    b = App(worker_config(tmp_path, db_url, "b"), clock_b)
    try:
        deliver_to_maildir(tmp_path / "maildir", customer_mail("c1@customer.example", "one"), "1")
        assert a.poll() == 1
        deliver_to_maildir(tmp_path / "maildir", customer_mail("c2@customer.example", "two"), "2")
        assert b.poll() == 0 and b.held == set()  # A holds the source
        [lease] = source_leases.holders(a.sessions)
        assert lease.owner == "a"
        # A dies without giving the lease up; once it has run out, B takes the source over and reads on.
        clock_b.advance(timedelta(seconds=7))
        assert b.poll() == 1 and b.held == {"local"}
        assert source_leases.holders(b.sessions)[0].owner == "b"
        clock_a.advance(timedelta(seconds=8))
        assert a.poll() == 0 and a.held == set()  # A, back, finds the source taken
    finally:
        a.close()
        b.close()


def test_a_worker_that_stops_cleanly_hands_its_sources_over_at_once(tmp_path: Path, db_url: str) -> None:
    a = App(worker_config(tmp_path, db_url, "a"), FixedClock())
    b = App(worker_config(tmp_path, db_url, "b"), FixedClock())
    a.poll()
    assert a.held == {"local"}
    a.close()  # releases
    deliver_to_maildir(tmp_path / "maildir", customer_mail("c1@customer.example", "one"), "1")
    assert b.poll() == 1
    b.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_daemon_s_source_is_taken_over_by_another(tmp_path: Path, pg_database: str) -> None:
    from tests.conftest import _truncate_all

    _truncate_all(pg_database)
    fast = {"poll_seconds": 1, "process_seconds": 0.5, "outbox_seconds": 0.5, "sweep_seconds": 30}
    cfg_a = worker_config(tmp_path, pg_database, "a", schedule=fast).path
    cfg_b = worker_config(tmp_path, pg_database, "b", schedule=fast).path
    a = DaemonProcess(cfg_a, tmp_path / "a.log").start()
    wait_until(lambda: "event=source.held" in a.log, timeout=120, what="A to hold the source")
    b = DaemonProcess(cfg_b, tmp_path / "b.log").start()
    try:
        wait_until(lambda: "event=daemon.started" in b.log, timeout=120, what="B to start")
        a.kill()
        deliver_to_maildir(tmp_path / "maildir", sent_now(customer_mail("late@customer.example", "after the kill")), "1")
        wait_until(lambda: "event=source.taken_over source=local worker=b previous=a" in b.log, timeout=60, what="B to take over")
        outgoing = tmp_path / "b" / "outgoing" / "new"
        wait_until(lambda: outgoing.is_dir() and any(outgoing.iterdir()), timeout=60, what="the acknowledgement")
        assert b.stop(timeout=30) == 0
    finally:
        for d in (a, b):
            if d.running():
                d.kill()


def test_sqlite_serves_one_daemon_and_cli_commands_beside_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    cfg = worker_config(tmp_path, url, "a", schedule={"poll_seconds": 1}).path
    first = DaemonProcess(cfg, tmp_path / "a.log").start()
    try:
        wait_until(lambda: "event=daemon.started" in first.log, timeout=120, what="the first daemon to start")
        second = run_mailbot(cfg, "run")
        assert second.returncode == 2
        assert "already uses the SQLite database" in second.stderr and "PostgreSQL" in second.stderr
        assert run_mailbot(cfg, "tickets", "list").returncode == 0
        assert first.stop(timeout=30) == 0
        # Once it has stopped, a daemon starts again.
        assert run_mailbot(cfg, "run", "--once").returncode == 0
    finally:
        if first.running():
            first.kill()
