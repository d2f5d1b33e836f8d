"""Log lines: key=value formatting, and a busy scheduler that stays quiet."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from mailbot import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def busy_scheduler_skips_a_turn() -> None:
    """Run a real APScheduler job that is still running when its next turn comes."""
    release, skipped = threading.Event(), threading.Event()

    def listener(event: JobSubmissionEvent) -> None:
        skipped.set()

    sched = BackgroundScheduler()
    sched.add_listener(listener, EVENT_JOB_MAX_INSTANCES)
    sched.add_job(release.wait, "interval", seconds=0.05, id="process", name="process", max_instances=1, coalesce=True)
    sched.start()
    try:
        assert skipped.wait(10), "the scheduler never skipped a turn"
    finally:
        release.set()
        sched.shutdown(wait=True)


def test_key_value_line(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info")
    logs.log(logging.getLogger("mailbot.test"), logging.INFO, "inbound.filed", ticket=3, subject='say "hi"\nthere', none=None)
    assert capsys.readouterr().err == 'level=info event=inbound.filed ticket=3 subject="say \\"hi\\"\\nthere"\n'


def test_still_running_job_is_not_a_warning(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info")
    busy_scheduler_skips_a_turn()
    assert "maximum number of running instances" not in capsys.readouterr().err


def test_still_running_job_is_a_debug_event(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("debug")
    busy_scheduler_skips_a_turn()
    lines = [line for line in capsys.readouterr().err.splitlines() if "job.skipped" in line]
    assert lines and lines[0] == 'level=debug event=job.skipped job=process reason="still running"'
