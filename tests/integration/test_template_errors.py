"""A broken or ill-fitting template is refused wherever the policy is loaded — check-config, rules check,
start-up, SIGHUP — naming file, line and reason; one that fails only on real data never costs a message."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Event, Inbound, Outbox, Ticket
from tests.conftest import ACK_ALL
from tests.integration.test_daemon import append, daemon_config
from tests.support.cli import run_mailbot
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail, sent_now
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

# closed mail has no `message`: fine in an acknowledgement, wrong here — it would fail on an agent's #close.
WRONG_KIND = "{% block subject %}{{ message.subject }}{% endblock %}\n{% block body %}Closed.{% endblock %}\n"
SYNTAX = "{% block subject %}Hi{% endblock %}\n{% block body %}\nDear {{ customer.name\n{% endblock %}\n"



def rules_with(tmp_path: Path, name: str, text: str) -> Path:
    rules = tmp_path / "rules"
    (rules / "templates").mkdir(parents=True)
    for f in ACK_ALL.glob("*.toml"):
        (rules / f.name).write_text(f.read_text())
    (rules / "templates" / name).write_text(text)
    return rules


@pytest.mark.parametrize("name,text,expected", [
    ("closed.en.j2", WRONG_KIND, "closed.en.j2: line 1: `message` is not available in closed mail"),
    ("ack.en.j2", SYNTAX, "ack.en.j2: line 4: syntax error:"),
])
def test_check_config_rules_check_and_start_up_refuse_it(
    dovecot: Dovecot, imap_user: ImapUser, smtp: SmtpServer, tmp_path: Path, db_url: str, name: str, text: str, expected: str,
) -> None:
    rules = rules_with(tmp_path, name, text)
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, rules={"dir": str(rules)})
    for args in (("check-config",), ("rules", "check"), ("run", "--once"), ("run",)):
        result = run_mailbot(cfg, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert str(rules / "templates") + "/" + expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_sighup_keeps_the_templates_in_force_when_new_ones_do_not_fit(
    dovecot: Dovecot, imap_user: ImapUser, smtp: SmtpServer, tmp_path: Path, db_url: str,
) -> None:
    rules = rules_with(tmp_path, "ack.en.j2", "{% block subject %}Got it{% endblock %}\n{% block body %}Thanks.{% endblock %}\n")
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, rules={"dir": str(rules)})
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for_log("event=intake.first_seen")  # mail appended from now on is new mail
        (rules / "templates" / "closed.en.j2").write_text(WRONG_KIND)
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("event=rules.reload_failed")
        assert "closed.en.j2: line 1: `message` is not available in closed mail" in daemon.log
        assert "event=rules.reloaded" not in daemon.log
        append(dovecot, imap_user, customer_mail("a@customer.example", "still answered"))
        [received] = smtp.handler.wait_for(1)
        assert b"Thanks." in received.data  # the old templates are still in force
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()


def test_a_template_that_fails_on_real_data_files_the_message_and_records_the_failed_mail(
    dovecot: Dovecot, imap_user: ImapUser, smtp: SmtpServer, tmp_path: Path, db_url: str,
) -> None:
    # Fits its kind and renders with the sample (a customer with a name) — but divides by zero for a sender
    # who gave none.
    risky = "{% block subject %}Hi{% endblock %}\n{% block body %}{{ 100 // (customer.name|length) }}{% endblock %}\n"
    rules = rules_with(tmp_path, "ack.en.j2", risky)
    cfg = daemon_config(tmp_path, db_url, dovecot, imap_user, smtp, rules={"dir": str(rules)})
    assert run_mailbot(cfg, "check-config").returncode == 0
    assert run_mailbot(cfg, "poll", "--history-only").returncode == 0  # connected before the mail arrives
    dovecot.deliver(imap_user, sent_now(customer_mail("nameless@customer.example", "my question")))
    result = run_mailbot(cfg, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "level=error event=mail.render_failed" in result.stderr
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            assert [r.status for r in s.scalars(select(Inbound))] == ["filed"]  # the message is on its ticket
            assert s.scalars(select(Ticket)).one().subject == "my question"
            [row] = s.scalars(select(Outbox)).all()
            assert row.status == "failed" and row.kind == "ack"
            assert row.last_error is not None and "ZeroDivisionError" in row.last_error and "ack" in row.last_error
            assert s.scalars(select(Event).where(Event.kind == "mail.render_failed")).one().detail["template"] == "ack"
    finally:
        engine.dispose()
    assert smtp.handler.received == []
