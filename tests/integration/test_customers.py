"""Customers and purchases on the real database: CSV import (idempotent, bad rows by line), lookups by
address and domain, and the billing-database sync."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailbot.app import App
from mailbot.customers.lookup import candidates, find_customer
from mailbot.store.db import unit_of_work
from mailbot.store.group_reads import read_for_group
from mailbot.store.models import Customer, CustomerAddress, PurchaseRecord
from mailbot.time_source import FixedClock
from tests.support.cli import run_mailbot

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "rules" / "default"

CSV = """customer,name,email,domain,timezone,product,kind,plan,paid,starts,ends
C1,Alice GmbH,alice@customer.example;billing@customer.example,,Europe/Berlin,Shop,support_period,standard,2026-03-01,,
C1,Alice GmbH,alice@customer.example,,,Shop,,standard,2026-03-21,,
C2,Big Corp,,bigcorp.example,,CMS,license,commercial,2025-09-01T10:00:00+03:00,,
C3,Broken,c3@example.com,,,Shop,,gold,2026-01-01,,
C4,Broken,c4@example.com,,,Shop,,standard,yesterday,,
C5,Broken,not-an-address,,,Shop,,standard,2026-01-01,,
C6,Thief,alice@customer.example,,,Shop,,standard,2026-01-01,,
C7,Mismatch,c7@example.com,,,Shop,license,standard,2026-01-01,,
C8,No product,c8@example.com,,,,,standard,2026-01-01,,
"""


@pytest.fixture
def app(make_config, clock: FixedClock) -> App:
    application = App(make_config(mailbot={"timezone": "Europe/Berlin"}, rules={"dir": str(DEFAULT_RULES)}), clock)
    application.ensure_schema()
    yield application
    application.close()


def count(app: App, model: type) -> int:
    with unit_of_work(app.sessions) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_csv_import_reports_bad_rows_by_line_and_is_idempotent(app: App, tmp_path: Path) -> None:
    assert app.config.path is not None
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    first = run_mailbot(app.config.path, "customers", "import", str(path))
    assert first.returncode == 1  # some rows were rejected; the rest are in
    assert "3 new purchases" in first.stdout and "6 rejected" in first.stdout
    errors = first.stderr
    assert f"{path}:5: plan: unknown plan 'gold'" in errors
    assert f"{path}:6: paid: 'yesterday' is not a date" in errors
    assert f"{path}:7: email: 'not-an-address' is not an e-mail address" in errors
    assert f"{path}:8: email: alice@customer.example already belongs to customer 'C1'" in errors
    assert f"{path}:9: kind: plan 'standard' is a support_period plan, the row says license" in errors
    assert f"{path}:10: missing product" in errors
    assert (count(app, Customer), count(app, PurchaseRecord), count(app, CustomerAddress)) == (2, 3, 3)

    again = run_mailbot(app.config.path, "customers", "import", str(path))
    assert "0 new customers, 0 new purchases, 0 updated, 3 unchanged" in again.stdout
    assert (count(app, Customer), count(app, PurchaseRecord), count(app, CustomerAddress)) == (2, 3, 3)


def test_lookup_by_address_then_domain(app: App, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    assert app.config.path is not None
    run_mailbot(app.config.path, "customers", "import", str(path))
    with unit_of_work(app.sessions) as s:
        conn = s.connection()
        alice = find_customer(conn, "Alice@Customer.example")
        assert alice is not None and alice.external_id == "C1" and alice.matched == "address alice@customer.example"
        assert alice.timezone == "Europe/Berlin" and len(alice.purchases) == 2
        anyone = find_customer(conn, "ceo@mail.bigcorp.example")  # a subdomain of a domain-wide customer
        assert anyone is not None and anyone.external_id == "C2" and anyone.matched == "domain bigcorp.example"
        assert find_customer(conn, "stranger@elsewhere.example") is None
        assert find_customer(conn, "x@notbigcorp.example") is None
        # A filing group reads every sender's addresses and domains at once: the answers are the same.
        senders = ["Alice@Customer.example", "ceo@mail.bigcorp.example", "stranger@elsewhere.example", "x@notbigcorp.example"]
        reads = read_for_group(conn, app.clock.now(), [], [value for a in senders for _, value in candidates(a)], [])
        for address in senders:
            assert find_customer(conn, address, reads) == find_customer(conn, address)
        # An address the group did not ask about is looked up as before.
        assert find_customer(conn, "billing@customer.example", reads) == find_customer(conn, "billing@customer.example") is not None


def test_show_command_explains_the_entitlement(app: App, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    assert app.config.path is not None
    run_mailbot(app.config.path, "customers", "import", str(path))
    shown = run_mailbot(app.config.path, "--now", "2026-04-10 12:00", "customers", "show", "alice@customer.example")
    assert "customer C1 Alice GmbH (matched by address alice@customer.example)" in shown.stdout
    assert "now: active, plan standard" in shown.stdout
    # two merged periods of 30 days, in Berlin days: the last day is 19 April (support ends as 20 April begins)
    assert "support period 2026-03-01 to 2026-04-19 (the last day" in shown.stdout
    later = run_mailbot(app.config.path, "--now", "2026-05-01 12:00", "customers", "show", "alice@customer.example")
    assert "now: expired" in later.stdout


def test_billing_database_sync_is_the_truth(make_config, clock: FixedClock, tmp_path: Path) -> None:
    billing = tmp_path / "billing.db"
    with sqlite3.connect(billing) as db:
        db.execute("CREATE TABLE orders (client TEXT, mail TEXT, item TEXT, tariff TEXT, paid_on TEXT)")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [("B1", "one@billing.example", "Shop", "standard", "2026-02-01"), ("B2", "two@billing.example", "CMS", "commercial", "2025-06-01")],
        )
    query = "SELECT client AS customer, mail AS email, item AS product, tariff AS plan, paid_on AS paid FROM orders"
    app = App(make_config(rules={"dir": str(DEFAULT_RULES)}, customers={"sql_url": f"sqlite:///{billing}", "sql_query": query}), clock)
    app.ensure_schema()
    report = app.sync_customers()
    assert report is not None and (report.purchases_added, report.errors) == (2, [])
    assert app.sync_customers().unchanged == 2  # type: ignore[union-attr]
    with sqlite3.connect(billing) as db:
        db.execute("DELETE FROM orders WHERE client = 'B2'")
    report = app.sync_customers()
    assert report is not None and report.removed == 1
    assert count(app, PurchaseRecord) == 1
    app.close()


def test_bad_sql_source_config_is_refused(make_config) -> None:
    from mailbot.errors import ConfigError

    with pytest.raises(ConfigError, match="give both sql_url and sql_query"):
        make_config(customers={"sql_url": "sqlite:///x.db"})
