"""Operating the desk from the command line: `status` and its exit code, `queues`, `--json`, `outbox flush` and
`cancel`, `tickets list --due-within/--breached`, exit codes, and read-only commands that leave the schema alone."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Outbox, Ticket
from mailbot.time_source import FixedClock
from tests.support.cli import run_mailbot
from tests.support.flow import customer_mail
from tests.support.maildir import deliver_to_maildir
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)



@pytest.fixture
def desk(make_config, tmp_path: Path, smtp: SmtpServer, clock: FixedClock) -> Iterator[App]:
    """A desk with one Maildir source and the real SMTP server; a second back-off step of ten minutes."""
    config = make_config(
        smtp=smtp.section(retry_base_seconds=600), maildir=[{"name": "local", "path": str(tmp_path / "Maildir")}],
        intake={"history": False},  # mail put in the Maildir before the first poll is new mail here
    )
    app = App(config, clock)
    app.ensure_schema()
    yield app
    app.close()


def mailbot(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, on the desk's config, at the test clock's instant."""
    assert app.config.path is not None
    return run_mailbot(app.config.path, "--now", app.clock.now().isoformat(), *args)


def receive(app: App, tmp_path: Path, *senders: str) -> None:
    for n, sender in enumerate(senders):
        deliver_to_maildir(tmp_path / "Maildir", customer_mail(sender, f"Question {n}"), f"{n}.{sender}")
    app.poll()
    app.process()


def checks(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in json.loads(result.stdout)["checks"]}


def test_status_exit_code_follows_the_worst_check(desk: App, tmp_path: Path, clock: FixedClock, smtp: SmtpServer) -> None:
    nobody = mailbot(desk, "status")
    assert nobody.returncode == 2, nobody.stdout + nobody.stderr
    assert nobody.stdout.startswith("MAILBOT CRITICAL")
    assert "no daemon has ever reported" in nobody.stdout and "source local: never polled successfully" in nobody.stdout

    desk.heartbeat(clock.now())
    receive(desk, tmp_path, "a@customer.example")
    healthy = mailbot(desk, "status", "--json")
    assert healthy.returncode == 0, healthy.stdout
    report = json.loads(healthy.stdout)
    assert report["status"] == "ok" and report["exit_code"] == 0
    assert list(report) == ["status", "exit_code", "now", "checks", "workers", "sources", "inbound", "outbox", "tickets", "automatic_mail"]
    assert report["outbox"]["queued"] == 1 and report["inbound"]["pending"] == 0
    [source] = report["sources"]
    assert source["name"] == "local" and source["last_success_at"] == clock.now().isoformat() and not source["failing"]
    [worker] = report["workers"]
    assert worker["heartbeat_at"] == clock.now().isoformat()

    # Twenty minutes without a heartbeat or a poll: critical by default, fine with looser thresholds.
    clock.advance(timedelta(minutes=20))
    stale = mailbot(desk, "status", "--json")
    assert stale.returncode == 2
    assert checks(stale)["workers"] == "critical" and checks(stale)["source local"] == "warning"
    loose = desk.config.path.read_text() + (  # type: ignore[union-attr]
        "\n[status]\nheartbeat_warning_seconds = 3600\nheartbeat_critical_seconds = 7200\n"
        "poll_warning_seconds = 3600\npoll_critical_seconds = 7200\n"
    )
    desk.config.path.write_text(loose)  # type: ignore[union-attr]
    assert mailbot(desk, "status").returncode == 0

    # Mail the server refuses for good is a warning until someone looks at it.
    smtp.handler.script = ["reject"]
    sent = mailbot(desk, "outbox", "flush")
    assert sent.returncode == 1 and "failed 1" in sent.stdout
    refused = mailbot(desk, "status")
    assert refused.returncode == 1 and "WARNING  outbox: 0 queued, 0 retrying, 0 held, 1 failed" in refused.stdout


