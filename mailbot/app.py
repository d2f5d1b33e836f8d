"""Wiring: one place that builds the engine, sources, policy, responder and sender from a Config."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailbot import telemetry
from mailbot.config import Config
from mailbot.customers.importer import ImportReport, import_rows, read_sql
from mailbot.errors import ConfigError
from mailbot.intake.imap import ImapSource
from mailbot.intake.mail_source import MailSource, PollResult, SourceHealth
from mailbot.intake.maildir import MaildirSource
from mailbot.logs import log
from mailbot.outbox.bot_mail import BotMailer
from mailbot.outbox.enqueue import MailOrigin
from mailbot.outbox.sender import OutboxSender
from mailbot.outbox.transports import make_pool
from mailbot.policy.in_force import Policy, load_policy
from mailbot.process.agent_mail import AgentMail, AgentMailOptions
from mailbot.process.analysis_worker import Analyzer, InProcessAnalyzer, WorkerProcessAnalyzer
from mailbot.process.desk import Desk, RunnerContext
from mailbot.process.pipeline import Pipeline, Step
from mailbot.process.redaction import CredentialRedaction
from mailbot.process.renewals import RenewalReminders
from mailbot.process.runner import RunStats, process_pending
from mailbot.process.steps.acknowledgement import Acknowledge
from mailbot.process.steps.agent_notify import NotifyAgents
from mailbot.process.steps.agent_reply import AgentReply
from mailbot.process.steps.automatic_mail import DetectAutomatic
from mailbot.process.steps.bounce_report import RecordBounce
from mailbot.process.steps.credentials_schedule import ScheduleRedaction
from mailbot.process.steps.entitlement_check import CheckEntitlement
from mailbot.process.steps.history_import import FileAsHistory
from mailbot.process.steps.response_deadline import StartResponseClock
from mailbot.process.steps.rule_notify import NotifyRuleRecipients
from mailbot.process.steps.rules_decision import DecideByRules
from mailbot.process.sweep import Sweeper
from mailbot.store import desk_secrets, liveness, migrate, source_leases
from mailbot.store.desk_secrets import SecretSet
from mailbot.store.db import make_engine, release_old_pages, session_factory, unit_of_work
from mailbot.time_source import Clock, SystemClock

logger = logging.getLogger("mailbot")


class App:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._policy: Policy | None = None
        self._lock = threading.Lock()
        # Sources the last poll could not read, with the reason (a refused sign-in, a server down).
        self.unreadable: dict[str, str] = {}
        # Sources whose lease this worker holds: only it reads them.
        self.held: set[str] = set()
        self._lease_lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.config.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def ensure_schema(self) -> None:
        """Run migrations when the schema is behind (start-up and every command that touches the store)."""
        if not migrate.is_current(self.engine):
            log(logger, logging.INFO, "db.upgrade", revision=migrate.HEAD)
            migrate.upgrade(self.engine)

    # policy -----------------------------------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        with self._lock:
            if self._policy is None:
                self._policy = load_policy(self.config)
            return self._policy

    def reload_policy(self) -> bool:
        """Load the rules again; they replace the old ones only if they validate. Returns whether they did."""
        try:
            fresh = load_policy(self.config)
        except ConfigError as exc:
            log(logger, logging.ERROR, "rules.reload_failed", error=str(exc).replace("\n", " | "))
            return False
        with self._lock:
            self._policy = fresh
        log(logger, logging.INFO, "rules.reloaded", rules=len(fresh.rules.rules), source=fresh.rules.source)
        return True

    # the parts --------------------------------------------------------------------------------------
    @cached_property
    def secrets(self) -> SecretSet:
        """The desk's reply-token secrets from the database (stored there by the first worker to start)."""
        config = self.config
        try:
            return desk_secrets.resolve(self.sessions, config.configured_secret(), config.legacy_secret(), self.clock.now())
        except desk_secrets.SecretMismatch as exc:
            raise ConfigError(config.source, [(config.secret_key(), str(exc))]) from None

    @cached_property
    def desk(self) -> Desk:
        return Desk.from_config(self.config, self.secrets.signer())

    @cached_property
    def analyzer(self) -> Analyzer:
        """Where each message is parsed and analysed: a worker process with a time limit, unless isolate = false."""
        p = self.config.settings.processing
        if p.isolate:
            return WorkerProcessAnalyzer(self.desk.limits, self.desk.default_language, p.max_seconds_per_message, self.desk.parse_options)
        return InProcessAnalyzer(self.desk.limits, self.desk.default_language, self.desk.parse_options)

    @cached_property
    def context(self) -> RunnerContext:
        return RunnerContext(desk=self.desk, clock=self.clock, analyzer=self.analyzer)

    @cached_property
    def origin(self) -> MailOrigin:
        s = self.config.settings
        return MailOrigin(
            support_address=self.desk.support_address,
            support_name=s.mailbot.support_name,
            message_id_domain=self.desk.message_id_domain,
            signer=self.desk.signer,
            give_up_after=timedelta(hours=s.smtp.give_up_after_hours),
        )

    @cached_property
    def mailer(self) -> BotMailer:
        return BotMailer(self.origin)

    @cached_property
    def pipeline(self) -> Pipeline:
        """The steps after filing, in order (each one a module under process/steps/)."""
        s = self.config.settings
        language = s.replies.default_language
        agents = AgentMail(self.desk, self.mailer, AgentMailOptions(
            s.agents.show_agent_names, s.agents.attach_max_bytes, language, s.agents.max_notifications_per_ticket_per_hour,
        ))
        steps: list[Step] = [
            FileAsHistory(self.desk, s.intake.history_open_days),
            AgentReply(agents),
            DetectAutomatic(self.desk),
            CheckEntitlement(),
            DecideByRules(language),
            StartResponseClock(),
            ScheduleRedaction(),
            RecordBounce(self.desk),
            Acknowledge(self.desk, self.mailer, s.replies.max_auto_replies_per_day, s.intake.max_ack_age_hours),
            NotifyRuleRecipients(self.mailer, language),
            NotifyAgents(agents),
        ]
        return Pipeline(steps, lambda: self.policy)

    @cached_property
    def sources(self) -> list[MailSource]:
        s = self.config.settings
        batch = s.processing.batch_size
        zone = s.mailbot.timezone
        found: list[MailSource] = [ImapSource(acc, self.sessions, self.clock, s.intake, zone) for acc in s.imap]
        found += [MaildirSource(md, self.sessions, self.clock, batch, s.intake, zone) for md in s.maildir]
        return found

    @cached_property
    def sender(self) -> OutboxSender:
        cfg = self.config.settings.smtp
        return OutboxSender(self.sessions, cfg, self.clock, make_pool(cfg, self.config.outgoing_maildir))

    # leases: one reader per source ------------------------------------------------------------------
    @cached_property
    def worker_id(self) -> str:
        """This process as leases, heartbeats, logs and `status` name it: "<[workers] name>@<host>:<pid>" (or
        "<host>:<pid>"), so that two processes given the same name never both hold a source."""
        return source_leases.worker_identity(self.config.settings.workers.name, socket.gethostname(), os.getpid())

    def hold_sources(self) -> tuple[list[MailSource], list[MailSource]]:
        """Renew or take the lease of every source; returns the sources this worker took and lost just now."""
        ttl = timedelta(seconds=self.config.settings.workers.lease_seconds)
        taken: list[MailSource] = []
        lost: list[MailSource] = []
        with self._lease_lock:
            for src in self.sources:
                got = source_leases.hold(self.sessions, src.name, self.worker_id, self.clock.now(), ttl, source_leases.local_process_gone)
                if got.held and src.name not in self.held:
                    self.held.add(src.name)
                    taken.append(src)
                    if got.taken_from is not None:
                        log(logger, logging.WARNING, "source.taken_over", source=src.name, worker=self.worker_id, previous=got.taken_from)
                    else:
                        log(logger, logging.INFO, "source.held", source=src.name, worker=self.worker_id)
                elif not got.held and src.name in self.held:
                    self.held.discard(src.name)
                    lost.append(src)
                    log(logger, logging.WARNING, "source.lost", source=src.name, worker=self.worker_id, holder=got.holder)
        return taken, lost

    # the jobs ---------------------------------------------------------------------------------------
    def poll(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Fetch once from every source this worker holds the lease of; returns how many new messages were stored."""
        return sum(result.stored for result in self.poll_sources(should_stop))

    def poll_sources(self, should_stop: Callable[[], bool] = lambda: False, history_only: bool = False) -> list[PollResult]:
        """Fetch once from every source this worker holds the lease of (with `history_only`, only what
        first-seen folders held)."""
        results: list[PollResult] = []
        self.hold_sources()
        for src in self.sources:
            if should_stop():
                break
            if src.name not in self.held:
                continue  # another worker reads it
            result = src.poll(should_stop, history_only)
            results.append(result)
            telemetry.FETCHED.labels(src.name).inc(result.fetched)
            telemetry.STORED.labels(src.name).inc(result.stored)
            if not result.ok and not result.backing_off:
                telemetry.POLL_FAILURES.labels(src.name).inc()
            health = src.health()
            self.record_health(health)
            if health.failing:
                self.unreadable[src.name] = health.last_error or "unreadable"
            else:
                self.unreadable.pop(src.name, None)
        return results

    def record_health(self, health: SourceHealth) -> None:
        """Keep the source's last success and last error in the database, where `status` on any host reads them."""
        with unit_of_work(self.sessions) as session:
            liveness.record_source(
                session, health.name, health.kind, health.last_success, health.last_error, health.last_error_at,
                self.worker_id, self.clock.now(),
            )

    def heartbeat(self, started_at: datetime) -> None:
        with unit_of_work(self.sessions) as session:
            liveness.beat(session, self.worker_id, started_at, self.clock.now())

    def stop_heartbeat(self) -> None:
        with unit_of_work(self.sessions) as session:
            liveness.stop_beating(session, self.worker_id)

    def process(
        self, should_stop: Callable[[], bool] = lambda: False, limit: int | None = None, history_only: bool = False,
        on_filed: Callable[[], object] | None = None,
    ) -> RunStats:
        return process_pending(
            self.sessions, self.context, limit=limit, after=self.pipeline, should_stop=should_stop, history_only=history_only,
            on_filed=on_filed,
        )

    @cached_property
    def sweeper(self) -> Sweeper:
        return Sweeper(self.sessions, lambda: self.policy, self.mailer, self.config.settings.replies.default_language)

    def sweep(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Fire the warnings and breach notices that are due; returns how many."""
        return self.sweeper.run(self.clock.now(), should_stop)

    @cached_property
    def reminders(self) -> RenewalReminders:
        replies = self.config.settings.replies
        return RenewalReminders(self.sessions, lambda: self.policy, self.mailer, replies.default_language, replies.reminders_per_hour)

    def remind_renewals(self) -> int:
        """Queue the renewal reminders that are due, within the hourly rate; returns how many."""
        return self.reminders.run(self.clock.now())

    def redact_credentials(self) -> int:
        """Remove the passwords whose redaction time has come; returns from how many messages."""
        done = CredentialRedaction(self.sessions).run(self.clock.now())
        if done and not release_old_pages(self.engine):
            log(logger, logging.WARNING, "credentials.log_not_emptied", reason="a reader holds the SQLite write-ahead log; retried next run")
        return done

    def sync_customers(self) -> ImportReport | None:
        """Pull purchases from the billing database, if one is configured (it is the truth: a full sync)."""
        cfg = self.config.settings.customers
        if not cfg.sql_url:
            return None
        rows = read_sql(cfg.sql_url, cfg.sql_query)
        terms = self.policy.terms
        with unit_of_work(self.sessions) as session:
            report = import_rows(session, rows, terms.plans, terms.desk_zone, "sql", self.clock.now(), full_sync=True)
        log(logger, logging.INFO, "customers.synced", summary=report.summary())
        for line, problem in report.errors[:20]:
            log(logger, logging.WARNING, "customers.row_rejected", row=line, problem=problem)
        return report

    def close(self) -> None:
        """Close what was opened (after a failed start-up, some of it never was); give up the sources' leases so
        another worker takes them at once."""
        if "analyzer" in self.__dict__:
            self.analyzer.close()
        if self.held:
            try:
                source_leases.release(self.sessions, self.worker_id, sorted(self.held))
            except SQLAlchemyError as exc:
                log(logger, logging.WARNING, "source.release_failed", error=str(exc).splitlines()[0][:200])
            self.held.clear()
        if "sources" in self.__dict__:
            for src in self.sources:
                src.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
