"""Renewal reminders: one per support period, `renewal_reminder_days` before it ends, to customers whose period
is active now, in their language (the customer's `language`, else that of their latest ticket, else the desk's).
A scheduled job of its own; it reads only purchases whose period ends soon (indexed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
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
from mailbot.store.models import Customer, CustomerAddress, PurchaseRecord, Ticket
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.renewals")


class RenewalReminders:
    def __init__(self, sessions: sessionmaker[Session], policy: Callable[[], Policy], mailer: BotMailer, language: str) -> None:
        self.sessions = sessions
        self.policy = policy
        self.mailer = mailer
        self.language = language

    def run(self, now: datetime) -> int:
        """Queue the reminders due at `now`; returns how many."""
        policy = self.policy()
        terms = policy.terms
        sent = 0
        for plan, days in terms.reminder_days.items():
            shortest, longest = terms.plans[plan].length.bounds()
            with unit_of_work(self.sessions) as session:
                writer = Writer(session.connection())
                # A period ending within `days` was paid within [now - longest, now - shortest + days]; explicit
                # end dates are checked too. Merged periods are then computed per customer.
                candidates = writer.conn.execute(
                    select(PurchaseRecord.customer_id).distinct().where(
                        PurchaseRecord.plan == plan,
                        ((PurchaseRecord.paid_at > now - longest) & (PurchaseRecord.paid_at <= now - shortest + timedelta(days=days)))
                        | ((PurchaseRecord.ends_at > now) & (PurchaseRecord.ends_at <= now + timedelta(days=days))),
                    )
                ).scalars().all()
                for customer_id in candidates:
                    sent += self._remind(writer, policy, customer_id, plan, days, now)
                writer.flush()
        if sent:
            log(logger, logging.INFO, "renewals.queued", reminders=sent)
        return sent

    def _remind(self, writer: Writer, policy: Policy, customer_id: int, plan: str, days: int, now: datetime) -> int:
        terms = policy.terms
        rows = writer.conn.execute(
            select(PurchaseRecord.product, PurchaseRecord.kind, PurchaseRecord.plan, PurchaseRecord.paid_at, PurchaseRecord.starts_at, PurchaseRecord.ends_at)
            .where(PurchaseRecord.customer_id == customer_id, PurchaseRecord.plan == plan)
        ).all()
        customer = writer.conn.execute(select(Customer.name, Customer.timezone, Customer.language).where(Customer.id == customer_id)).one()
        zone = customer.timezone or terms.desk_zone.key
        periods = support_periods([Purchase(*r) for r in rows], terms.plans[plan], ZoneInfo(zone))
        current = next(((start, end, pays) for start, end, pays in periods if start <= now < end), None)
        if current is None or current[1] - now > timedelta(days=days):
            return 0
        end = current[1]
        key = f"renewal:{customer_id}:{plan}:{end.isoformat()}"
        if existing(writer.conn, key) is not None:
            return 0
        to = [Address(a) for a in writer.conn.execute(
            select(CustomerAddress.value).where(CustomerAddress.customer_id == customer_id, CustomerAddress.kind == "address").order_by(CustomerAddress.id)
        ).scalars()]
        if not to:
            return 0
        context = RenewalReminderContext(
            desk=desk_view(self.mailer.origin), zone=zone, now=now, customer=CustomerView(to[0].addr, customer.name or "", zone),
            entitlement=EntitlementView("active", plan, current[2][-1].product, "", end, terms.renew_urls.get(plan, ""), last_day(end, ZoneInfo(zone))),
            days_left=max((end - now).days, 0),
        )
        bot_mail = BotMail(
            kind="renewal-reminder", to=tuple(to), ticket_id=None, dedupe_key=key, reply_to=self.mailer.origin.support_address,
            batched=True,
        )
        language = customer.language or self._last_language(writer, customer_id) or self.language
        self.mailer.render_and_queue(writer, bot_mail, policy.templates, "renewal-reminder", language, context, now)
        log(logger, logging.INFO, "renewal.reminded", customer=customer_id, plan=plan, ends=end.isoformat(), to=",".join(a.addr for a in to))
        return 1

    def _last_language(self, writer: Writer, customer_id: int) -> str | None:
        """The language of the customer's most recent ticket (detected from what they wrote), if any."""
        return writer.conn.execute(
            select(Ticket.language).where(Ticket.customer_id == customer_id, Ticket.language.is_not(None)).order_by(Ticket.id.desc()).limit(1)
        ).scalar()