def test_queues_flush_and_cancel(desk: App, tmp_path: Path, clock: FixedClock, smtp: SmtpServer) -> None:
    receive(desk, tmp_path, "a@customer.example")
    smtp.handler.script = ["tempfail"]
    first = mailbot(desk, "outbox", "flush")
    assert first.returncode == 1 and "retry later 1" in first.stdout
    receive(desk, tmp_path, "b@customer.example")

    queued = json.loads(mailbot(desk, "queues", "--json").stdout)
    assert [(r["queue"], r["status"]) for r in queued] == [("outbox", "queued"), ("outbox", "queued")]
    retrying = next(r for r in queued if r["attempts"] == 1)
    assert "451" in retrying["last_error"]
    wait = datetime.fromisoformat(retrying["next_attempt_at"]) - clock.now()
    assert timedelta(seconds=600) <= wait < timedelta(seconds=660)  # the command's clock ran on from --now
    shown = mailbot(desk, "queues")
    assert shown.stdout.splitlines()[0].split() == ["queue", "id", "status", "age", "tries", "next", "attempt", "what", "/", "last", "error"]
    assert all(len(line) <= 100 for line in shown.stdout.splitlines())

    other = next(r["id"] for r in queued if r["attempts"] == 0)
    cancelled = mailbot(desk, "outbox", "cancel", str(other))
    assert cancelled.returncode == 0 and "1 message(s) cancelled" in cancelled.stdout
    with unit_of_work(desk.sessions) as s:
        row = s.get_one(Outbox, other)
        assert row.status == "cancelled"
        assert "mail.cancelled" in s.scalars(select(Event.kind).where(Event.ticket_id == row.ticket_id)).all()

    # The back-off has ten minutes to run; flush sends it now, and only it (the cancelled row stays unsent).
    flushed = mailbot(desk, "outbox", "flush")
    assert flushed.returncode == 0 and "1 message(s) brought forward; sent 1" in flushed.stdout
    assert [m.rcpt_tos for m in smtp.handler.received] == [["a@customer.example"]]
    assert json.loads(mailbot(desk, "queues", "--json").stdout) == []
    assert mailbot(desk, "queues").stdout.strip() == "queues are empty"

    # Nothing to do is not success.
    assert mailbot(desk, "outbox", "retry", str(retrying["id"])).returncode == 1  # it was sent, not failed
    assert mailbot(desk, "outbox", "cancel", str(retrying["id"])).returncode == 1
    assert mailbot(desk, "quarantine", "retry", "999").returncode == 1
    assert mailbot(desk, "tickets", "list", "--status", "bogus").returncode == 2
    listed = json.loads(mailbot(desk, "outbox", "list", "--json").stdout)
    assert {r["status"] for r in listed} == {"sent", "cancelled"} and all(r["next_attempt_at"] is None for r in listed)


def test_tickets_due_within_and_breached(desk: App, tmp_path: Path, clock: FixedClock) -> None:
    receive(desk, tmp_path, "a@customer.example", "b@customer.example", "c@customer.example")
    now = clock.now()
    with unit_of_work(desk.sessions) as s:  # three running clocks: passed, due in 3 h, due in 2 days
        for ticket_id, due in ((1, now - timedelta(minutes=5)), (2, now + timedelta(hours=3)), (3, now + timedelta(days=2))):
            ticket = s.get_one(Ticket, ticket_id)
            ticket.sla_clock, ticket.sla_started_at, ticket.sla_due_at = "first", now - timedelta(hours=1), due

    def numbers(*args: str) -> list[int]:
        result = mailbot(desk, "tickets", "list", *args, "--json")
        assert result.returncode == 0, result.stderr
        return [t["id"] for t in json.loads(result.stdout)]

    assert numbers("--due-within", "4h") == [2]
    assert numbers("--breached") == [1]
    assert numbers("--due-within", "3d") == [2, 3]
    table = mailbot(desk, "tickets", "list", "--breached")
    assert "deadline (UTC)" in table.stdout.splitlines()[0]
    assert f"{now - timedelta(minutes=5):%Y-%m-%d %H:%M}" in table.stdout
    bad = mailbot(desk, "tickets", "list", "--due-within", "soon")
    assert bad.returncode == 2 and "is not a duration" in bad.stderr
    status = json.loads(mailbot(desk, "status", "--json").stdout)
    assert status["tickets"] == {"at_risk": 0, "breached": 1}


def test_read_only_commands_leave_the_database_alone(tmp_path: Path) -> None:
    from tests.conftest import write_config

    # SQLite: a read-only command must not even create the file (PostgreSQL's test database is shared and migrated).
    config = write_config(tmp_path / "m.toml", {"mailbot": {"state_dir": str(tmp_path / "s"), "secret": "test-secret-0123456789abcdef"}})
    for args in (("tickets", "list"), ("outbox", "list"), ("quarantine", "list"), ("queues",), ("status",)):
        result = run_mailbot(config, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "run `mailbot db upgrade`" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s" / "mailbot.db").exists()
    assert run_mailbot(config, "db", "upgrade").returncode == 0
    # --config and --now after the command's name, and after its action's.
    after = run_mailbot(None, "tickets", "list", "--config", str(config), "--now", "2026-01-05 09:00", env={"MAILBOT_CONFIG": ""})
    assert after.returncode == 0, after.stderr
    assert after.stdout.splitlines()[0].split()[:3] == ["#", "status", "queue"]
