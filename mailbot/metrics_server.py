"""The daemon's Prometheus endpoint: its counters and histograms, plus gauges read from the database at scrape time
(so every worker reports the whole desk, and a restarted one reports it at once)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mailbot import telemetry
from mailbot.app import App
from mailbot.core.desk_health import DeskFacts
from mailbot.logs import log
from mailbot.store.db import unit_of_work
from mailbot.store.desk_facts import read_facts

logger = logging.getLogger("mailbot.metrics")


def _age(since: datetime | None, now: datetime) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


def gauges(f: DeskFacts) -> Iterator[GaugeMetricFamily]:
    inbound = GaugeMetricFamily("mailbot_inbound_backlog", "Inbound messages not yet filed, by state", labels=["state"])
    for state, n in (("pending", f.inbound.waiting), ("retrying", f.inbound.retrying), ("quarantined", f.inbound.failed)):
        inbound.add_metric([state], n)
    yield inbound
    yield GaugeMetricFamily("mailbot_inbound_oldest_age_seconds", "Age of the oldest inbound message waiting to be filed",
                            value=_age(f.inbound.oldest_at, f.now))
    outbox = GaugeMetricFamily("mailbot_outbox_queue", "Outgoing mail not yet sent, by state", labels=["state"])
    for state, n in (("queued", f.outbox.waiting), ("retrying", f.outbox.retrying), ("held", f.outbox.held), ("failed", f.outbox.failed)):
        outbox.add_metric([state], n)
    yield outbox
    yield GaugeMetricFamily("mailbot_outbox_oldest_age_seconds", "Age of the oldest outgoing message waiting to be sent",
                            value=_age(f.outbox.oldest_at, f.now))
    tickets = GaugeMetricFamily("mailbot_tickets_open", "Tickets not solved or closed", labels=["queue", "status"])
    for (queue, status), n in sorted(f.open_tickets.items()):
        tickets.add_metric([queue, status], n)
    yield tickets
    yield GaugeMetricFamily("mailbot_tickets_at_risk", "Tickets whose running response deadline falls within the risk window", value=f.at_risk)
    yield GaugeMetricFamily("mailbot_tickets_breached", "Tickets whose running response deadline has passed", value=f.breached)
    polled = GaugeMetricFamily("mailbot_source_last_success_timestamp_seconds", "When each source was last polled successfully", labels=["source"])
    failing = GaugeMetricFamily("mailbot_source_failing", "1 while a source's last poll failed (sign-in refused, server down)", labels=["source"])
    for src in f.sources:
        polled.add_metric([src.source], src.last_success_at.timestamp() if src.last_success_at else 0.0)
        failing.add_metric([src.source], 1.0 if src.failing else 0.0)
    yield polled
    yield failing
    beats = GaugeMetricFamily("mailbot_worker_heartbeat_timestamp_seconds", "Each daemon's last heartbeat", labels=["worker"])
    for w in f.workers:
        beats.add_metric([w.worker], w.beat_at.timestamp())
    yield beats


class DeskCollector(Collector):
    """Reads the desk's state when Prometheus scrapes; a database it cannot read shows as mailbot_database_up 0."""

    def __init__(self, app: App, risk_window_seconds: float) -> None:
        from datetime import timedelta

        self.app = app
        self.window = timedelta(seconds=risk_window_seconds)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with unit_of_work(self.app.sessions) as s:
                facts = read_facts(s, self.app.clock.now(), self.window)
        except Exception as exc:
            log(logger, logging.WARNING, "metrics.database_unreadable", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            yield GaugeMetricFamily("mailbot_database_up", "1 when the last scrape could read the database", value=0)
            return
        yield GaugeMetricFamily("mailbot_database_up", "1 when the last scrape could read the database", value=1)
        yield from gauges(facts)


def serve_metrics(app: App, listen: str) -> None:
    """Serve /metrics on `listen` ("127.0.0.1:9464") from a background thread."""
    host, _, port = listen.rpartition(":")
    telemetry.REGISTRY.register(DeskCollector(app, app.config.settings.status.risk_window_seconds))
    start_http_server(int(port), addr=host.strip("[]"), registry=telemetry.REGISTRY)
    log(logger, logging.INFO, "metrics.listening", address=listen)
