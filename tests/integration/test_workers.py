"""Several workers on one database: one secret per desk (checked, rotated with a grace period), one reader per mail
source (a lease taken over when its holder dies), and SQLite refusing a second daemon."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.config import Config, parse
from mailbot.errors import ConfigError
from mailbot.store import desk_secrets, source_leases
from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import WorkerHeartbeat
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


def identity(name: str, daemon: DaemonProcess) -> str:
    """The worker identity a daemon of this host started with `[workers] name = name` holds leases under."""
    assert daemon.proc is not None
    return f"{name}@{socket.gethostname()}:{daemon.proc.pid}"


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
        assert lease.owner == a.worker_id == f"a@{socket.gethostname()}:{os.getpid()}"
        # A dies without giving the lease up; once it has run out, B takes the source over and reads on.
        clock_b.advance(timedelta(seconds=7))
        assert b.poll() == 1 and b.held == {"local"}
        assert source_leases.holders(b.sessions)[0].owner == b.worker_id
        clock_a.advance(timedelta(seconds=8))
        assert a.poll() == 0 and a.held == set()  # A, back, finds the source taken
    finally:
        a.close()
        b.close()


def test_the_same_name_in_two_processes_is_two_holders(tmp_path: Path, db_url: str) -> None:
    """The owner is the process, not the configured name: a live process of this host with the same name keeps its
    lease (no renewal under the other's name, no take-over); once its process is gone, the lease is taken at once."""
    host, now, ttl = socket.gethostname(), datetime.now(timezone.utc), timedelta(minutes=10)
    app = App(worker_config(tmp_path, db_url, "desk"))
    try:
        sessions = app.sessions
        alive = source_leases.worker_identity("desk", host, os.getppid())  # the process that started this one
        assert source_leases.hold(sessions, "local", alive, now, ttl, source_leases.local_process_gone).held
        mine = source_leases.hold(sessions, "local", app.worker_id, now, ttl, source_leases.local_process_gone)
        assert app.worker_id.startswith("desk@") and app.worker_id != alive
        assert mine == source_leases.Holding(False, holder=alive)
        [lease] = source_leases.holders(sessions)
        assert lease.owner == alive  # still that process's: neither renewed under its name nor taken over
        source_leases.release(sessions, app.worker_id)  # releases only what this process holds
        assert [row.owner for row in source_leases.holders(sessions)] == [alive]

        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
        gone = source_leases.worker_identity("desk", host, int(ended.stdout))
        source_leases.release(sessions, alive)
        assert source_leases.hold(sessions, "local", gone, now, ttl).held
        taken = source_leases.hold(sessions, "local", app.worker_id, now, ttl, source_leases.local_process_gone)
        assert taken == source_leases.Holding(True, taken_from=gone)  # long before its lease runs out
    finally:
        app.close()


def test_a_held_lease_keeps_a_poll_once_of_the_same_name_from_reading(tmp_path: Path, db_url: str) -> None:
    """This process holds the source under `[workers] name = "desk"`; `mailbot poll --once` with the same config (so
    the same name) in another process must leave it alone, say who holds it, and read it once the lease is free."""
    cfg = worker_config(tmp_path, db_url, "desk", workers={"name": "desk", "lease_seconds": 600})  # outlives the CLI's start
    holder = App(cfg)
    released = False
    try:
        deliver_to_maildir(tmp_path / "maildir", customer_mail("c1@customer.example", "one"), "1")
        holder.hold_sources()
        assert holder.held == {"local"}
        [before] = source_leases.holders(holder.sessions)
        assert before.owner == holder.worker_id == f"desk@{socket.gethostname()}:{os.getpid()}"

        beside = run_mailbot(cfg.path, "poll", "--once")
        assert beside.returncode == 0, beside.stderr
        assert "stored 0 new message(s)" in beside.stdout
        assert f"source local: not read here, worker {holder.worker_id} holds its lease" in beside.stdout
        assert [p.name for p in (tmp_path / "maildir" / "new").iterdir()] == ["1"]  # still waiting to be read
        [after] = source_leases.holders(holder.sessions)
        assert (after.owner, after.acquired_at, after.expires_at) == (before.owner, before.acquired_at, before.expires_at)

        holder.close()  # gives the lease up
        released = True
        alone = run_mailbot(cfg.path, "poll", "--once")
        assert alone.returncode == 0, alone.stderr
        assert "stored 1 new message(s)" in alone.stdout and "not read here" not in alone.stdout
        assert list((tmp_path / "maildir" / "new").iterdir()) == []
    finally:
        if not released:
            holder.close()


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
        taken = f"event=source.taken_over source=local worker={identity('b', b)} previous={identity('a', a)}"
        wait_until(lambda: taken in b.log, timeout=60, what="B to take over")
        outgoing = tmp_path / "b" / "outgoing" / "new"
        wait_until(lambda: outgoing.is_dir() and any(outgoing.iterdir()), timeout=60, what="the acknowledgement")
        assert b.stop(timeout=30) == 0
    finally:
        for d in (a, b):
            if d.running():
                d.kill()


def lease_row(db_url: str) -> tuple[str, datetime, datetime] | None:
    engine = make_engine(db_url)
    try:
        rows = source_leases.holders(session_factory(engine))
    finally:
        engine.dispose()
    return (rows[0].owner, rows[0].acquired_at, rows[0].expires_at) if rows else None


def heartbeats(db_url: str) -> dict[str, timedelta]:
    """Each running daemon's identity → how long it has been beating."""
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            return {w.worker: w.beat_at - w.started_at for w in s.scalars(select(WorkerHeartbeat))}
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_one_config_in_several_processes_gives_one_reader(tmp_path: Path, pg_database: str) -> None:
    """A daemon, a `poll --once` and a second daemon, all with the same config (the same `[workers] name`): only
    the first daemon reads the source while it lives; the second takes it over once the first is killed."""
    from tests.conftest import _truncate_all

    _truncate_all(pg_database)
    fast = {"poll_seconds": 1, "process_seconds": 0.5, "outbox_seconds": 0.5, "sweep_seconds": 30}
    cfg = worker_config(tmp_path, pg_database, "desk", schedule=fast, status={"heartbeat_seconds": 0.5}).path
    a = DaemonProcess(cfg, tmp_path / "a.log").start()
    b = DaemonProcess(cfg, tmp_path / "b.log")
    try:
        a_id = identity("desk", a)
        wait_until(lambda: f"event=source.held source=local worker={a_id}" in a.log, timeout=120, what="A to hold the source")
        held = lease_row(pg_database)
        assert held is not None and held[0] == a_id

        beside = run_mailbot(cfg, "poll", "--once")
        assert beside.returncode == 0, beside.stderr
        assert "stored 0 new message(s)" in beside.stdout
        assert f"source local: not read here, worker {a_id} holds its lease" in beside.stdout

        b.start()
        b_id = identity("desk", b)
        # B has beaten for longer than a lease: its lease job (every lease_seconds / 3) has tried several times.
        wait_until(lambda: heartbeats(pg_database).get(b_id, timedelta(0)) >= timedelta(seconds=6), timeout=120, what="B to run a while")
        assert a_id in heartbeats(pg_database)  # one heartbeat row per process, though the name is the same
        deliver_to_maildir(tmp_path / "maildir", sent_now(customer_mail("c1@customer.example", "one")), "1")
        cur = tmp_path / "maildir" / "cur"
        wait_until(lambda: cur.is_dir() and any(cur.iterdir()), timeout=60, what="the message to be read")
        now_held = lease_row(pg_database)
        assert now_held is not None and now_held[:2] == held[:2]  # still A's, never changed hands
        assert "event=source.held" not in b.log and "event=source.taken_over" not in b.log
        assert "event=source.lost" not in a.log

        a.kill()
        taken = f"event=source.taken_over source=local worker={b_id} previous={a_id}"
        wait_until(lambda: taken in b.log, timeout=60, what="B to take over from the killed A")
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
