"""The command line as ops use it: check-config, the embedded default, tickets, quarantine, db."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

from sqlalchemy import func, select

from mailbot.store.db import make_engine
from mailbot.store.models import Inbound
from tests.conftest import data, write_config
from tests.support.cli import ROOT, run_mailbot
from tests.support.flow import customer_mail
from tests.support.maildir import deliver_to_maildir

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)


def test_check_config_ok_and_example(tmp_path: Path) -> None:
    result = run_mailbot(ROOT / "config.example.toml", "check-config", env={"MAILBOT_IMAP_PASSWORD": "x", "MAILBOT_SMTP_PASSWORD": "x"})
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "imap support" in result.stdout


def test_check_config_names_file_key_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[mailbot]\ntimezone = "Europe/Atlantis"\n[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\nport = "x"\n')
    result = run_mailbot(bad, "check-config")
    assert result.returncode == 2
    assert f"{bad}: mailbot.timezone: Value error, unknown time zone 'Europe/Atlantis'" in result.stderr
    assert f"{bad}: imap[0].port: Input should be a valid integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_embedded_default_runs_with_nothing_configured(tmp_path: Path) -> None:
    deliver_to_maildir(tmp_path / "mailbot-state" / "maildir", data("plain.eml"), "1.demo.host")
    result = run_mailbot(None, "poll", "--once", cwd=tmp_path, env={"MAILBOT_CONFIG": ""})
    assert result.returncode == 0, result.stderr
    assert "stored 1 new message(s); filed 1" in result.stdout
    assert (tmp_path / "mailbot-state" / "mailbot.db").exists()
    listing = run_mailbot(None, "tickets", "list", cwd=tmp_path, env={"MAILBOT_CONFIG": ""})
    assert "alice@customer.example" in listing.stdout and "Checkout page shows a" in listing.stdout  # cut to fit 100 columns


def test_tickets_and_quarantine_commands(tmp_path: Path, db_url: str) -> None:
    maildir = tmp_path / "Maildir"
    deliver_to_maildir(maildir, data("attachments.eml"), "1.h")
    nested = b"From: a@b.example\nSubject: nest\n" + b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode() for i in range(3000)
    )
    deliver_to_maildir(maildir, nested, "2.h")
    cfg = write_config(
        tmp_path / "m.toml",
        {
            "mailbot": {"state_dir": str(tmp_path / "s"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"},
            "maildir": [{"name": "local", "path": str(maildir)}],
        },
    )
    assert run_mailbot(cfg, "poll", "--once").returncode == 0

    shown = run_mailbot(cfg, "tickets", "show", "1")
    assert shown.returncode == 0
    assert "Ticket #1: Screenshots attached" in shown.stdout
    assert "Rechnung März.pdf (application/pdf" in shown.stdout
    assert "message.received" in shown.stdout and "thread=new" in shown.stdout
    assert run_mailbot(cfg, "tickets", "show", "99").returncode == 1

    listed = run_mailbot(cfg, "quarantine", "list")
    assert listed.stdout.splitlines()[0].split()[:2] == ["id", "source/folder"]
    assert "nesting too deep" in listed.stdout
    [quarantined] = json.loads(run_mailbot(cfg, "quarantine", "list", "--json").stdout)
    assert "nesting too deep" in quarantined["last_error"] and quarantined["next_attempt_at"] is None
    qid = str(quarantined["id"])
    detail = run_mailbot(cfg, "quarantine", "show", qid)
    assert "Message nesting too deep" in detail.stdout
    retried = run_mailbot(cfg, "quarantine", "retry", qid)
    assert "1 message(s) queued again" in retried.stdout
    # It fails the same way again and goes back to quarantine; the poll still completes.
    again = run_mailbot(cfg, "poll", "--once")
    assert again.returncode == 0 and "quarantined 1" in again.stdout

    status = run_mailbot(cfg, "db", "status")
    assert status.returncode == 0 and "schema revision" in status.stdout


def test_unreachable_imap_server_does_not_stop_other_sources(tmp_path: Path, db_url: str) -> None:
    maildir = tmp_path / "Maildir"
    deliver_to_maildir(maildir, customer_mail("a@customer.example", "still works"), "1.h")
    cfg = write_config(
        tmp_path / "m.toml",
        {
            "mailbot": {"state_dir": str(tmp_path / "s"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"},
            "imap": [{"name": "down", "host": "127.0.0.1", "port": 1, "username": "u", "password": "p", "timeout_seconds": 2}],
            "maildir": [{"name": "local", "path": str(maildir)}],
        },
    )
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 1  # the other sources were read, but one could not be: cron should hear of it
    assert "event=imap.unavailable source=down" in result.stderr
    assert "mailbot: could not read source down: ConnectionRefusedError" in result.stderr
    assert "filed 1" in result.stdout


def test_poll_once_files_mail_while_it_is_still_fetching(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    burst = 2000
    for n in range(burst):
        deliver_to_maildir(maildir, customer_mail(f"c{n}@customer.example", f"Question {n}"), f"{n}.h")
    url = f"sqlite:///{tmp_path / 'mailbot.db'}"
    cfg = write_config(
        tmp_path / "m.toml",
        {
            "mailbot": {"state_dir": str(tmp_path / "s"), "database_url": url, "secret": "test-secret-0123456789abcdef"},
            "processing": {"isolate": False},  # no worker to warm up: filing can start with the first batch
            "maildir": [{"name": "local", "path": str(maildir)}],
        },
    )
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 0, result.stderr
    assert f"stored {burst} new message(s); filed {burst}" in result.stdout
    engine = make_engine(url)
    with engine.connect() as conn:
        first_filed, last_fetched = conn.execute(select(func.min(Inbound.processed_at), func.max(Inbound.fetched_at))).one()
    engine.dispose()
    # Intake stores 200 messages a transaction; filing took up the first ones before the last were stored.
    assert first_filed < last_fetched, (first_filed, last_fetched)


def test_poll_once_stops_the_worker_it_warmed_up_quietly(tmp_path: Path) -> None:
    """The analysis worker starts warming up as soon as the database is open, before the rules are read: when
    there is nothing to file, or the rules are bad, the command still ends at once and says nothing of it."""
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    settings = {
        "mailbot": {"state_dir": str(tmp_path / "s"), "secret": "test-secret-0123456789abcdef"},
        "maildir": [{"name": "local", "path": str(maildir)}],
    }
    cfg = write_config(tmp_path / "m.toml", settings)
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 0, result.stderr
    assert "stored 0 new message(s); filed 0" in result.stdout
    assert "analysis.start_failed" not in result.stderr and "Traceback" not in result.stderr

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-bad.toml").write_text("[[rule]]\nname = 'x'\nwhen = { subject_contains = 'a' }\nthen = { no_such_action = true }\n")
    cfg = write_config(tmp_path / "bad.toml", {**settings, "rules": {"dir": str(rules)}})
    deliver_to_maildir(maildir, customer_mail("c@customer.example", "Question"), "1.h")
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 2, result.stderr
    assert "10-bad.toml" in result.stderr
    assert "analysis.start_failed" not in result.stderr and "Traceback" not in result.stderr
    assert list((maildir / "new").iterdir()), "nothing was fetched: the rules stop the command first"
