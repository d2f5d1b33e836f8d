"""Parse and analyse each message where it can be stopped: a worker process killed when a message takes too long.

The analysis is bounded by design (core/mail_analysis.py: bounded input, linear-time patterns); the worker is
what holds when a bound is missed — a parser edge case, a library's own super-linear path. The daemon sends
the raw bytes to a spawned child process that has already imported everything and analysed a sample message
(so start-up costs are not charged to the first message), and waits at most `max_seconds` for the result.
A message that takes longer, or kills the child, gets a failure naming the step it was in ("took too long in
step language"); the child is killed and a fresh one started for the next message, which goes on at once.
The runner retries the failed message with back-off and quarantines it after the last attempt.

`InProcessAnalyzer` does the same work in the calling process, with no time limit (`[processing] isolate =
false`): for tests, and for systems where starting a process is not allowed.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from mailbot import failpoints
from mailbot.core.mail import InboundMail
from mailbot.core.mail_analysis import InputLimits, MailAnalysis, analyze
from mailbot.core.parse_options import ParseOptions
from mailbot.logs import log
from mailbot.parse import DEFAULT_OPTIONS, MalformedMail, parse_mail

logger = logging.getLogger("mailbot.process")

START_TIMEOUT_SECONDS = 120.0  # imports and the first analysis; not charged to any message
_POLL_SECONDS = 0.05  # how often a wait looks at should_stop
_SAMPLE = (
    b"From: Sample <sample@example.com>\r\nTo: support@example.com\r\nSubject: Warm-up\r\n"
    b"Message-ID: <warm-up@example.com>\r\n\r\nHello, this message loads the language models once.\r\n"
    b"password: warmup123\r\n\r\nOn Mon, 2 Mar 2026 at 09:00, Someone wrote:\r\n> quoted\r\n"
)


@dataclass(frozen=True)
class Prepared:
    mail: InboundMail  # the whole message, as stored
    analysis: MailAnalysis  # what processing decides from (bounded)


@dataclass(frozen=True)
class Attempt:
    """What became of one message's parse and analysis: prepared, failed (with the reason), or interrupted."""

    prepared: Prepared | None = None
    failure: str | None = None
    permanent: bool = False  # retrying cannot help (the bytes are not a mail message)
    stopped_in: str | None = None  # the step a time limit or a dying worker stopped it in
    interrupted: bool = False  # the daemon is stopping: the message was given back untouched


class Analyzer(Protocol):
    parallel: bool  # works on another core: worth preparing the next message while this one is filed

    def start(self, should_stop: Callable[[], bool]) -> bool: ...

    def prepare(self, raw: bytes, should_stop: Callable[[], bool]) -> Attempt: ...

    def close(self) -> None: ...


def _prepare(
    raw: bytes, limits: InputLimits, default_language: str, options: ParseOptions, on_step: Callable[[str], None],
) -> Attempt:
    on_step("parse")
    failpoints.reached("analysis.parse")
    try:
        mail = parse_mail(raw, options)
    except MalformedMail as exc:
        return Attempt(failure=str(exc), permanent=True)
    except Exception as exc:
        return Attempt(failure=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    try:
        return Attempt(prepared=Prepared(mail, analyze(mail, limits, default_language, on_step)))
    except Exception as exc:
        return Attempt(failure=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")


class InProcessAnalyzer:
    parallel = False

    def __init__(self, limits: InputLimits, default_language: str, options: ParseOptions = DEFAULT_OPTIONS) -> None:
        self.limits = limits
        self.default_language = default_language
        self.options = options

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        return True

    def prepare(self, raw: bytes, should_stop: Callable[[], bool] = lambda: False) -> Attempt:
        return _prepare(raw, self.limits, self.default_language, self.options, lambda step: None)

    def close(self) -> None:
        pass


def _serve(conn: Connection, limits: InputLimits, default_language: str, options: ParseOptions) -> None:
    """The child process: warm up, say ready, then analyse one message per request until told to stop.

    SIGTERM and SIGINT are the daemon's to handle (systemd and a terminal send them to the whole group): the
    daemon gives the message back and then stops this process; a daemon that dies closes the pipe, which ends it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prepare(_SAMPLE, limits, default_language, options, lambda step: None)
    conn.send(("ready", None))
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not raw:
            return
        attempt = _prepare(raw, limits, default_language, options, lambda step: conn.send(("step", step)))
        conn.send(("done", attempt))


class WorkerProcessAnalyzer:
    parallel = True

    def __init__(self, limits: InputLimits, default_language: str, max_seconds: float, options: ParseOptions = DEFAULT_OPTIONS) -> None:
        self.limits = limits
        self.default_language = default_language
        self.max_seconds = max_seconds
        self.options = options
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # one message at a time per worker

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Start the child and wait until it is warm; False when the daemon is stopping meanwhile."""
        with self._lock:
            return self._start(should_stop)

    def _start(self, should_stop: Callable[[], bool]) -> bool:
        if self._process is not None and self._process.is_alive():
            return True
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(theirs, self.limits, self.default_language, self.options), name="mailbot-analysis", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if should_stop():
                self._kill()
                return False
            if ours.poll(_POLL_SECONDS):
                try:
                    kind, _ = ours.recv()
                except (EOFError, OSError):
                    break
                if kind == "ready":
                    log(logger, logging.INFO, "analysis.worker_ready", pid=process.pid)
                    return True
            elif not process.is_alive():
                break
        code = process.exitcode
        self._kill()
        raise RuntimeError(f"the analysis worker did not start (exit code {code})")

    def prepare(self, raw: bytes, should_stop: Callable[[], bool] = lambda: False) -> Attempt:
        with self._lock:
            try:
                if not self._start(should_stop):
                    return Attempt(interrupted=True)
            except RuntimeError as exc:
                return Attempt(failure=str(exc), stopped_in="start")
            assert self._conn is not None and self._process is not None
            conn, process = self._conn, self._process
            step = "parse"
            try:
                conn.send_bytes(raw)
            except (BrokenPipeError, OSError):
                return self._died(step)
            deadline = time.monotonic() + self.max_seconds
            while True:
                if should_stop():
                    self._kill()
                    return Attempt(interrupted=True)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._kill()
                    log(logger, logging.WARNING, "analysis.too_slow", step=step, seconds=self.max_seconds)
                    return Attempt(failure=f"took too long in step {step} (more than {self.max_seconds:g} s)", stopped_in=step)
                if not conn.poll(min(_POLL_SECONDS, remaining)):
                    if not process.is_alive():
                        return self._died(step)
                    continue
                try:
                    kind, value = conn.recv()
                except (EOFError, OSError):
                    return self._died(step)
                if kind == "step":
                    step = value
                elif kind == "done":
                    assert isinstance(value, Attempt)
                    return value

    def _died(self, step: str) -> Attempt:
        code = self._process.exitcode if self._process is not None else None
        self._kill()
        log(logger, logging.WARNING, "analysis.worker_died", step=step, exit_code=code)
        return Attempt(failure=f"the analysis process died in step {step} (exit code {code})", stopped_in=step)

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)
            process.close()

    def close(self) -> None:
        """Ask the child to finish, and kill it if it does not within a second."""
        with self._lock:
            if self._conn is not None and self._process is not None:
                try:
                    self._conn.send_bytes(b"")
                except OSError:
                    pass
                self._process.join(1)
            self._kill()
