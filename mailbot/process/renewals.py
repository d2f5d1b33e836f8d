"""Renewal reminders: one per support period, `renewal_reminder_days` before it ends, to customers whose period
is active now, in their language (the customer's `language`, else that of their latest ticket, else the desk's).
A scheduled job of its own; it reads only purchases whose period ends soon (indexed), and queues no more than the
hourly rate allows, the soonest period end first (an import must not become a blast)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.entitlement import Purchase, last_day, support_periods
from mailbot.core.mail import Address
from mailbot.core.template_contexts import CustomerView, EntitlementView, RenewalReminderContext
from mailbot.logs import log
from mailbot.outbox.bot_mail import BotMail, BotMailer
from mailbot.outbox.enqueue import existing
from mailbot.policy.in_force import Policy
from mailbot.process.mail_views import desk_view
from mailbot.store.db import unit_of_work
from mailbot.store.models import Customer, CustomerAddress, Outbox, PurchaseRecord, Ticket
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.renewals")

KIND = "renewal-reminder"


@dataclass(frozen=True)
class DueReminder:
    """A renewal reminder due at some moment and not yet queued."""

    customer_id: int
    customer_name: str
    zone: str
    language: str | None  # the customer's own, if known
    plan: str
    product: str
    ends_at: datetime
    to: tuple[Address, ...]

    @property
    def key(self) -> str:
        return f"renewal:{self.customer_id}:{self.plan}:{self.ends_at.isoformat()}"


def sent_within_hour(conn: Connection, now: datetime) -> int:
    """Renewal reminders queued in the hour before `now`: what the hourly rate has already used."""
    return conn.execute(
        select(func.count()).select_from(Outbox).where(Outbox.kind == KIND, Outbox.created_at > now - timedelta(hours=1))
    ).scalar_one()


class RenewalReminders:
    def __init__(self, sessions: sessionmaker[Session], policy: Callable[[], Policy], mailer: BotMailer, language: str, per_hour: int = 0) -> None:
        self.sessions = sessions
        self.policy = policy
        self.mailer = mailer
        self.language = language
        self.per_hour = per_hour  # 0: no limit

    def due(self, conn: Connection, policy: Policy, now: datetime) -> list[DueReminder]:
        """Every reminder due at `now` and not yet queued, the soonest period end first."""
        terms = policy.terms
        found: list[DueReminder] = []
        for plan, days in terms.reminder_days.items():
            shortest, longest = terms.plans[plan].length.bounds()
            # A period ending within `days` was paid within [now - longest, now - shortest + days]; explicit
            # end dates are checked too. Merged periods are then computed per customer.
            candidates = conn.execute(
                select(PurchaseRecord.customer_id).distinct().where(
                    PurchaseRecord.plan == plan,
                    ((PurchaseRecord.paid_at > now - longest) & (PurchaseRecord.paid_at <= now - shortest + timedelta(days=days)))
                    | ((PurchaseRecord.ends_at > now) & (PurchaseRecord.ends_at <= now + timedelta(days=days))),
                )
            ).scalars().all()
            for customer_id in candidates:
                reminder = self._find(conn, policy, customer_id, plan, days, now)
                if reminder is not None:
                    found.append(reminder)
        return sorted(found, key=lambda r: (r.ends_at, r.customer_id))

    def preview(self, now: datetime) -> list[DueReminder]:
        with unit_of_work(self.sessions) as session:
            return self.due(session.connection(), self.policy(), now)

    def run(self, now: datetime) -> int:
        """Queue the reminders due at `now`, no more than the hourly rate allows; returns how many."""
        policy = self.policy()
        with unit_of_work(self.sessions) as session:
            writer = Writer(session.connection())
            due = self.due(writer.conn, policy, now)
            allowed = len(due) if not self.per_hour else max(self.per_hour - sent_within_hour(writer.conn, now), 0)
            for reminder in due[:allowed]:
                self._queue(writer, policy, reminder, now)
            writer.flush()
        queued = min(len(due), allowed)
        if queued:
            log(logger, logging.INFO, "renewals.queued", reminders=queued, deferred=len(due) - queued)
        elif due:
            log(logger, logging.INFO, "renewals.deferred", reminders=len(due), per_hour=self.per_hour)
        return queued

    def _find(self, conn: Connection, policy: Policy, customer_id: int, plan: str, days: int, now: datetime) -> DueReminder | None:
        terms = policy.terms
        rows = conn.execute(
            select(PurchaseRecord.product, PurchaseRecord.kind, PurchaseRecord.plan, PurchaseRecord.paid_at, PurchaseRecord.starts_at, PurchaseRecord.ends_at)
            .where(PurchaseRecord.customer_id == customer_id, PurchaseRecord.plan == plan)
        ).all()
        customer = conn.execute(select(Customer.name, Customer.timezone, Customer.language).where(Customer.id == customer_id)).one()
        zone = customer.timezone or terms.desk_zone.key
        periods = support_periods([Purchase(*r) for r in rows], terms.plans[plan], ZoneInfo(zone))
        current = next(((start, end, pays) for start, end, pays in periods if start <= now < end), None)
        if current is None or current[1] - now > timedelta(days=days):
            return None
        to = tuple(Address(a) for a in conn.execute(
            select(CustomerAddress.value).where(CustomerAddress.customer_id == customer_id, CustomerAddress.kind == "address").order_by(CustomerAddress.id)
        ).scalars())
        if not to:
            return None
        reminder = DueReminder(customer_id, customer.name or "", zone, customer.language, plan, current[2][-1].product, current[1], to)
        return None if existing(conn, reminder.key) is not None else reminder

    def _queue(self, writer: Writer, policy: Policy, r: DueReminder, now: datetime) -> None:
        zone = ZoneInfo(r.zone)
        context = RenewalReminderContext(
            desk=desk_view(self.mailer.origin), zone=r.zone, now=now, customer=CustomerView(r.to[0].addr, r.customer_name, r.zone),
            entitlement=EntitlementView(
                "active", r.plan, r.product, "", r.ends_at, policy.terms.renew_urls.get(r.plan, ""), last_day(r.ends_at, zone),
            ),
            days_left=max((r.ends_at - now).days, 0),
        )
        bot_mail = BotMail(kind=KIND, to=r.to, ticket_id=None, dedupe_key=r.key, reply_to=self.mailer.origin.support_address, batched=True)
        language = r.language or self._last_language(writer, r.customer_id) or self.language
        self.mailer.render_and_queue(writer, bot_mail, policy.templates, "renewal-reminder", language, context, now)
        log(logger, logging.INFO, "renewal.reminded", customer=r.customer_id, plan=r.plan, ends=r.ends_at.isoformat(), to=",".join(a.addr for a in r.to))

    def _last_language(self, writer: Writer, customer_id: int) -> str | None:
        """The language of the customer's most recent ticket (detected from what they wrote), if any."""
        return writer.conn.execute(
            select(Ticket.language).where(Ticket.customer_id == customer_id, Ticket.language.is_not(None)).order_by(Ticket.id.desc()).limit(1)
        ).scalar()
