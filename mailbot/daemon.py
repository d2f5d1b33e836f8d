"""`mailbot run`: an APScheduler 3 AsyncIOScheduler that only ticks; the database holds all state.

Four fixed jobs — poll, process, flush the outbox, sweep deadlines — each max_instances=1, coalesce=True.
Blocking work (imapclient, SQLAlchemy) runs in worker threads; aiosmtplib runs on the loop. A stage that
produced work wakes the next one at once instead of waiting for its interval. SIGTERM stops taking work,
lets the current transaction finish and exits 0; SIGHUP reloads the rules if they validate.
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
from mailbot.core.url_passwords import hide_passwords
from mailbot.intake.mail_source import PushWatcher
from mailbot.logs import log

logger = logging.getLogger("mailbot.daemon")

SHUTDOWN_GRACE_SECONDS = 20.0


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self.scheduler: AsyncIOScheduler | None = None
        self.started_at = app.clock.now()
        self._watchers: dict[str, PushWatcher] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _wake_poll_threadsafe(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.wake, "poll")

    def should_stop(self) -> bool:
        return self.stopping.is_set()

    # the jobs ----------------------------------------------------------------------------------------
    async def poll(self) -> int:
        stored = await asyncio.to_thread(self.app.poll, self.should_stop)
        if stored:
            self.wake("process")
        return stored

    async def process(self) -> int:
        stats = await asyncio.to_thread(self.app.process, self.should_stop)
        for outcome, n in (("filed", stats.done), ("duplicate", stats.duplicates), ("retried", stats.retried), ("quarantined", stats.quarantined)):
            telemetry.PROCESSED.labels(outcome).inc(n)
        if stats.handled:
            log(logger, logging.INFO, "process.done", filed=stats.done, duplicates=stats.duplicates, retry=stats.retried, quarantined=stats.quarantined)
            self.wake("outbox")
        return stats.handled

    async def outbox(self) -> int:
        stats = await self.app.sender.flush(self.should_stop)
        for outcome, n in (("sent", stats.sent), ("retried", stats.retry), ("failed", stats.failed)):
            telemetry.MAIL.labels(outcome).inc(n)
        if stats.sent or stats.failed or stats.retry:
            log(logger, logging.INFO, "outbox.done", sent=stats.sent, retry=stats.retry, failed=stats.failed)
        return stats.sent

    async def sweep(self) -> int:
        fired = await asyncio.to_thread(self.app.sweep, self.should_stop)
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
        systemd.notify("WATCHDOG=1")

    # plumbing ----------------------------------------------------------------------------------------
    def _guarded(self, name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """Run a job as a tracked task (so shutdown can wait for it) that logs instead of dying."""

        async def run() -> None:
            if self.should_stop():
                return
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            started = time.monotonic()
            try:
                await job()
            except Exception:
                log(logger, logging.ERROR, "job.failed", job=name, exc_info=True)
            finally:
                telemetry.JOB_SECONDS.labels(name).observe(time.monotonic() - started)
                self._running.discard(task)

        return run

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
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, self.app.reload_policy))

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
            sched.add_job(
                self._guarded(job_id, fn), "interval", seconds=seconds, id=job_id, name=job_id, next_run_time=now,
                max_instances=1, coalesce=True, misfire_grace_time=None,
            )
        customers = self.app.config.settings.customers
        if customers.sql_url:
            sched.add_job(
                self._guarded("sync", self.sync), "interval", minutes=customers.sync_minutes, id="sync", name="sync",
                next_run_time=now, max_instances=1, coalesce=True,
            )
        interval = systemd.watchdog_interval()
        if interval:
            sched.add_job(self.watchdog, "interval", seconds=interval, id="watchdog", name="watchdog", next_run_time=now)
        metrics = self.app.config.settings.metrics.listen
        if metrics:
            from mailbot.metrics_server import serve_metrics

            serve_metrics(self.app, metrics)
        sched.start()
        systemd.notify("READY=1", "STATUS=running")
        log(logger, logging.INFO, "daemon.started", database=hide_passwords(self.app.config.database_url),
            sources=len(self.app.sources), rules=len(self.app.policy.rules.rules))
        await stop.wait()

        systemd.notify("STOPPING=1")
        sched.shutdown(wait=False)
        for watcher in self._watchers.values():
            watcher.stop()
        self._watchers.clear()
        running = list(self._running)
        if running:
            done, pending = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
        await self.app.sender.transport.close()
        try:
            await asyncio.to_thread(self.app.stop_heartbeat)
        except Exception:  # the database may be the reason for stopping; the row then simply goes stale
            log(logger, logging.WARNING, "heartbeat.not_removed", exc_info=True)
        log(logger, logging.INFO, "daemon.stopped")
