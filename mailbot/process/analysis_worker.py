"""Parse and analyse each message where it can be stopped: a worker process killed when a message takes too long.

The analysis is bounded by design (core/mail_analysis.py: bounded input, linear-time patterns); the worker is
what holds when a bound is missed — a parser edge case, a library's own super-linear path. The daemon sends
the raw bytes to a spawned child process that has already imported everything and analysed a sample message
(so start-up costs are not charged to the first message), a few messages ahead so the child never waits
between them, and gives each at most `max_seconds` from the moment it is the child's next message. A message
that takes longer, or kills the child, gets a failure naming the step it was in ("took too long in step
language"); the child is killed and a fresh one takes the messages after it, which go on at once.
The runner retries the failed message with back-off and quarantines it after the last attempt.

`InProcessAnalyzer` does the same work in the calling process, with no time limit (`[processing] isolate =
false`): for tests, and for systems where starting a process is not allowed.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from mailbot import failpoints
from mailbot.core.mail import InboundMail
from mailbot.core.mail_analysis import InputLimits, MailAnalysis, analyze
from mailbot.core.parse_options import ParseOptions
from mailbot.logs import log
from mailbot.parse import DEFAULT_OPTIONS, MalformedMail, parse_mail

logger = logging.getLogger("mailbot.process")

START_TIMEOUT_SECONDS = 120.0  # imports and the first analysis; not charged to any message
_POLL_SECONDS = 0.05  # how often a wait looks at should_stop
AHEAD_MESSAGES = 16  # messages sent to the worker before the first of them is answered, at most
AHEAD_BYTES = 1 << 20  # and their size (one message of any size always goes)
_STEP_CHARS = 16  # room for the name of a step in shared memory
RECEIVE_STEP = "receive"  # the step of a message the worker has not begun: it is still reading it
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

    def prepare_all(self, raws: Sequence[bytes], should_stop: Callable[[], bool]) -> Generator[Attempt, None, None]: ...

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

    def prepare_all(self, raws: Sequence[bytes], should_stop: Callable[[], bool] = lambda: False) -> Generator[Attempt, None, None]:
        for raw in raws:
            yield self.prepare(raw, should_stop)

    def close(self) -> None:
        pass


def warm_up(analyzer: Analyzer, should_stop: Callable[[], bool]) -> None:
    """Start the analyzer before the first message needs it. A failure is logged, not raised: the first
    message tries again (and fails alone, with the reason, if the worker still cannot start)."""
    try:
        analyzer.start(should_stop)
    except Exception:
        log(logger, logging.ERROR, "analysis.start_failed", exc_info=True)


def _serve(conn: Connection, step_box: Any, limits: InputLimits, default_language: str, options: ParseOptions) -> None:
    """The child process: warm up, say ready, then analyse the messages sent to it in order until told to stop.

    A thread reads requests as they come, so the daemon can send the next messages while this one is being
    analysed and neither side ever waits on the other's full pipe. The step a message is in is written to
    shared memory (`step_box`), for the daemon to read when it stops a message: no message per step.

    SIGTERM and SIGINT are the daemon's to handle (systemd and a terminal send them to the whole group): the
    daemon gives the message back and then stops this process; a daemon that dies closes the pipe, which ends it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prepare(_SAMPLE, limits, default_language, options, lambda step: None)
    requests: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def read() -> None:
        while True:
            try:
                raw = conn.recv_bytes()
            except (EOFError, OSError):
                raw = b""
            requests.put(raw)
            if not raw:
                return

    def on_step(step: str) -> None:
        step_box.value = step.encode("ascii")

    threading.Thread(target=read, name="mailbot-analysis-reader", daemon=True).start()
    # Between messages the step is "receive": a message stopped before its parse began was still on its way
    # in (a large one, on a busy machine), not in the last step of the message before it.
    on_step(RECEIVE_STEP)
    conn.send(("ready", None))
    while raw := requests.get():
        attempt = _prepare(raw, limits, default_language, options, on_step)
        on_step(RECEIVE_STEP)
        try:
            conn.send(attempt)
        except OSError:
            return


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
        self._step: Any = None  # the step the worker's current message is in (shared memory)
        self._lock = threading.Lock()  # one caller at a time per worker

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
        step = self._context.RawArray("c", _STEP_CHARS)
        process = self._context.Process(
            target=_serve, args=(theirs, step, self.limits, self.default_language, self.options), name="mailbot-analysis", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._conn, self._step = process, ours, step
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
        attempts = self.prepare_all([raw], should_stop)
        try:
            return next(attempts)
        finally:
            attempts.close()

    def prepare_all(self, raws: Sequence[bytes], should_stop: Callable[[], bool] = lambda: False) -> Generator[Attempt, None, None]:
        """The attempts for `raws`, in order. Up to AHEAD_MESSAGES (and AHEAD_BYTES) are sent ahead, so the
        worker never waits for the daemon between messages. The time limit counts from the moment a message
        is the worker's next one; a message over it, or one the worker dies on, fails alone: the worker is
        replaced and the messages sent after it are sent again. Stopping ends the list with an interrupted
        attempt; a caller that stops reading early loses the worker (its answers would belong to no one)."""
        with self._lock:
            done = sent = 0  # raws[done:sent] are with the worker
            ahead = 0  # their bytes
            head_since: float | None = None
            try:
                while done < len(raws):
                    if sent > done and (self._process is None or not self._process.is_alive()):
                        # It died on the message it was given after the last answer, before anyone looked.
                        done += 1
                        sent, ahead, head_since = done, 0, None
                        yield self._died()
                        continue
                    try:
                        if not self._start(should_stop):
                            yield Attempt(interrupted=True)
                            return
                    except RuntimeError as exc:
                        done += 1
                        sent, ahead, head_since = done, 0, None
                        yield Attempt(failure=str(exc), stopped_in="start")
                        continue
                    assert self._conn is not None and self._process is not None
                    conn, process = self._conn, self._process
                    try:
                        while sent < len(raws) and (
                            sent == done or (sent - done < AHEAD_MESSAGES and ahead + len(raws[sent]) <= AHEAD_BYTES)
                        ):
                            conn.send_bytes(raws[sent])
                            ahead += len(raws[sent])
                            sent += 1
                    except OSError:
                        done += 1
                        sent, ahead, head_since = done, 0, None
                        yield self._died()
                        continue
                    if head_since is None:
                        head_since = time.monotonic()
                    attempt = self._answer(conn, process, head_since + self.max_seconds, should_stop)
                    if attempt.interrupted:
                        yield attempt
                        return
                    done += 1
                    if attempt.stopped_in is None:
                        ahead -= len(raws[done - 1])
                        head_since = time.monotonic() if sent > done else None
                    else:  # the worker is gone: the next ones go to a fresh one
                        sent, ahead, head_since = done, 0, None
                    yield attempt
            finally:
                if sent > done:
                    self._kill()

    def _answer(self, conn: Connection, process: BaseProcess, deadline: float, should_stop: Callable[[], bool]) -> Attempt:
        """The worker's answer for its current message, or the failure that ends it (the worker is then gone)."""
        while True:
            if should_stop():
                self._kill()
                return Attempt(interrupted=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not conn.poll(0):
                step = self._current_step()
                self._kill()
                log(logger, logging.WARNING, "analysis.too_slow", step=step, seconds=self.max_seconds)
                return Attempt(failure=f"took too long in step {step} (more than {self.max_seconds:g} s)", stopped_in=step)
            if not conn.poll(min(_POLL_SECONDS, max(remaining, 0.0))):
                if not process.is_alive():
                    return self._died()
                continue
            try:
                attempt = conn.recv()
            except (EOFError, OSError):
                return self._died()
            assert isinstance(attempt, Attempt)
            return attempt

    def _current_step(self) -> str:
        return self._step.value.decode("ascii", "replace") if self._step is not None else RECEIVE_STEP

    def _died(self) -> Attempt:
        step = self._current_step()
        code = self._process.exitcode if self._process is not None else None
        self._kill()
        log(logger, logging.WARNING, "analysis.worker_died", step=step, exit_code=code)
        return Attempt(failure=f"the analysis process died in step {step} (exit code {code})", stopped_in=step)

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = self._step = None
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
