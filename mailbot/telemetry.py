"""The daemon's Prometheus counters and histograms, in one registry of their own; the jobs add to them as they work."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

FETCHED = Counter("mailbot_messages_fetched", "Messages read from a mail source", ["source"], registry=REGISTRY)
STORED = Counter("mailbot_messages_stored", "New messages committed to the inbound table", ["source"], registry=REGISTRY)
POLL_FAILURES = Counter("mailbot_poll_failures", "Polls that could not read a source (sign-in refused, server down)", ["source"], registry=REGISTRY)
PROCESSED = Counter(
    "mailbot_inbound_processed", "Inbound messages handled, by outcome: filed, duplicate, retried, quarantined",
    ["outcome"], registry=REGISTRY,
)
MAIL = Counter("mailbot_mail", "Outgoing mail tries, by outcome: sent, retried, failed", ["outcome"], registry=REGISTRY)
ESCALATIONS = Counter("mailbot_escalations_fired", "Deadline warnings and breach notices fired", registry=REGISTRY)
REMINDERS = Counter("mailbot_reminders_queued", "Renewal reminders queued", registry=REGISTRY)
JOB_SECONDS = Histogram(
    "mailbot_job_duration_seconds", "How long one run of a daemon job took", ["job"], registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
FILED_LATENCY = Histogram(
    "mailbot_fetch_to_filed_seconds", "From a message's fetch to its filing on a ticket", registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400),
)
SENT_LATENCY = Histogram(
    "mailbot_queued_to_sent_seconds", "From an outgoing message's queueing to its acceptance by the server", registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400),
)
