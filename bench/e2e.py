#!/usr/bin/env python3
"""End-to-end benchmark: Dovecot -> `mailbot run` (the real daemon, a child process) -> acknowledgements
accepted by an SMTP server.

    .venv/bin/python bench/e2e.py [--messages N] [--latency-messages M] [--window S] [--poll-seconds S]
                                  [--connections N] [--skip-throughput] [--skip-latency] [--json FILE]
                                  [--keep-logs DIR]

1. Throughput: N new tickets (seeded corpus from bench/intake.py's renderer, every message a first
   message from its own customer address, so each earns exactly one acknowledgement) are dropped into a
   throw-away Dovecot's Maildir and indexed before the daemon starts. Timed: daemon start -> the N-th
   acknowledgement accepted by the in-process aiosmtpd server (tests/support/smtp.py). Also: the
   daemon's peak RSS (/proc/PID/status VmHWM, read just before SIGTERM) and its CPU time.
2. Latency: a fresh daemon (fresh database, fresh mailbox) at the configured poll interval; M messages
   are APPENDed over IMAP to the INBOX at seeded random moments spread over a window. Latency = the
   moment the SMTP server accepted the acknowledgement whose In-Reply-To is the appended Message-ID,
   minus the moment the APPEND completed (tagged OK). p50 / p95 are nearest-rank.

Config of the daemon: SQLite in a temp dir, [[imap]] STARTTLS with after_fetch = "move", rules
tests/data/rules/ack-all, [intake] history = false, [smtp] plain on loopback to the recording server with
mailbot's default connections unless --connections is given, a high max_auto_replies_per_day, and
mailbot's default [schedule] unless --poll-seconds is given. The daemon's stderr is saved (each line
prefixed with t=<seconds since the daemon was started>) to daemon-*.log in the temp dir; a digest of it
is printed, and --keep-logs DIR copies the logs out before cleanup.

This prints figures; it is not a test. Nothing under mailbot/ or tests/ is modified.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.intake import (
    INTL_SUBJECTS,
    KINDS,
    PYTHON,
    SUBJECTS,
    Planned,
    Renderer,
    Thread,
    _weighted,
    code_version,
    make_people,
    renumber_for_dovecot,
    warm_up,
)
from mailbot.config import SmtpConfig

SUPPORT = "support@example.com"
DEFAULT_POLL_SECONDS = 60.0  # mailbot.config.Schedule.poll_seconds, shown in the table when not overridden
DEFAULT_CONNECTIONS: int = SmtpConfig.model_fields["connections"].default  # likewise
MSGID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.IGNORECASE | re.MULTILINE)
RSS_SAMPLE_SECONDS = 0.5
EVENT = re.compile(r'\bevent=("(?:[^"\\]|\\.)*"|\S+)')
SKIPPED = re.compile(r"trigger: interval\[([0-9:]+)\].*skipped: maximum number of running instances")


def event_name(line: str) -> str | None:
    """The event= value of a key=value line; APScheduler's own warnings become a short name."""
    m = EVENT.search(line)
    if not m:
        return None
    value = m.group(1)
    if value.startswith('"'):
        skipped = SKIPPED.search(value)
        if skipped:
            return f"apscheduler:skipped(interval {skipped.group(1)})"
        return value.strip('"')[:60]
    return value


def say(*a: Any) -> None:  # progress on stderr; the figures go to stdout
    print(*a, file=sys.stderr, flush=True)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------------------------------
# corpus: first messages only, one customer each
# ------------------------------------------------------------------------------------------------------

@dataclass
class NewTicket:
    raw: bytes  # LF line ends, as Maildir stores them
    message_id: str
    sender: str


