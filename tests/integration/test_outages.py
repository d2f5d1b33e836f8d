"""Outages under a running daemon, against the real servers: Dovecot restarted under IMAP IDLE, and the database
cut off (through a local TCP proxy that is stopped and started). Each heals by itself, quietly: one line when
the outage starts, one when it ends, no busy loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mailbot.store.models import Outbox
from tests.conftest import ACK_ALL, data, imap_section, write_config
from tests.integration.test_daemon import append, count
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import Dovecot
from tests.support.flow import customer_mail, sent_now
from tests.support.maildir import deliver_to_maildir
from tests.support.smtp import SmtpServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow]

# Polls far apart: only IDLE (and the wake-ups it causes) can fetch mail quickly; jobs at their usual pace.
QUIET = {"poll_seconds": 600, "process_seconds": 5, "outbox_seconds": 10, "sweep_seconds": 60}


def desk(tmp_path: Path, db_url: str, smtp: SmtpServer, **sections: Any) -> Path:
    body: dict[str, Any] = {
        "mailbot": {
            "state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
            "support_address": "support@example.com",
        },
        "schedule": QUIET,
        "logging": {"level": "debug"},
        "rules": {"dir": str(ACK_ALL)},
        "smtp": smtp.section(),
    }
    body.update(sections)
    return write_config(tmp_path / "mailbot.toml", body)


def above_info(daemon: DaemonProcess) -> list[str]:
    return [line for line in daemon.log.splitlines() if " level=warning " in line or " level=error " in line]


@pytest.mark.dovecot
def test_idle_survives_a_dovecot_restart_without_spinning(tmp_path: Path, db_url: str) -> None:
    server = Dovecot(tls=False).start()
    smtp = SmtpServer().start()
    user = server.add_user()
    account = imap_section(server, user, security="plain", allow_plaintext=True, after_fetch="move", reconnect_max_seconds=2)
    daemon = DaemonProcess(desk(tmp_path, db_url, smtp, imap=[account]), tmp_path / "daemon.log").start()
    try:
        daemon.wait_for_log("event=imap.idle ")
        daemon.wait_for_log("event=intake.first_seen")  # mail already there would be history
        append_plain(server, user, sent_now(data("plain.eml")))
        smtp.handler.wait_for(1)

        server.stop()
        daemon.wait_for_log("event=imap.idle_lost", timeout=15)  # noticed within seconds, not at the next poll
        cpu_before, wall_before = daemon.cpu_seconds(), time.monotonic()
        tried = len(daemon.lines("event=imap.idle_retry"))
        # Let it try (and fail) a few more times, as the back-off allows (1 s, 2 s, then 2 s each).
        wait_until(lambda: len(daemon.lines("event=imap.idle_retry")) >= tried + 3, timeout=60, what="three more attempts")
        cpu = daemon.cpu_seconds() - cpu_before
        wall = time.monotonic() - wall_before
        # The old watcher spun at 30–50 % of a core here; waiting out a back-off costs next to nothing.
        assert wall >= 4 and cpu / wall < 0.05, f"{cpu:.2f} s of CPU in {wall:.1f} s while the server was down"

        server.start()
        daemon.wait_for_log("event=imap.idle_restored", timeout=30)
        append_plain(server, user, sent_now(customer_mail("b@customer.example", "After the restart")))
        smtp.handler.wait_for(2, timeout=30)
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()
        smtp.stop()
        server.destroy()
    assert len(daemon.lines("event=imap.idle_lost")) == 1 and len(daemon.lines("event=imap.idle_restored")) == 1
    # One warning for the account, whichever of its connections (IDLE, or a poll under way) noticed first,
    # and one recovery line; nothing else above info.
    [warning] = above_info(daemon)
    assert " level=warning " in warning and ("event=imap.idle_lost" in warning or "event=imap.unavailable" in warning)
    recovered = [line for line in daemon.lines(" level=info ") if "event=imap.idle_restored" in line or "event=imap.reconnected" in line]
    assert len(recovered) == 1, recovered
    assert "Traceback" not in daemon.log


def append_plain(server: Dovecot, user: Any, raw: bytes) -> None:
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10) as c:
        c.login(user.name, user.password)
        c.append("INBOX", raw)


@pytest.mark.postgres
def test_database_outage_backs_off_and_recovers(tmp_path: Path, pg_database: str) -> None:
    from tests.conftest import _truncate_all

    _truncate_all(pg_database)
    host_port = pg_database.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = TcpProxy(host, int(port)).start()
    through_proxy = pg_database.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
    smtp = SmtpServer().start()
    maildir = tmp_path / "Maildir"
    fast = {"poll_seconds": 0.5, "process_seconds": 0.5, "outbox_seconds": 0.5, "sweep_seconds": 1, "retry_max_seconds": 4}
    cfg = desk(tmp_path, through_proxy, smtp, schedule=fast, maildir=[{"name": "local", "path": str(maildir)}])
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for_log("event=daemon.started")
        daemon.wait_for_log("event=intake.first_seen")  # mail already there would be history
        deliver_to_maildir(maildir, sent_now(customer_mail("a@customer.example", "Before")), "1.test")
        smtp.handler.wait_for(1)

        proxy.stop()  # every open connection cut, new ones refused: the database is gone for the daemon
        daemon.wait_for_log("event=db.unavailable", timeout=15)
        deliver_to_maildir(maildir, sent_now(customer_mail("b@customer.example", "During")), "2.test")
        # Checked again at 1, 2, 4, 4 … s, not by every job every half second.
        wait_until(lambda: len(daemon.lines("event=db.still_unavailable")) >= 3, timeout=60, what="three checks")

        proxy.start()
        daemon.wait_for_log("event=db.available", timeout=30)
        smtp.handler.wait_for(2, timeout=30)  # the mail that came during the outage is answered
        wait_until(lambda: count(pg_database, Outbox, Outbox.status == "sent") == 2, what="both sends recorded")
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()
        smtp.stop()
        proxy.stop()
    checks = [float(line.split("next_check_in_s=")[1].split()[0]) for line in daemon.lines("event=db.still_unavailable")]
    assert checks[:3] == [2.0, 4.0, 4.0]  # doubling from the first second, capped by retry_max_seconds
    assert "event=job.failed" not in daemon.log
    errors = [line for line in above_info(daemon) if " level=error " in line]
    assert len(errors) == 1 and "event=db.unavailable" in errors[0]
    assert len(daemon.lines("event=db.available")) == 1 and " level=info " in daemon.lines("event=db.available")[0]
    assert len(smtp.handler.received) == 2  # none sent twice, whenever the cut came


@pytest.mark.dovecot
def test_idle_refused_sign_in_is_one_error_naming_the_account(dovecot, imap_user, caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import threading

    from mailbot.config import ImapConfig
    from mailbot.intake.idle import IdleWatcher

    caplog.set_level(logging.DEBUG, logger="mailbot.intake.idle")
    account = ImapConfig(**imap_section(dovecot, imap_user, password="wrong-pw", reconnect_max_seconds=0.2))
    watcher = IdleWatcher(account, threading.Event().set)
    watcher.start()
    try:
        wait_until(lambda: watcher.failures >= 4, timeout=30, what="four refused sign-ins")
    finally:
        watcher.stop()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.getMessage(), r.levelname) for r in loud] == [("imap.signin_failed", "ERROR")]
    fields = loud[0].kv  # type: ignore[attr-defined]
    assert fields["source"] == "support" and fields["username"] == imap_user.name and "wrong-pw" not in str(fields)


@pytest.mark.dovecot
def test_idle_notices_a_socket_closed_without_bye_and_renews_idle(dovecot, imap_user, caplog: pytest.LogCaptureFixture) -> None:
    """The connection cut between mailbot and the server (a proxy stopped): no BYE, only EOF."""
    import logging
    import threading

    from mailbot.config import ImapConfig
    from mailbot.intake.idle import IdleWatcher

    caplog.set_level(logging.DEBUG, logger="mailbot.intake.idle")
    proxy = TcpProxy("127.0.0.1", dovecot.port).start()
    section = imap_section(dovecot, imap_user, port=proxy.port, reconnect_max_seconds=1, idle_renew_seconds=0.5)
    news = threading.Event()
    watcher = IdleWatcher(ImapConfig(**section), news.set)
    watcher.start()
    try:
        def events(name: str) -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.getMessage() == name]

        wait_until(lambda: events("imap.idle"), what="IDLE")
        # Re-issued before the configured timeout, and still hearing about new mail afterwards.
        wait_until(lambda: len(events("imap.idle_renewed")) >= 2, what="two renewals")
        append(dovecot, imap_user, data("plain.eml"))
        assert news.wait(15)
        news.clear()

        proxy.stop()
        wait_until(lambda: events("imap.idle_lost"), timeout=15, what="the cut to be noticed")
        error = events("imap.idle_lost")[0].kv["error"]  # type: ignore[attr-defined]
        assert "closed the connection" in error or "EOF" in error  # seen while waiting, or while renewing
        wait_until(lambda: watcher.failures >= 2, what="a failed reconnection")
        proxy.start()
        wait_until(lambda: events("imap.idle_restored"), what="IDLE again")
        assert news.wait(15)  # a look at once for mail that came during the cut
    finally:
        watcher.stop()
        proxy.stop()
    loud = [(r.getMessage(), r.levelname) for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [("imap.idle_lost", "WARNING")]
