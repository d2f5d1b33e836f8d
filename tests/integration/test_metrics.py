"""The live daemon's Prometheus endpoint, scraped during a real flow: Maildir in, the real SMTP server out."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ACK_ALL, write_config
from tests.support.daemon import DaemonProcess
from tests.support.dovecot import free_port
from tests.support.flow import customer_mail, sent_now
from tests.support.maildir import deliver_to_maildir
from tests.support.smtp import SmtpServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow]

FAST = {"poll_seconds": 0.3, "process_seconds": 0.3, "outbox_seconds": 0.3, "sweep_seconds": 1}



def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on /metrics, keyed by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_move_with_the_mail(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    port = free_port()
    maildir = tmp_path / "Maildir"
    deliver_to_maildir(maildir, sent_now(customer_mail("a@customer.example", "first")), "0.h")
    cfg = write_config(tmp_path / "mailbot.toml", {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
                    "support_address": "support@example.com"},
        "schedule": FAST, "rules": {"dir": str(ACK_ALL)}, "smtp": smtp.section(),
        "status": {"heartbeat_seconds": 0.5}, "metrics": {"listen": f"127.0.0.1:{port}"},
        "maildir": [{"name": "local", "path": str(maildir)}],
        "intake": {"history": False},  # the first message is there before the daemon first looks: new mail here
    })
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for_log("event=metrics.listening")
        smtp.handler.wait_for(1)
        wait_until(lambda: value(scrape(port), "mailbot_mail_total", outcome="sent") == 1.0, what="one sent mail counted")
        first = scrape(port)
        assert value(first, "mailbot_messages_fetched_total", source="local") == 1.0
        assert value(first, "mailbot_messages_stored_total", source="local") == 1.0
        assert value(first, "mailbot_inbound_processed_total", outcome="filed") == 1.0
        assert value(first, "mailbot_fetch_to_filed_seconds_count") == 1.0
        assert value(first, "mailbot_queued_to_sent_seconds_count") == 1.0
        assert value(first, "mailbot_database_up") == 1.0
        assert value(first, "mailbot_tickets_open", queue="support", status="new") == 1.0
        assert value(first, "mailbot_outbox_queue", state="queued") == 0.0
        assert value(first, "mailbot_inbound_backlog", state="pending") == 0.0
        assert (value(first, "mailbot_source_last_success_timestamp_seconds", source="local") or 0) > 0
        assert value(first, "mailbot_source_failing", source="local") == 0.0
        assert (value(first, "mailbot_job_duration_seconds_count", job="poll") or 0) >= 1
        wait_until(lambda: any(k[0] == "mailbot_worker_heartbeat_timestamp_seconds" for k in scrape(port)), what="a heartbeat")

        # A second customer, then a server that refuses: the counters and gauges follow.
        smtp.handler.script = ["reject"]
        deliver_to_maildir(maildir, sent_now(customer_mail("b@customer.example", "second")), "1.h")
        wait_until(lambda: value(scrape(port), "mailbot_mail_total", outcome="failed") == 1.0, what="one failed mail counted")
        second = scrape(port)
        assert value(second, "mailbot_messages_stored_total", source="local") == 2.0
        assert value(second, "mailbot_inbound_processed_total", outcome="filed") == 2.0
        assert value(second, "mailbot_outbox_queue", state="failed") == 1.0
        assert value(second, "mailbot_tickets_open", queue="support", status="new") == 2.0
        assert value(second, "mailbot_mail_total", outcome="sent") == 1.0
        assert daemon.stop() == 0
    finally:
        if daemon.running():
            daemon.kill()