def new_tickets(count: int, seed: int, tag: str) -> list[NewTicket]:
    """`count` realistic first messages (plain / alternative / related / mixed, intake.py's mix), each from
    a distinct customer address, no Cc, dated a few minutes ago."""
    rng = random.Random(f"e2e:{tag}:{seed}")
    people = make_people(rng, count)  # addresses are <first.last><index>@domain: distinct by construction
    renderer = Renderer(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    out: list[NewTicket] = []
    for i, person in enumerate(people):
        template = rng.choice(INTL_SUBJECTS if person.intl and rng.random() < 0.4 else SUBJECTS)
        subject = template.format(
            order=f"#{rng.randint(100000, 999999)}", invoice=f"INV-{rng.randint(2024000, 2026999)}",
            version=f"{rng.randint(3, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            error=f"E{rng.randint(100, 999)}", license=f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            date=f"{rng.randint(1, 28)}.{rng.randint(1, 12)}.",
        )
        thread = Thread(person, subject, cc_colleague=False)
        at = now - timedelta(seconds=rng.uniform(30, 900))
        planned = Planned(thread=i, pos=0, last=True, at=at, link="root", kind=_weighted(rng, KINDS),
                          from_colleague=False, seq=i, ticket=i + 1)
        # Renderer seeds each message by seq: offset the latency set so its bytes differ from the throughput set.
        if tag != "throughput":
            planned.seq = 1_000_000 + i
        raw = renderer.render(planned, thread)
        m = MSGID.search(raw)
        assert m is not None
        out.append(NewTicket(raw, m.group(1).decode(), person.addr))
    assert len({t.sender for t in out}) == count and len({t.message_id for t in out}) == count
    return out


# ------------------------------------------------------------------------------------------------------
# the SMTP side
# ------------------------------------------------------------------------------------------------------

class AckRecorder:
    """Hooked into RecordingHandler.on_message: when each message was accepted, and a wake-up at a count."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, Any]] = []  # (time.monotonic(), Received)
        self.target = 0
        self.reached = threading.Event()
        self.changed = threading.Condition(self.lock)

    def __call__(self, item: Any) -> None:
        now = time.monotonic()
        with self.lock:
            self.arrivals.append((now, item))
            if self.target and len(self.arrivals) >= self.target:
                self.reached.set()
            self.changed.notify_all()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def snapshot(self) -> list[tuple[float, Any]]:
        with self.lock:
            return list(self.arrivals)


def in_reply_to(data: bytes) -> str:
    value = BytesHeaderParser().parsebytes(data).get("In-Reply-To", "") or ""
    return str(value).strip().strip("<>").strip()


# ------------------------------------------------------------------------------------------------------
# the daemon
# ------------------------------------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class Daemon:
    """`python -m mailbot.cli.main --config CFG run` with its output timestamped into a log file."""

    def __init__(self, config: Path, log_path: Path, cwd: Path) -> None:
        self.cmd = [PYTHON, "-m", "mailbot.cli.main", "--config", str(config), "run"]
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.t0 = 0.0
        self.marks: dict[str, float] = {}  # first time of selected events, seconds since start
        self.lines: list[tuple[float, str]] = []
        self.rss: list[tuple[float, int]] = []
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Daemon:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.cmd, cwd=self.cwd, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,  # our Ctrl-C reaches it only through stop()
        )
        for target in (self._reader, self._sampler):
            th = threading.Thread(target=target, daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def _reader(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with open(self.log_path, "w") as out:
            for raw in self.proc.stdout:
                t = time.monotonic() - self.t0
                line = raw.decode("utf-8", "replace").rstrip("\n")
                out.write(f"t={t:.3f} {line}\n")
                out.flush()
                self.lines.append((t, line))
                name = event_name(line)
                if name:
                    self.marks.setdefault(name, t)
                    self.marks["last:" + name] = t

    def _sampler(self) -> None:
        while not self._done.wait(RSS_SAMPLE_SECONDS):
            kib = self.status_kib("VmRSS")
            if kib:
                self.rss.append((time.monotonic() - self.t0, kib))

    def status_kib(self, key: str) -> int:
        if self.proc is None:
            return 0
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for ln in f:
                    if ln.startswith(key + ":"):
                        return int(ln.split()[1])
        except OSError:
            pass
        return 0

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, IndexError, ValueError):
            return float("nan")

    def wait_for_event(self, event: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if event in self.marks:
                return self.marks[event]
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited ({self.proc.returncode}) before event={event}:\n{self.tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not log event={event} within {timeout:.0f}s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        return "\n".join(line for _, line in self.lines[-n:])

    def stop(self, timeout: float = 60.0) -> tuple[int | None, float]:
        """SIGTERM, wait; SIGKILL if it does not go. Returns (exit code or None if killed, seconds taken)."""
        if self.proc is None:
            return None, 0.0
        t = time.monotonic()
        code: int | None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
        else:
            code = self.proc.returncode
        took = time.monotonic() - t
        self._done.set()
        for th in self._threads:
            th.join(10)
        return code, took


def log_digest(daemon: Daemon) -> dict[str, Any]:
    events = Counter()
    levels = Counter()
    unusual: list[str] = []
    for t, line in daemon.lines:
        events[event_name(line) or "(no event=)"] += 1
        lv = re.search(r"\blevel=(\S+)", line)
        levels[lv.group(1) if lv else "(none)"] += 1
        if not lv or lv.group(1) not in ("info", "debug") or "Traceback" in line:
            unusual.append(f"t={t:.1f} {line[:300]}")
    return {"events": dict(events.most_common()), "levels": dict(levels), "unusual": unusual}


def write_daemon_config(workdir: Path, dovecot: Any, user: Any, smtp: Any, poll_seconds: float | None,
                        idle: bool = True, connections: int | None = None) -> tuple[Path, str]:
    from tests.conftest import ACK_ALL, imap_section, write_config

    db_url = f"sqlite:///{workdir / 'state' / 'mailbot.db'}"
    sections: dict[str, Any] = {
        "mailbot": {"state_dir": str(workdir / "state"), "database_url": db_url,
                    "secret": "bench-secret-0123456789abcdef", "support_address": SUPPORT,
                    "support_name": "Example Support"},
        # mailbot's default IMAP timeout (60 s), not the tests' 10 s
        "imap": [imap_section(dovecot, user, after_fetch="move", timeout_seconds=60, idle=idle)],
        "rules": {"dir": str(ACK_ALL)},
        "smtp": smtp.section(timeout_seconds=30, max_automatic_per_hour=0),
        "replies": {"max_auto_replies_per_day": 1_000_000},
        # The throughput corpus is in the mailbox before the daemon first looks: new mail here, not history.
        "intake": {"history": False},
    }
    if poll_seconds is not None:
        sections["schedule"] = {"poll_seconds": poll_seconds}
    if connections is not None:
        sections["smtp"]["connections"] = connections
    return write_config(workdir / "mailbot.toml", sections), db_url


def db_counts(db_path: Path) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()
        return {
            "inbound_by_status": dict(q("SELECT status, count(*) FROM inbound GROUP BY status")),
            "tickets": q("SELECT count(*) FROM ticket")[0][0],
            "outbox_by_kind_status": {f"{k}/{s}": n for k, s, n in q("SELECT kind, status, count(*) FROM outbox GROUP BY kind, status")},
        }
    finally:
        con.close()


def imap_client(dovecot: Any, user: Any, timeout: float = 60):
    from imapclient import IMAPClient

    c = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=timeout)
    c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
    c.login(user.name, user.password)
    return c


def folder_counts(dovecot: Any, user: Any) -> dict[str, int]:
    c = imap_client(dovecot, user)
    try:
        out = {}
        for name in ("INBOX", "Processed"):
            if c.folder_exists(name):
                out[name] = int(c.folder_status(name, ["MESSAGES"])[b"MESSAGES"])
        return out
    finally:
        c.logout()


def nearest_rank(sorted_values: list[float], p: float) -> float:
    import math

    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[k - 1]


# ------------------------------------------------------------------------------------------------------
# the two measurements
# ------------------------------------------------------------------------------------------------------

@dataclass
class PhaseResult:
    figures: dict[str, Any] = field(default_factory=dict)
    digest: dict[str, Any] = field(default_factory=dict)


def run_throughput(args: argparse.Namespace, workdir: Path, dovecot: Any, keep: list[Path]) -> PhaseResult:
    from tests.support.smtp import SmtpServer

    n = args.messages
    res = PhaseResult()
    fig = res.figures
    fig["load_start"] = loadavg()
    t = time.monotonic()
    corpus = new_tickets(n, args.seed, "throughput")
    user = dovecot.add_user("throughput")
    for item in corpus:
        dovecot.deliver(user, item.raw)
    renumber_for_dovecot(user.maildir / "new")
    exists, sync_s = warm_up(dovecot, user)
    if exists != n:
        raise RuntimeError(f"Dovecot shows {exists} messages in INBOX, expected {n}")
    sizes = sorted(len(c.raw) for c in corpus)
    fig.update(messages=n, corpus_bytes=sum(sizes), avg_kib=sum(sizes) / n / 1024, median_kib=sizes[n // 2] / 1024)
    say(f"throughput: {n} new tickets, {sum(sizes) / 1e6:.1f} MB, delivered and indexed in {time.monotonic() - t:.1f}s "
        f"(Dovecot sync {sync_s:.1f}s)")
    expected = {c.message_id: c.sender for c in corpus}
    del corpus

    phase_dir = workdir / "throughput"
    phase_dir.mkdir()
    recorder = AckRecorder()
    recorder.target = n
    smtp = SmtpServer()
    smtp.handler.on_message = recorder
    smtp.start()
    daemon = None
    try:
        cfg, _db_url = write_daemon_config(phase_dir, dovecot, user, smtp, args.poll_seconds, not args.no_idle, args.connections)
        daemon = Daemon(cfg, phase_dir / "daemon-throughput.log", phase_dir)
        keep.append(daemon.log_path)
        say("throughput: starting " + shlex.join(daemon.cmd))
        daemon.start()
        loads: list[float] = []
        deadline = daemon.t0 + args.timeout
        while not recorder.reached.wait(1.0):
            loads.append(os.getloadavg()[0])
            if not daemon.alive():
                raise RuntimeError(f"daemon exited ({daemon.proc.returncode}) early:\n{daemon.tail()}")
            if time.monotonic() > deadline:
                say(f"throughput: timeout after {args.timeout:.0f}s with {recorder.count()} of {n} acknowledgements")
                break
            if int(time.monotonic() - daemon.t0) % 15 == 0:
                say(f"  {time.monotonic() - daemon.t0:.0f}s: {recorder.count()} acknowledgements")
        arrivals = recorder.snapshot()
        reached = len(arrivals) >= n
        t_nth = arrivals[n - 1][0] - daemon.t0 if reached else float("nan")
        # A moment more, to see whether anything beyond the N arrives (duplicates would).
        time.sleep(args.grace)
        hwm = daemon.status_kib("VmHWM")
        cpu = daemon.cpu_seconds()
        rss_now = daemon.status_kib("VmRSS")
        code, stop_s = daemon.stop()
        arrivals = recorder.snapshot()
        fig["load_end"] = loadavg()
        fig["load_1min_max_during"] = max(loads, default=os.getloadavg()[0])

        irt = Counter(in_reply_to(item.data) for _, item in arrivals)
        matched = sum(1 for k in irt if k in expected)
        dupes = sum(v - 1 for k, v in irt.items() if v > 1)
        unknown = sum(v for k, v in irt.items() if k not in expected)
        wrong_rcpt = sum(1 for _, item in arrivals
                         if expected.get(in_reply_to(item.data)) not in [r.lower() for r in item.rcpt_tos])
        db = db_counts(phase_dir / "state" / "mailbot.db")
        folders = folder_counts(dovecot, user)
        marks = daemon.marks
        first_ack = arrivals[0][0] - daemon.t0 if arrivals else float("nan")
        fig.update(
            reached=reached, seconds_to_nth_ack=t_nth, acks_per_s=(n / t_nth) if reached else None,
            acks_received=len(arrivals), acks_matched=matched, duplicate_acks=dupes, unknown_acks=unknown,
            wrong_recipient=wrong_rcpt, first_ack_s=first_ack,
            daemon_started_s=marks.get("daemon.started"), imap_connected_s=marks.get("imap.connected"),
            last_imap_polled_s=marks.get("last:imap.polled"), first_process_done_s=marks.get("process.done"),
            last_process_done_s=marks.get("last:process.done"),
            peak_rss_vmhwm_mib=hwm / 1024, rss_at_end_mib=rss_now / 1024,
            rss_at_started_mib=next((k for t_s, k in daemon.rss if t_s >= marks.get("daemon.started", 0)), 0) / 1024,
            rss_sampled_max_mib=max((k for _, k in daemon.rss), default=0) / 1024,
            daemon_cpu_s=cpu, exit_code=code, stop_s=stop_s, db=db, imap_folders=folders,
        )
        # A few points of the acknowledgement curve: when 10 %, 25 %, ... of them had arrived.
        fig["ack_curve_s"] = {f"{p}%": round(arrivals[max(0, int(len(arrivals) * p / 100) - 1)][0] - daemon.t0, 1)
                              for p in (1, 10, 25, 50, 75, 90, 100) if arrivals}
        res.digest = log_digest(daemon)
        return res
    finally:
        if daemon is not None and daemon.alive():
            daemon.stop()
        smtp.stop()


def run_latency(args: argparse.Namespace, workdir: Path, dovecot: Any, keep: list[Path]) -> PhaseResult:
    from tests.support.smtp import SmtpServer

    m, window = args.latency_messages, args.window
    res = PhaseResult()
    fig = res.figures
    fig["load_start"] = loadavg()
    corpus = new_tickets(m, args.seed, "latency")
    rng = random.Random(f"e2e:latency-times:{args.seed}")
    offsets = sorted(rng.uniform(0, window) for _ in range(m))
    user = dovecot.add_user("latency")
    phase_dir = workdir / "latency"
    phase_dir.mkdir()
    recorder = AckRecorder()
    smtp = SmtpServer()
    smtp.handler.on_message = recorder
    smtp.start()
    daemon = None
    appender = None
    try:
        cfg, _db_url = write_daemon_config(phase_dir, dovecot, user, smtp, args.poll_seconds, not args.no_idle, args.connections)
        daemon = Daemon(cfg, phase_dir / "daemon-latency.log", phase_dir)
        keep.append(daemon.log_path)
        say("latency: starting " + shlex.join(daemon.cmd))
        daemon.start()
        daemon.wait_for_event("daemon.started", 120)
        daemon.wait_for_event("imap.connected", 120)  # the first (empty) poll is done
        time.sleep(2.0)
        idle_rss = daemon.status_kib("VmRSS")
        appender = imap_client(dovecot, user)
        appended: dict[str, float] = {}
        sent_at: dict[str, float] = {}
        loads: list[float] = []
        start = time.monotonic()
        say(f"latency: {m} APPENDs over {window:.0f}s (poll_seconds {args.poll_seconds or DEFAULT_POLL_SECONDS:g})")
        for off, item in zip(offsets, corpus):
            delay = start + off - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not daemon.alive():
                raise RuntimeError(f"daemon exited ({daemon.proc.returncode}) early:\n{daemon.tail()}")
            raw = item.raw.replace(b"\n", b"\r\n")
            sent_at[item.message_id] = time.monotonic()
            appender.append("INBOX", raw)
            appended[item.message_id] = time.monotonic()
            loads.append(os.getloadavg()[0])
            say(f"  +{off:6.1f}s appended {len(appended)}/{m}; acks so far {recorder.count()}")
        appender.logout()
        appender = None
        # Wait for the stragglers: at most two poll intervals plus a minute.
        wait = 2 * (args.poll_seconds or DEFAULT_POLL_SECONDS) + 60
        deadline = time.monotonic() + wait
        with recorder.lock:
            while time.monotonic() < deadline:
                got = {in_reply_to(it.data) for _, it in recorder.arrivals}
                if all(mid in got for mid in appended):
                    break
                recorder.changed.wait(1.0)
        time.sleep(args.grace)
        hwm = daemon.status_kib("VmHWM")
        cpu = daemon.cpu_seconds()
        code, stop_s = daemon.stop()
        fig["load_end"] = loadavg()
        fig["load_1min_max_during"] = max(loads, default=os.getloadavg()[0])

        arrivals = recorder.snapshot()
        ack_at: dict[str, float] = {}
        dupes = 0
        for t_arr, item in arrivals:
            key = in_reply_to(item.data)
            if key in ack_at:
                dupes += 1
            else:
                ack_at[key] = t_arr
        lat = {mid: ack_at[mid] - appended[mid] for mid in appended if mid in ack_at}
        values = sorted(lat.values())
        missing = [mid for mid in appended if mid not in ack_at]
        append_ms = sorted((appended[k] - sent_at[k]) * 1000 for k in appended)
        # Where the time goes, from the daemon's log: APPEND done -> the next imap.polled that fetched mail
        # (IDLE or the poll timer) -> acknowledgement accepted.
        polls = [t for t, line in daemon.lines if event_name(line) == "imap.polled" and not re.search(r"\bfetched=0\b", line)]
        to_poll, poll_to_ack = [], []
        for mid, t_app in appended.items():
            rel = t_app - daemon.t0
            nxt = next((t for t in polls if t >= rel - 0.05), None)
            if nxt is not None and mid in ack_at:
                to_poll.append(nxt - rel)
                poll_to_ack.append(ack_at[mid] - daemon.t0 - nxt)
        to_poll.sort()
        poll_to_ack.sort()
        fig.update(
            messages=m, window_s=window, poll_seconds=args.poll_seconds or DEFAULT_POLL_SECONDS,
            poll_overridden=args.poll_seconds is not None, acked=len(values), missing=len(missing),
            duplicate_acks=dupes, unknown_acks=sum(1 for k in ack_at if k not in appended),
            p50_s=nearest_rank(values, 50), p95_s=nearest_rank(values, 95), max_s=values[-1] if values else None,
            min_s=values[0] if values else None, mean_s=sum(values) / len(values) if values else None,
            append_ms_median=append_ms[len(append_ms) // 2] if append_ms else None,
            latencies_s=[round(lat.get(mid, float("nan")), 3) for mid in appended],
            append_offsets_s=[round(o, 2) for o in offsets],
            append_to_poll_s_p50=nearest_rank(to_poll, 50), append_to_poll_s_max=to_poll[-1] if to_poll else None,
            poll_to_ack_s_p50=nearest_rank(poll_to_ack, 50), poll_to_ack_s_max=poll_to_ack[-1] if poll_to_ack else None,
            polls_that_fetched=len(polls), rss_idle_mib=idle_rss / 1024,
            peak_rss_vmhwm_mib=hwm / 1024, daemon_cpu_s=cpu, exit_code=code, stop_s=stop_s,
            db=db_counts(phase_dir / "state" / "mailbot.db"), imap_folders=folder_counts(dovecot, user),
        )
        res.digest = log_digest(daemon)
        return res
    finally:
        if appender is not None:
            with contextlib.suppress(Exception):  # cleanup only: the connection may already be gone
                appender.logout()
        if daemon is not None and daemon.alive():
            daemon.stop()
        smtp.stop()


# ------------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------------

def print_digest(name: str, digest: dict[str, Any]) -> None:
    if not digest:
        return
    ev = ", ".join(f"{k} {v}" for k, v in digest["events"].items())
    print(f"  {name} daemon log: levels {digest['levels']}; events: {ev}")
    for line in digest["unusual"][:12]:
        print(f"    ! {line}")
    if len(digest["unusual"]) > 12:
        print(f"    ! ... {len(digest['unusual']) - 12} more non-info lines")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000, metavar="N", help="throughput: new tickets (default 2000)")
    ap.add_argument("--latency-messages", type=int, default=30, metavar="M", help="latency: APPENDs (default 30)")
    ap.add_argument("--window", type=float, default=300.0, metavar="S", help="latency: spread APPENDs over S seconds")
    ap.add_argument("--poll-seconds", type=float, default=None, metavar="S",
                    help=f"[schedule] poll_seconds for the daemon (default: mailbot's, {DEFAULT_POLL_SECONDS:g})")
    ap.add_argument("--no-idle", action="store_true", help="[[imap]] idle = false: new mail waits for the poll timer")
    ap.add_argument("--connections", type=int, default=None, metavar="N",
                    help=f"[smtp] connections for the daemon (default: mailbot's, {DEFAULT_CONNECTIONS})")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                    help="throughput: give up waiting for the N-th acknowledgement after S seconds")
    ap.add_argument("--grace", type=float, default=3.0, metavar="S",
                    help="seconds to keep the daemon running after the last expected acknowledgement (catches extras)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy the daemon logs and configs to DIR before cleanup")
    args = ap.parse_args(argv)
    if args.messages < 1 or args.latency_messages < 1 or args.window <= 0:
        ap.error("--messages and --latency-messages must be >= 1, --window > 0")
    if args.connections is not None and not 1 <= args.connections <= 16:
        ap.error("--connections must be 1 to 16")
    if args.skip_throughput and args.skip_latency:
        ap.error("nothing to do with both --skip-throughput and --skip-latency")

    repro = ".venv/bin/python bench/e2e.py"
    for flag, value, default in (("--messages", args.messages, 2000), ("--latency-messages", args.latency_messages, 30),
                                 ("--window", args.window, 300.0), ("--seed", args.seed, 1)):
        if value != default:
            repro += f" {flag} {value:g}"
    if args.poll_seconds is not None:
        repro += f" --poll-seconds {args.poll_seconds:g}"
    if args.connections is not None:
        repro += f" --connections {args.connections}"
    repro += " --no-idle" * args.no_idle
    repro += " --skip-throughput" * args.skip_throughput + " --skip-latency" * args.skip_latency

    # SIGTERM to this script: unwind through the finally blocks like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from tests.support.dovecot import Dovecot

    version = code_version()
    load_start = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-e2e-"))
    dovecot = None
    keep: list[Path] = []
    results: dict[str, Any] = {"code": version, "seed": args.seed, "command": repro, "load_start": load_start}
    tp = lat = None
    try:
        dovecot = Dovecot().start()
        if not args.skip_throughput:
            tp = run_throughput(args, workdir, dovecot, keep)
            results["throughput"] = {**tp.figures, "log": tp.digest}
        if not args.skip_latency:
            lat = run_latency(args, workdir, dovecot, keep)
            results["latency"] = {**lat.figures, "log": lat.digest}
        results["load_end"] = loadavg()

        poll = f"{args.poll_seconds:g} s (--poll-seconds)" if args.poll_seconds is not None else f"{DEFAULT_POLL_SECONDS:g} s (mailbot default)"
        idle_mode = "IDLE off (--no-idle)" if args.no_idle else "IDLE on, mailbot's default"
        n_conns = args.connections if args.connections is not None else DEFAULT_CONNECTIONS
        conns = f"{n_conns} connection{'s' * (n_conns != 1)} ({'--connections' if args.connections is not None else 'mailbot default'})"
        print()
        print(f"mailbot end-to-end benchmark (Dovecot -> `mailbot run` -> SMTP acknowledgements), seed {args.seed}")
        print(f"  code: {version}")
        print(f"  machine: {os.cpu_count()} CPUs; load average (1/5/15 min) at start {load_start}, at end {results['load_end']}"
              " (other work on the machine skews every figure)")
        print(f"  daemon: SQLite, IMAP STARTTLS after_fetch=move ({idle_mode}), rules ack-all, "
              f"SMTP plain on loopback over {conns}; poll_seconds {poll}, other [schedule] intervals default")
        print(f"  {'figure':<52}{'value':>16}")
        row = lambda label, value: print(f"  {label:<52}{value:>16}")
        if tp is not None:
            f = tp.figures
            row("throughput: new tickets delivered before start", f"{f['messages']}")
            row("  message size avg / median", f"{f['avg_kib']:.1f} / {f['median_kib']:.1f} KiB")
            if f["reached"]:
                row("  daemon start -> N-th acknowledgement", f"{f['seconds_to_nth_ack']:.1f} s")
                row("  acknowledgements per second", f"{f['acks_per_s']:.1f} acks/s")
                if f["messages"] > 1 and f["seconds_to_nth_ack"] > f["first_ack_s"]:
                    row("    (first ack -> N-th ack only)", f"{(f['messages'] - 1) / (f['seconds_to_nth_ack'] - f['first_ack_s']):.1f} acks/s")
            else:
                row("  NOT REACHED within --timeout: acks received", f"{f['acks_received']}")
            row("  daemon.started / first ack / last imap.polled", f"{f['daemon_started_s'] or float('nan'):.1f} / {f['first_ack_s']:.1f} / {f['last_imap_polled_s'] or float('nan'):.1f} s")
            row("  ack curve (10/50/90 % at)", f"{f['ack_curve_s'].get('10%')} / {f['ack_curve_s'].get('50%')} / {f['ack_curve_s'].get('90%')} s")
            row("  daemon peak RSS (VmHWM before SIGTERM)", f"{f['peak_rss_vmhwm_mib']:.1f} MiB")
            row("    RSS sampled at daemon.started / at end", f"{f['rss_at_started_mib']:.1f} / {f['rss_at_end_mib']:.1f} MiB")
            row("  daemon CPU (user+sys) until stop", f"{f['daemon_cpu_s']:.1f} s")
            row("  acks matched / duplicates / wrong rcpt", f"{f['acks_matched']} / {f['duplicate_acks']} / {f['wrong_recipient']}")
            row("  SIGTERM -> exit (code)", f"{f['stop_s']:.1f} s ({f['exit_code']})")
            row("  load avg 1-min: start / max during / end", f"{f['load_start'].split('/')[0]} / {f['load_1min_max_during']:.2f} / {f['load_end'].split('/')[0]}")
            print(f"    DB: {f['db']}; IMAP folders after: {f['imap_folders']}")
        if lat is not None:
            f = lat.figures
            row(f"latency: {f['messages']} APPENDs over {f['window_s']:g} s, poll {f['poll_seconds']:g} s", "")
            row("  APPEND done -> ack accepted: p50", f"{f['p50_s']:.2f} s")
            row("  p95", f"{f['p95_s']:.2f} s")
            row("  max", f"{f['max_s']:.2f} s" if f["max_s"] is not None else "n/a")
            row("  min / mean", f"{f['min_s']:.2f} / {f['mean_s']:.2f} s" if f["min_s"] is not None else "n/a")
            row("  acked / missing / duplicate acks", f"{f['acked']} / {f['missing']} / {f['duplicate_acks']}")
            row("  of which APPEND -> imap.polled: p50 / max", f"{f['append_to_poll_s_p50']:.2f} / {f['append_to_poll_s_max'] or float('nan'):.2f} s")
            row("  of which imap.polled -> ack: p50 / max", f"{f['poll_to_ack_s_p50']:.2f} / {f['poll_to_ack_s_max'] or float('nan'):.2f} s")
            row("  daemon RSS idle (before mail) / VmHWM", f"{f['rss_idle_mib']:.1f} / {f['peak_rss_vmhwm_mib']:.1f} MiB")
            row("  daemon CPU (user+sys) until stop", f"{f['daemon_cpu_s']:.1f} s")
            row("  SIGTERM -> exit (code)", f"{f['stop_s']:.1f} s ({f['exit_code']})")
            row("  load avg 1-min: start / max during / end", f"{f['load_start'].split('/')[0]} / {f['load_1min_max_during']:.2f} / {f['load_end'].split('/')[0]}")
            print(f"    latencies (s, in APPEND order): {' '.join(f'{x:.1f}' for x in f['latencies_s'])}")
            print(f"    DB: {f['db']}; IMAP folders after: {f['imap_folders']}")
        if tp is not None:
            print_digest("throughput", tp.digest)
        if lat is not None:
            print_digest("latency", lat.digest)
        print(f"  reproduce: {repro}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        ok = (tp is None or (tp.figures["reached"] and tp.figures["duplicate_acks"] == 0)) and (lat is None or lat.figures["missing"] == 0)
        return 0 if ok else 1
    finally:
        if args.keep_logs:
            dest = Path(args.keep_logs)
            dest.mkdir(parents=True, exist_ok=True)
            for path in keep:
                if path.exists():
                    shutil.copy2(path, dest / path.name)
                    cfg = path.parent / "mailbot.toml"
                    if cfg.exists():
                        shutil.copy2(cfg, dest / f"{path.stem}.toml")
        if dovecot is not None:
            dovecot.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
