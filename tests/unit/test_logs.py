"""Log lines: logfmt and JSON, journald priorities or ISO 8601 timestamps, tracebacks on their own lines, and a
busy scheduler that stays quiet."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from datetime import datetime

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


def test_key_value_line_starts_with_an_iso_8601_timestamp(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info", journald=False)
    logs.log(logging.getLogger("mailbot.test"), logging.INFO, "inbound.filed", ticket=3, subject='say "hi"\nthere', none=None)
    line = capsys.readouterr().err
    stamp, rest = line.split(" ", 1)
    assert stamp.startswith("time=") and datetime.fromisoformat(stamp.removeprefix("time=")).utcoffset() is not None
    assert rest == 'level=info event=inbound.filed ticket=3 subject="say \\"hi\\"\\nthere"\n'


def raise_and_log(level: int = logging.ERROR) -> None:
    try:
        {}["missing"]
    except KeyError:
        logs.log(logging.getLogger("mailbot.test"), level, "job.failed", job="process", exc_info=True)


@pytest.mark.parametrize(
    ("level", "prefix"),
    [(logging.CRITICAL, "<3>"), (logging.ERROR, "<3>"), (logging.WARNING, "<4>"), (logging.INFO, "<6>"), (logging.DEBUG, "<7>")],
)
def test_under_journald_every_line_starts_with_its_priority(
    restore_logging: None, capsys: pytest.CaptureFixture[str], level: int, prefix: str
) -> None:
    logs.setup("debug", journald=True)
    logs.log(logging.getLogger("mailbot.test"), level, "some.event", source="support")
    raise_and_log(level)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) > 3 and all(line.startswith(prefix) for line in lines)
    assert lines[0] == f"{prefix}level={logging.getLevelName(level).lower()} event=some.event source=support"
    assert "time=" not in lines[0]  # the journal stamps each entry itself


def test_a_traceback_follows_on_its_own_lines(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info", journald=False)
    raise_and_log()
    first, *rest = capsys.readouterr().err.splitlines()
    assert first.endswith("level=error event=job.failed job=process error=\"KeyError: 'missing'\"")
    assert rest[0] == "  Traceback (most recent call last):" and rest[-1] == "  KeyError: 'missing'"
    assert any('File "' in line and "raise_and_log" in line for line in rest)
    assert "\\n" not in first  # not packed into a field


def test_json_lines(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info", "json", journald=False)
    logs.log(logging.getLogger("mailbot.test"), logging.WARNING, "imap.idle_lost", source="support", retry_in_s=1.0)
    raise_and_log()
    lines = capsys.readouterr().err.splitlines()
    first = json.loads(lines[0])
    assert first["level"] == "warning" and first["event"] == "imap.idle_lost" and first["retry_in_s"] == 1.0
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None
    second = json.loads(lines[1])
    assert second["event"] == "job.failed" and second["error"] == "KeyError: 'missing'"
    assert lines[2] == "  Traceback (most recent call last):"


def test_journald_is_recognised_by_the_stream_systemd_names(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    with open(tmp_path / "err", "w") as err:
        st = os.fstat(err.fileno())
        monkeypatch.setattr(sys, "stderr", err)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert logs.under_journald()
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")  # stderr was redirected elsewhere
        assert not logs.under_journald()
        monkeypatch.delenv("JOURNAL_STREAM")
        assert not logs.under_journald()


def test_still_running_job_is_not_a_warning(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info")
    busy_scheduler_skips_a_turn()
    assert "maximum number of running instances" not in capsys.readouterr().err


def test_still_running_job_is_a_debug_event(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("debug", journald=True)
    busy_scheduler_skips_a_turn()
    lines = [line for line in capsys.readouterr().err.splitlines() if "job.skipped" in line]
    assert lines and lines[0] == '<7>level=debug event=job.skipped job=process reason="still running"'
