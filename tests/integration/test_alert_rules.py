"""The Prometheus alerting rules and the Grafana dashboard in contrib/: valid, tested with promtool, and naming only
metrics the daemon serves."""

from __future__ import annotations

import pytest

import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from mailbot import telemetry
from mailbot.core.desk_health import DeskFacts, QueueFact, SourceFact, WorkerFact
from mailbot.metrics_server import gauges

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
RULES = CONTRIB / "prometheus" / "mailbot.rules.yml"
DASHBOARD = CONTRIB / "grafana" / "mailbot.json"


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: scripts/install-promtool.sh installs it (scripts/test.sh runs it)"
    return found


def served_metric_names() -> set[str]:
    """Every sample name the endpoint can serve: counters and histograms as exposed, and the scrape-time gauges."""
    names = {s.name for family in telemetry.REGISTRY.collect() for s in family.samples}
    names |= {f"{m.name}_total" for m in telemetry.REGISTRY.collect() if m.type == "counter"}
    for kind in ("bucket", "count", "sum"):
        names |= {f"{m.name}_{kind}" for m in telemetry.REGISTRY.collect() if m.type == "histogram"}
    now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    facts = DeskFacts(now, [WorkerFact("h:1", "h", 1, "0", now, now)], [SourceFact("s", "imap", now, None, None)],
                      QueueFact(), QueueFact(), 0, 0, {("support", "new"): 1})
    names |= {family.name for family in gauges(facts)} | {"mailbot_database_up"}
    return names


def referenced(text: str) -> set[str]:
    return set(re.findall(r"\bmailbot_[a-z_]+\b", text)) - {"mailbot_"}


def test_promtool_checks_and_tests_the_rules() -> None:
    checked = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool(), "test", "rules", "mailbot.rules.test.yml"], capture_output=True, text=True,
                            timeout=120, cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_rules_name_only_served_metrics() -> None:
    exprs = "\n".join(line for line in RULES.read_text().splitlines() if line.strip().startswith("expr:"))
    assert referenced(exprs) and referenced(exprs) <= served_metric_names(), referenced(exprs) - served_metric_names()


def test_dashboard_is_valid_json_over_served_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set().union(*(referenced(e) for e in exprs))
    assert used <= served_metric_names(), used - served_metric_names()
    # Flow, latency, backlog and SLA risk each have a row.
    assert {"Flow", "Latency", "Backlog", "SLA risk"} <= {p["title"] for p in dashboard["panels"] if p["type"] == "row"}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
