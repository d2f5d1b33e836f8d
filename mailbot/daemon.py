"""`mailbot run`: an APScheduler 3 AsyncIOScheduler that only ticks; the database holds all state.

Four fixed jobs — poll, process, flush the outbox, sweep deadlines — each max_instances=1, coalesce=True.
Blocking work (imapclient, SQLAlchemy) runs in worker threads; aiosmtplib runs on the loop. A stage that
produced work wakes the next one at once instead of waiting for its interval. SIGTERM stops taking work,
lets the current transaction finish, stops the analysis worker (killing it mid-message if it must: the
message is given back untouched) and exits 0; SIGHUP reloads the rules if they validate.

A job that fails backs off (its interval, doubling, capped); a database that went away is one error line,
checked with a doubling delay, and one info line when it answers again. The systemd watchdog is pinged only
while every job makes progress.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailbot import systemd, telemetry
from mailbot.app import App
from mailbot.core.job_health import JobHealth
from mailbot.core.url_passwords import hide_passwords
from mailbot.intake.mail_source import PushWatcher
from mailbot.logs import log
from mailbot.process.analysis_worker import warm_up
from mailbot.store.db import unit_of_work
from mailbot.store.outage_watch import OutageWatch
from mailbot.store.queue_counts import queue_counts

logger = logging.getLogger("mailbot.daemon")

SHUTDOWN_GRACE_SECONDS = 20.0
SENDER_WAKE_SECONDS = 0.5
STATUS_SECONDS = 30.0  # how often STATUS= is refreshed under systemd without a watchdog


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self.scheduler: AsyncIOScheduler | None = None
        every = app.config.settings.schedule
        self.health = JobHealth(time.monotonic(), every.stall_seconds, every.retry_max_seconds)
        self.database = OutageWatch(app.engine, every.retry_max_seconds, self._wake_all)
        self._stalled_logged: set[str] = set()
        self.last_poll: datetime | None = None
        self.started_at = app.clock.now()
        self._watchers: dict[str, PushWatcher] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox_woken = float("-inf")

    def _wake_poll_threadsafe(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.wake, "poll")

    def should_stop(self) -> bool:
        return self.stopping.is_set()

    def checker(self, job: str) -> Callable[[], bool]:
        """`should_stop` for one job: each call between two items is also its sign of progress."""

        def should_stop() -> bool:
            self.health.progress(job, time.monotonic())
            return self.stopping.is_set()

        return should_stop

    # the jobs ----------------------------------------------------------------------------------------
    async def poll(self) -> int:
        stored = await asyncio.to_thread(self.app.poll, self.checker("poll"))
        self.last_poll = datetime.now(timezone.utc)
        if stored:
            self.wake("process")
        return stored

    def _wake_outbox_threadsafe(self) -> None:
        """After a commit that filed mail, at most every SENDER_WAKE_SECONDS: answers go out during a burst,
        not only when filing has nothing left."""
        now = time.monotonic()
        if self._loop is not None and now - self._outbox_woken >= SENDER_WAKE_SECONDS:
            self._outbox_woken = now
            self._loop.call_soon_threadsafe(self.wake, "outbox")

    async def process(self) -> int:
        stats = await asyncio.to_thread(self.app.process, self.checker("process"), on_filed=self._wake_outbox_threadsafe)
        for outcome, n in (("filed", stats.done), ("duplicate", stats.duplicates), ("retried", stats.retried), ("quarantined", stats.quarantined)):
            telemetry.PROCESSED.labels(outcome).inc(n)
        if stats.handled:
            log(logger, logging.INFO, "process.done", filed=stats.done, duplicates=stats.duplicates, retry=stats.retried, quarantined=stats.quarantined)
            self.wake("outbox")
        return stats.handled

    async def outbox(self) -> int:
        stats = await self.app.sender.flush(self.checker("outbox"))
        for outcome, n in (("sent", stats.sent), ("retried", stats.retry), ("failed", stats.failed)):
            telemetry.MAIL.labels(outcome).inc(n)
        if stats.sent or stats.failed or stats.retry:
            log(logger, logging.INFO, "outbox.done", sent=stats.sent, retry=stats.retry, failed=stats.failed)
        return stats.sent

    async def sweep(self) -> int:
        fired = await asyncio.to_thread(self.app.sweep, self.checker("sweep"))
        telemetry.ESCALATIONS.inc(fired)
        if fired:
            self.wake("outbox")
        return fired

    async def reminders(self) -> int:
        queued = await asyncio.to_thread(self.app.remind_renewals)
        telemetry.REMINDERS.inc(queued)
        if queued:
            self.wake("outbox")
        return queued

    async def redaction(self) -> int:
        return await asyncio.to_thread(self.app.redact_credentials)

    async def sync(self) -> None:
        await asyncio.to_thread(self.app.sync_customers)

    async def heartbeat(self) -> None:
        await asyncio.to_thread(self.app.heartbeat, self.started_at)

    async def leases(self) -> None:
        """Renew the sources' leases; push watching (IDLE) runs exactly on the sources this worker holds."""
        taken, _ = await asyncio.to_thread(self.app.hold_sources)
        for name in [n for n in self._watchers if n not in self.app.held]:
            await asyncio.to_thread(self._watchers.pop(name).stop)
        for src in self.app.sources:
            if src.name in self.app.held and src.name not in self._watchers and not self.should_stop():
                watcher = src.watcher(self._wake_poll_threadsafe)
                if watcher is not None:
                    watcher.start()
                    self._watchers[src.name] = watcher
        if taken:
            self.wake("poll")

    async def watchdog(self) -> None:
        """Ping the watchdog only while every job makes progress; STATUS= says how the desk is doing."""
        stalled = self.health.stalled(time.monotonic())
        for name, seconds in stalled:
            if name not in self._stalled_logged:
                log(logger, logging.ERROR, "job.stuck", job=name, quiet_s=round(seconds), note="watchdog pings stopped")
                self._stalled_logged.add(name)
        if stalled:
            systemd.notify("STATUS=stuck: " + ", ".join(f"{n} for {round(s)} s" for n, s in stalled))
            return
        self._stalled_logged.clear()
        systemd.notify("WATCHDOG=1", f"STATUS={await self.status_line()}")

    async def status_line(self) -> str:
        """One line for `systemctl status`: backlog, outbox queue, last poll."""
        if self.database.down_since is not None:
            return f"database unavailable for {round(time.monotonic() - self.database.down_since)} s"
        try:
            counts = await asyncio.to_thread(self._counts)
        except Exception as exc:  # a status line is never worth a failure
            return f"counts unavailable ({type(exc).__name__})"
        polled = self.last_poll.strftime("%H:%M:%S UTC") if self.last_poll else "not yet"
        return f"backlog {counts.inbound_waiting}, outbox {counts.outbox_queued} queued, last poll {polled}"

    def _counts(self) -> Any:
        with unit_of_work(self.app.sessions) as session:
            return queue_counts(session)

    def reload(self) -> None:
        """SIGHUP: RELOADING=1, reload the rules if they validate, READY=1."""
        systemd.reloading()
        self.app.reload_policy()
        systemd.notify("READY=1", "STATUS=rules reloaded")

    # plumbing ----------------------------------------------------------------------------------------
    def _guarded(self, name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """Run a job as a tracked task (so shutdown can wait for it) that logs instead of dying, backs off
        after a failure, and waits while the database is down."""

        async def run() -> None:
            if self.should_stop() or not self.health.may_run(name, time.monotonic()):
                return
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            started = time.monotonic()
            try:
                if await self.database.answers():
                    await self._turn(name, job)
                else:
                    self.health.waited(name, time.monotonic())
            finally:
                telemetry.JOB_SECONDS.labels(name).observe(time.monotonic() - started)
                self._running.discard(task)

        return run

    async def _turn(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        self.health.begin(name, time.monotonic())
        try:
            await job()
        except Exception as exc:
            if not await self.database.lost(name, exc):
                delay = self.health.end(name, time.monotonic(), ok=False)
                log(logger, logging.ERROR, "job.failed", job=name, retry_in_s=round(delay, 1), exc_info=True)
                return
            # Not the job's fault: it runs again as soon as the database is back.
        self.health.end(name, time.monotonic(), ok=True)

    def _wake_all(self) -> None:
        for job_id in ("poll", "process", "outbox", "sweep"):
            self.wake(job_id)

    def wake(self, job_id: str) -> None:
        if self.scheduler is not None and not self.should_stop():
            job = self.scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=datetime.now(timezone.utc))

    def jobs_in_order(self) -> tuple[tuple[str, Callable[[], Awaitable[Any]]], ...]:
        return (
            ("poll", self.poll), ("process", self.process), ("sweep", self.sweep), ("reminders", self.reminders),
            ("redaction", self.redaction), ("outbox", self.outbox),
        )

    async def run_once(self) -> bool:
        """One of each job, in order (for cron users and tests). A job that fails is logged and the others
        still run; returns whether all succeeded."""
        ok = True
        for name, job in self.jobs_in_order():
            try:
                await job()
            except Exception:
                log(logger, logging.ERROR, "job.failed", job=name, exc_info=True)
                ok = False
        await self.app.sender.transport.close()
        return ok and not self.app.unreadable  # a source that could not be read fails the run too

    async def run_forever(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_stop(signame: str) -> None:
            log(logger, logging.INFO, "daemon.stopping", signal=signame)
            self.stopping.set()
            stop.set()

        loop.add_signal_handler(signal.SIGTERM, on_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, on_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, self.reload))

        sched = self.scheduler = AsyncIOScheduler(timezone=timezone.utc, event_loop=loop)
        every = self.app.config.settings.schedule
        now = datetime.now(timezone.utc)
        for job_id, fn, seconds in (
            ("leases", self.leases, self.app.config.settings.workers.lease_seconds / 3),
            ("poll", self.poll, every.poll_seconds),
            ("process", self.process, every.process_seconds),
            ("outbox", self.outbox, every.outbox_seconds),
            ("sweep", self.sweep, every.sweep_seconds),
            ("reminders", self.reminders, every.reminders_seconds),
            ("redaction", self.redaction, every.redaction_seconds),
            ("heartbeat", self.heartbeat, self.app.config.settings.status.heartbeat_seconds),
        ):
            self.health.add(job_id, seconds)
            sched.add_job(
                self._guarded(job_id, fn), "interval", seconds=seconds, id=job_id, name=job_id, next_run_time=now,
                max_instances=1, coalesce=True, misfire_grace_time=None,
            )
        customers = self.app.config.settings.customers
        if customers.sql_url:
            self.health.add("sync", customers.sync_minutes * 60)
            sched.add_job(
                self._guarded("sync", self.sync), "interval", minutes=customers.sync_minutes, id="sync", name="sync",
                next_run_time=now, max_instances=1, coalesce=True,
            )
        interval = systemd.watchdog_interval() or (STATUS_SECONDS if systemd.enabled() else None)
        if interval:
            sched.add_job(self.watchdog, "interval", seconds=interval, id="watchdog", name="watchdog", next_run_time=now,
                          max_instances=1, coalesce=True)
        metrics = self.app.config.settings.metrics.listen
        if metrics:
            from mailbot.metrics_server import serve_metrics

            serve_metrics(self.app, metrics)
        # The analysis worker warms up (imports, language models) before the first message needs it.
        warming = loop.run_in_executor(None, warm_up, self.app.analyzer, self.should_stop)
        sched.start()
        # Ready means able to file mail: polling and sending already run, filing waits for the worker. A stop
        # meanwhile ends the warm-up at once; a failed one is logged and retried by the first message.
        await asyncio.wait([warming])
        systemd.notify("READY=1", "STATUS=running")
        log(logger, logging.INFO, "daemon.started", worker=self.app.worker_id, database=hide_passwords(self.app.config.database_url),
            sources=len(self.app.sources), rules=len(self.app.policy.rules.rules))
        await stop.wait()

        systemd.notify("STOPPING=1")
        # No new turns; the scheduler is shut down only after the running ones end, since its shutdown
        # cancels the tasks of jobs still running (a send between the server's 250 and its commit).
        sched.pause()
        for watcher in self._watchers.values():
            watcher.stop()
        self._watchers.clear()
        # Let running jobs see should_stop and finish their transaction before the scheduler goes: its
        # shutdown cancels the tasks still running. New runs return at once (they check should_stop first).
        running = list(self._running)
        if running:
            done, pending = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
        sched.shutdown(wait=False)
        await self.app.sender.transport.close()
        await asyncio.wait([warming], timeout=1)
        await asyncio.to_thread(self.app.analyzer.close)  # kills the worker if it is still busy
        try:
            await asyncio.to_thread(self.app.stop_heartbeat)
        except Exception:  # the database may be the reason for stopping; the row then simply goes stale
            log(logger, logging.WARNING, "heartbeat.not_removed", exc_info=True)
        log(logger, logging.INFO, "daemon.stopped")
