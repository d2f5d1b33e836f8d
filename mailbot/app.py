"""Wiring: one place that builds the engine, sources, policy, responder and sender from a Config."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailbot.config import Config
from mailbot.customers.importer import ImportReport, import_rows, read_sql
from mailbot.errors import ConfigError
from mailbot.intake.imap import ImapSource
from mailbot.intake.maildir import MaildirSource
from mailbot.logs import log
from mailbot.outbox.enqueue import MailOrigin
from mailbot.outbox.sender import OutboxSender, make_transport
from mailbot.policy.loader import load_rules
from mailbot.policy.terms import load_terms
from mailbot.process.agent_mail import AgentMail, AgentSettings
from mailbot.process.desk import Desk, RunnerContext
from mailbot.process.housekeeping import Housekeeping
from mailbot.process.respond import Policy, ReplySettings, Responder
from mailbot.process.runner import RunStats, process_pending
from mailbot.process.sweep import Sweeper
from mailbot.render import load_templates
from mailbot.store import migrate
from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.time_source import Clock, SystemClock

logger = logging.getLogger("mailbot")

Source = ImapSource | MaildirSource


def load_policy(config: Config) -> Policy:
    """Rules, templates and support terms, validated together (a rule naming a missing template is an error)."""
    folders = [p for p in (config.settings.rules.templates_dir, config.rules_dir / "templates") if p is not None]
    templates = load_templates(folders, config.settings.replies.default_language)
    rules = load_rules(config.rules_dir, templates.names)
    terms = load_terms(config.rules_dir, config.settings.mailbot.timezone)
    if terms.levels and terms.escalation_template not in templates.names:
        raise ConfigError(config.rules_dir / "escalation.toml", [("template", f"unknown template {terms.escalation_template!r}")])
    return Policy(rules=rules, templates=templates, terms=terms)


class App:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._policy: Policy | None = None
        self._lock = threading.Lock()
        # Sources the last poll could not read, with the reason (a refused sign-in, a server down).
        self.unreadable: dict[str, str] = {}

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.config.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def ensure_schema(self) -> None:
        """Run migrations when the schema is behind (start-up and every command that touches the store)."""
        if not migrate.is_current(self.engine):
            log(logger, logging.INFO, "db.upgrade", revision=migrate.head_revision(self.engine))
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
    def context(self) -> RunnerContext:
        return RunnerContext(desk=Desk.from_config(self.config), clock=self.clock)

    @cached_property
    def origin(self) -> MailOrigin:
        s = self.config.settings
        desk = self.context.desk
        return MailOrigin(
            support_address=desk.support_address,
            support_name=s.mailbot.support_name,
            message_id_domain=desk.message_id_domain,
            signer=desk.signer,
            give_up_after=timedelta(hours=s.smtp.give_up_after_hours),
        )

    @cached_property
    def responder(self) -> Responder:
        r = self.config.settings.replies
        settings = ReplySettings(default_language=r.default_language, max_auto_replies_per_day=r.max_auto_replies_per_day)
        a = self.config.settings.agents
        agents = AgentMail(self.context.desk, self.origin, AgentSettings(a.show_agent_names, a.attach_max_bytes, r.default_language))
        return Responder(lambda: self.policy, self.context.desk, self.origin, settings, agents)

    @cached_property
    def sources(self) -> list[Source]:
        s = self.config.settings
        batch = s.processing.batch_size
        found: list[Source] = [ImapSource(acc, self.sessions, self.clock) for acc in s.imap]
        found += [MaildirSource(md, self.sessions, self.clock, batch) for md in s.maildir]
        return found

    @cached_property
    def sender(self) -> OutboxSender:
        cfg = self.config.settings.smtp
        return OutboxSender(self.sessions, cfg, self.clock, make_transport(cfg, self.config.outgoing_maildir))

    # the jobs ---------------------------------------------------------------------------------------
    def poll(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Fetch from every source once; returns how many new messages were stored."""
        stored = 0
        for src in self.sources:
            if should_stop():
                break
            result = src.poll()
            stored += result.stored
            if result.ok:
                self.unreadable.pop(src.name, None)
            else:
                # While a source waits to reconnect, its last real reason (kept on the source) says more.
                self.unreadable[src.name] = getattr(src, "last_error", None) or result.error or "unreadable"
        return stored

    def process(self, should_stop: Callable[[], bool] = lambda: False, limit: int | None = None) -> RunStats:
        return process_pending(self.sessions, self.context, limit=limit, after=self.responder, should_stop=should_stop)

    @cached_property
    def sweeper(self) -> Sweeper:
        language = self.config.settings.replies.default_language
        housekeeping = Housekeeping(self.sessions, lambda: self.policy, self.context.desk, self.origin, language)
        return Sweeper(self.sessions, lambda: self.policy, self.context.desk, self.origin, language, housekeeping)

    def sweep(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Fire the warnings and breach notices that are due; returns how many."""
        return self.sweeper.run(self.clock.now(), should_stop)

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
        for src in self.sources:
            src.close()
        self.engine.dispose()
