"""Jobs that follow the calendar rather than the mail: renewal reminders before a support period ends, and
removing passwords from stored messages once their time is up. Both read only what is due (indexed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.credentials import REDACTED, redact
from mailbot.core.credentials import find as find_credentials
from mailbot.core.entitlement import Purchase, support_periods
from mailbot.core.mail import Address
from mailbot.logs import log
from mailbot.outbox.compose import Outgoing
from mailbot.outbox.enqueue import MailOrigin, enqueue_later, existing
from mailbot.parse import MalformedMail, parse_mail
from mailbot.process.desk import Desk
from mailbot.process.respond import Policy
from mailbot.store.db import unit_of_work
from mailbot.store.models import Customer, CustomerAddress, InboundRaw, PurchaseRecord, TicketMessage
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.housekeeping")


class Housekeeping:
    def __init__(self, sessions: sessionmaker[Session], policy: Callable[[], Policy], desk: Desk, origin: MailOrigin, language: str) -> None:
        self.sessions = sessions
        self.policy = policy
        self.desk = desk
        self.origin = origin
        self.language = language

    def run(self, now: datetime) -> int:
        return self.remind_renewals(now) + self.redact_credentials(now)

    # renewal reminders -------------------------------------------------------------------------------
    def remind_renewals(self, now: datetime) -> int:
        """One reminder per support period, `renewal_reminder_days` before it ends, to customers whose
        period is active now (a customer without one gets nothing)."""
        policy = self.policy()
        terms = policy.terms
        sent = 0
        for plan, days in terms.reminder_days.items():
            length = timedelta(days=terms.plans[plan].period_days or 0)
            with unit_of_work(self.sessions) as session:
                writer = Writer(session.connection())
                # A period ending within `days` was paid within [now - length, now - length + days]; explicit
                # end dates are checked too. Merged periods are then computed per customer.
                candidates = writer.conn.execute(
                    select(PurchaseRecord.customer_id).distinct().where(
                        PurchaseRecord.plan == plan,
                        ((PurchaseRecord.paid_at > now - length) & (PurchaseRecord.paid_at <= now - length + timedelta(days=days)))
                        | ((PurchaseRecord.ends_at > now) & (PurchaseRecord.ends_at <= now + timedelta(days=days))),
                    )
                ).scalars().all()
                for customer_id in candidates:
                    sent += self._remind(writer, customer_id, plan, days, now)
                writer.flush()
        return sent

    def _remind(self, writer: Writer, customer_id: int, plan: str, days: int, now: datetime) -> int:
        policy = self.policy()
        terms = policy.terms
        rows = writer.conn.execute(
            select(PurchaseRecord.product, PurchaseRecord.kind, PurchaseRecord.plan, PurchaseRecord.paid_at, PurchaseRecord.starts_at, PurchaseRecord.ends_at)
            .where(PurchaseRecord.customer_id == customer_id, PurchaseRecord.plan == plan)
        ).all()
        periods = support_periods([Purchase(*r) for r in rows], terms.plans[plan])
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
        customer = writer.conn.execute(select(Customer.name, Customer.timezone).where(Customer.id == customer_id)).one()
        context = {
            "customer": {"name": customer.name, "address": to[0].addr, "timezone": customer.timezone or terms.desk_zone.key},
            "zone": customer.timezone or terms.desk_zone.key,
            "entitlement": {"plan": plan, "product": current[2][-1].product, "valid_until": end, "renew_url": terms.renew_urls.get(plan, "")},
            "days_left": max((end - now).days, 0),
            "desk": {"name": self.origin.support_name, "address": self.desk.support_address},
            "now": now,
        }
        rendered = policy.templates.render("renewal-reminder", self.language, context)
        out = Outgoing(
            from_name=self.origin.support_name, from_addr=self.desk.support_address, to=tuple(to), subject=rendered.subject,
            body=rendered.body, message_id=self.origin.new_message_id(0), date=now, reply_to=self.desk.support_address,
            auto_submitted="auto-generated", language=rendered.language,
        )
        enqueue_later(writer, self.origin, out, kind="renewal-reminder", ticket_id=None, now=now, dedupe_key=key)
        log(logger, logging.INFO, "renewal.reminded", customer=customer_id, plan=plan, ends=end.isoformat(), to=",".join(a.addr for a in to))
        return 1

    # credentials -------------------------------------------------------------------------------------
    def redact_credentials(self, now: datetime) -> int:
        """Remove the passwords from messages whose redaction time has come: text, HTML and original bytes."""
        done = 0
        with unit_of_work(self.sessions) as session:
            writer = Writer(session.connection())
            due = writer.conn.execute(
                select(TicketMessage.id, TicketMessage.ticket_id, TicketMessage.inbound_id, TicketMessage.text, TicketMessage.html)
                .where(TicketMessage.redact_at <= now).limit(500)
            ).all()
            for row_id, ticket_id, inbound_id, text, html in due:
                found = find_credentials(text or "")
                secrets = found.secrets if found else ()
                new_text, n_text = redact(text or "", secrets)
                new_html, _ = redact(html, secrets) if html else (html, 0)
                writer.conn.execute(
                    update(TicketMessage).where(TicketMessage.id == row_id).values(text=new_text, html=new_html, redact_at=None)
                )
                raw_note = self._redact_raw(writer, inbound_id, secrets) if inbound_id else "no original kept"
                writer.event(ticket_id, "credentials.redacted", now, message=row_id, removed=n_text, original=raw_note)
                done += 1
            writer.flush()
        if done:
            log(logger, logging.INFO, "credentials.redacted", messages=done)
        return done

    def _redact_raw(self, writer: Writer, inbound_id: int, secrets: tuple[str, ...]) -> str:
        raw = writer.conn.execute(select(InboundRaw.raw).where(InboundRaw.inbound_id == inbound_id)).scalar_one_or_none()
        if raw is None or not secrets:
            return "unchanged"
        text = raw.decode("utf-8", "surrogateescape")
        new, count = redact(text, secrets)
        result = new.encode("utf-8", "surrogateescape")
        try:
            still = find_credentials(parse_mail(result).text)
        except MalformedMail:
            still = None
        if still is not None and set(still.secrets) - {REDACTED}:
            # Encoded (base64, quoted-printable): keep the headers, replace the body with what we stored.
            head = result.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in result else result.split(b"\n\n", 1)[0]
            result = head + b"\r\n\r\n[original body removed: it contained credentials; the redacted text is kept on the ticket]\r\n"
            note = "original body replaced"
        else:
            note = f"{count} occurrence(s) removed from the original"
        writer.conn.execute(update(InboundRaw).where(InboundRaw.inbound_id == inbound_id).values(raw=result))
        return note

