"""Logging on stderr, one line per event: logfmt (key=value) or JSON; under systemd each line starts with its
syslog priority (`<3>` … `<7>`) for journald, elsewhere with an ISO 8601 timestamp."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Literal

from mailbot.core.control_chars import escape_controls
from mailbot.core.url_passwords import hide_passwords

_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")

LogFormat = Literal["logfmt", "json"]

# The sd-daemon(3) prefixes journald reads from a service's stderr: `journalctl -p warning` then works.
_PRIORITY = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def priority(levelno: int) -> int:
    """The syslog priority of a logging level: 3 error (and critical), 4 warning, 6 info, 7 debug."""
    for at_least, prio in _PRIORITY:
        if levelno >= at_least:
            return prio
    return 7


def under_journald() -> bool:
    """Whether stderr is connected to the journal (systemd sets JOURNAL_STREAM to its device and inode)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return True  # no real stderr to compare with: trust the variable
    return stream == f"{st.st_dev}:{st.st_ino}"


def _quote(value: Any) -> str:
    text = str(value)
    if text and _BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escape_controls(escaped, keep_newlines=False) + '"'


class EventFormatter(logging.Formatter):
    """One line per event; a traceback follows on its own lines (indented), never packed into a field."""

    def __init__(self, fmt: LogFormat = "logfmt", journald: bool = False) -> None:
        super().__init__()
        self.fmt = fmt
        self.journald = journald

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if not self.journald:  # journald stamps each line itself
            fields["time"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        fields["level"] = record.levelname.lower()
        fields["event"] = record.getMessage()
        fields.update((k, v) for k, v in getattr(record, "kv", {}).items() if v is not None)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields.setdefault("error", f"{type(exc).__name__}: {exc}")
        return fields

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        # A connection URL in any field (or in an error's text) keeps its password to itself.
        if self.fmt == "json":
            shown = {k: hide_passwords(v) if isinstance(v, str) else v for k, v in fields.items()}
            line = json.dumps(shown, default=lambda v: hide_passwords(str(v)), ensure_ascii=False)
        else:
            line = " ".join(f"{k}={_quote(hide_passwords(str(v)))}" for k, v in fields.items())
        lines = [line]
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            lines += ["  " + escape_controls(hide_passwords(part), keep_newlines=False) for part in text.splitlines()]
        if self.journald:
            prefix = f"<{priority(record.levelno)}>"
            lines = [prefix + part for part in lines]
        return "\n".join(lines)


class StillRunning(logging.Filter):
    """APScheduler warns whenever a job's next turn comes while it is still running. With `max_instances=1,
    coalesce=True` that is the intended behaviour under load (the job that is running takes the new work too),
    so it becomes a debug-level `job.skipped` event instead of a warning on every busy minute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" not in record.getMessage():
            return True
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        name = getattr(job, "name", None) or str(job)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.msg, record.args = "job.skipped", ()
        record.kv = {"job": name, "reason": "still running"}
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def setup(level: str = "info", fmt: LogFormat = "logfmt", journald: bool | None = None) -> None:
    """Send all of mailbot's logging to stderr in `fmt`; `journald` defaults to whether systemd's journal reads it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter(fmt, under_journald() if journald is None else journald))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries speak only when something is wrong.
    for noisy in ("apscheduler", "imapclient", "aiosmtplib", "alembic", "sqlalchemy", "authlib", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("mailparser").setLevel(logging.ERROR)  # see mailbot/parse.py
    scheduler = logging.getLogger("apscheduler.scheduler")
    scheduler.filters[:] = [f for f in scheduler.filters if not isinstance(f, StillRunning)]
    scheduler.addFilter(StillRunning())


def log(logger: logging.Logger, level: int, event: str, exc_info: bool = False, **fields: Any) -> None:
    """Log `event` with `fields` as key=value pairs."""
    logger.log(level, event, extra={"kv": fields}, exc_info=exc_info)
