"""No surprise blasts: an import says how many renewal reminders it makes due, `reminders list` previews them, and
the daemon's job sends them at the configured hourly rate, soonest period end first."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Outbox
from tests.conftest import write_config
from tests.support.cli import ROOT, run_mailbot

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)


def reminded(db_url: str) -> list[list[str]]:
    engine = make_engine(db_url)
    with unit_of_work(session_factory(engine)) as s:
        rows = [list(r) for r in s.scalars(select(Outbox.recipients).where(Outbox.kind == "renewal-reminder").order_by(Outbox.id))]
    engine.dispose()
    return rows


def test_an_import_is_paced_not_blasted(tmp_path: Path, db_url: str) -> None:
    # Five basic-plan customers (30 days from payment, reminded 7 days before the end); paid on different days.
    csv = tmp_path / "customers.csv"
    csv.write_text("customer,name,email,product,plan,paid\n" + "".join(
        f"C{n},Customer {n},c{n}@shop.example,Classifieds,basic,2026-03-0{n}\n" for n in range(1, 6)
    ))
    cfg = write_config(tmp_path / "mailbot.toml", {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
                    "support_address": "support@vendor.example"},
        "rules": {"dir": str(ROOT / "rules" / "support-period")},
        "replies": {"reminders_per_hour": 2},
    })
    at = "2026-03-29 12:00"  # every period ends within the next 7 days: all five are due
    imported = run_mailbot(cfg, "--now", at, "customers", "import", str(csv))
    assert imported.returncode == 0, imported.stderr
    assert "renewal reminders due now: 5 (+5 by this change); 2 per hour" in imported.stdout
    assert "the last goes out in about 2 h" in imported.stdout

    preview = run_mailbot(cfg, "reminders", "list", "--at", at, "--json")
    due = json.loads(preview.stdout)
    assert [r["to"] for r in due] == [[f"c{n}@shop.example"] for n in range(1, 6)]  # soonest end first
    assert list(due[0]) == ["customer_id", "customer", "plan", "product", "ends_at", "to"]
    table = run_mailbot(cfg, "reminders", "list", "--at", at)
    assert table.stdout.splitlines()[1].split()[:2] == ["customer", "plan"]

    assert run_mailbot(cfg, "--now", at, "run", "--once").returncode == 0
    assert reminded(db_url) == [["c1@shop.example"], ["c2@shop.example"]]
    assert run_mailbot(cfg, "--now", "2026-03-29 12:30", "run", "--once").returncode == 0
    assert len(reminded(db_url)) == 2  # the hour's two are used
    assert run_mailbot(cfg, "--now", "2026-03-29 13:01", "run", "--once").returncode == 0
    assert len(reminded(db_url)) == 4
    assert len(json.loads(run_mailbot(cfg, "reminders", "list", "--at", "2026-03-29 13:01", "--json").stdout)) == 1
    again = run_mailbot(cfg, "--now", "2026-03-29 13:02", "customers", "import", str(csv))
    assert "renewal reminders due now: 1 (+0 by this change)" in again.stdout
