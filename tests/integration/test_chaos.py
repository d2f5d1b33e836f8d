"""The chaos test in its small form: three workers on PostgreSQL, replies crossing workers, random SIGKILLs with
work in flight, a Dovecot restart and an SMTP outage; nothing lost, duplicated or misthreaded, every take-over in
time. The full form is bench/chaos.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import _truncate_all
from tests.support.chaos import run_chaos

pytestmark = [pytest.mark.dovecot, pytest.mark.postgres, pytest.mark.slow]


def test_three_workers_under_kills_and_outages(tmp_path: Path, pg_database: str) -> None:
    _truncate_all(pg_database)
    seed = int(os.environ.get("MAILBOT_CHAOS_SEED", "20261128"))
    report = run_chaos(tmp_path, pg_database, new=120, min_kills=12, seed=seed, smtp_outage=5)
    print("\n" + report.summary())
