"""After a message is filed: run the rules, apply their decision, and queue the answer and notifications.

Loop protection is mechanism, not policy: whatever the rules say, automatic mail, our own mail, suppressed
(bounced) addresses and addresses past the daily cap get no automatic reply, and the event log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from mailbot.core.automatic import automatic_reasons
from mailbot.core.bounces import failures, returned_message_ids
from mailbot.core.credentials import find as find_credentials
from mailbot.core.entitlement import ACTIVE, UNKNOWN, Entitlement, decide_entitlement
from mailbot.core.language import detect
from mailbot.core.mail import Address, InboundMail
from mailbot.customers.lookup import find_customer
from mailbot.logs import log
from mailbot.outbox.compose import Outgoing
from mailbot.outbox.enqueue import (
    MailOrigin,
    auto_replies_today,
    enqueue,
    reply_target,
    suppression_of,
)
from mailbot.policy.engine import RuleSet
from mailbot.policy.facts import Decision, Facts
from mailbot.policy.terms import Terms
from mailbot.process import response_clock
from mailbot.process.agent_mail import AgentMail
from mailbot.process.desk import Desk
from mailbot.process.filing import Filed, TicketState
from mailbot.process.thread_lookup import find_token
from mailbot.render import Templates
from mailbot.store.models import Outbox, Participant, Suppression, TicketMessage
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.respond")

@dataclass(frozen=True)
class Policy:
    """The rules and templates in force; replaced as a whole on reload."""

    rules: RuleSet
    templates: Templates
    terms: Terms


@dataclass(frozen=True)
class ReplySettings:
    default_language: str
    max_auto_replies_per_day: int


def display_zone(ticket: TicketState, terms: Terms | None) -> str:
    """Times shown to the customer: their own time zone when known, else the zone of the calendar their
    deadline counts on, else the desk's."""
    if ticket.entitlement.get("timezone"):
        return str(ticket.entitlement["timezone"])
    if terms is None:
        return "UTC"
    calendar = terms.calendars.get(ticket.sla_calendar or "")
    return calendar.zone.key if calendar is not None else terms.desk_zone.key


def template_context(
    ticket: TicketState, mail: InboundMail, desk: Desk, origin: MailOrigin, new_ticket: bool, now: datetime,
    deadline: datetime | None = None, terms: Terms | None = None,
) -> dict[str, Any]:
    """What reply templates can use (documented in the README)."""
    sender = mail.sender
    ent = ticket.entitlement
    zone = display_zone(ticket, terms)
    return {
        "ticket": ticket.view(),
        "customer": {"address": sender.addr if sender else "", "name": sender.name if sender else "", "timezone": zone},
        "message": {"subject": mail.subject, "text": mail.text, "message_id": mail.message_id},
        "desk": {"name": origin.support_name, "address": desk.support_address},
        "entitlement": {
            "state": ticket.entitlement_state,
            "plan": ticket.plan,
            "product": ent.get("product"),
            "reason": ent.get("reason", ""),
            "valid_until": datetime.fromisoformat(ent["valid_until"]) if ent.get("valid_until") else None,
            "renew_url": (terms.renew_urls.get(ticket.plan or "", "") if terms else ""),
        },
        "deadline": deadline,
        "zone": zone,
        "reply_address": desk.signer.reply_address(desk.support_address, ticket.id),
        "new_ticket": new_ticket,
        "now": now,
    }


class Responder:
    """The after-filing stage of processing (runs inside the message's transaction)."""

    def __init__(self, policy: Callable[[], Policy], desk: Desk, origin: MailOrigin, settings: ReplySettings, agents: AgentMail) -> None:
        self.policy = policy
        self.desk = desk
        self.origin = origin
        self.settings = settings
        self.agents = agents

    def automatic(self, mail: InboundMail) -> tuple[str, ...]:
        came_from_us = bool(mail.message_id) and self.desk.signer.is_ours(mail.message_id, self.desk.message_id_domain)
        return tuple(automatic_reasons(mail, self.desk.is_own_address, came_from_us))

    def facts(self, mail: InboundMail, new_ticket: bool, ticket: TicketState, now: datetime, automatic: tuple[str, ...] | None = None) -> Facts:
        if automatic is None:
            automatic = self.automatic(mail)
        return Facts(
            mail=mail,
            received_at=now,
            new_ticket=new_ticket,
            automatic=automatic,
            # The ticket's language, detected when it was opened: detection costs more than all the rules.
            language=ticket.language or detect(mail, self.settings.default_language),
            entitlement=ticket.entitlement_state,
            plan=ticket.plan,
            queue=ticket.queue,
        )

    def entitle(self, writer: Writer, inbound_id: int, ticket: TicketState, mail: InboundMail, terms: Terms, now: datetime, new_ticket: bool) -> Entitlement:
        """Decide what the sender has paid for and keep it on the ticket as a snapshot (with why)."""
        found = find_customer(writer.conn, mail.sender.addr) if mail.sender else None
        if found is None:
            ent = decide_entitlement([], terms.plans, now, terms.desk_zone)
            why = "sender not found among customers" if mail.sender else "no usable sender address"
            snapshot = {"reason": f"{why}: presales / unknown", "matched": None}
        else:
            ent = decide_entitlement(found.purchases, terms.plans, now, terms.desk_zone)
            snapshot = {"reason": ent.reason, "matched": found.matched, "customer": found.external_id, "timezone": found.timezone}
        snapshot.update(
            product=ent.product,
            valid_until=ent.valid_until.isoformat() if ent.valid_until else None,
            promise=ent.promise.describe() if ent.promise else None,
        )
        changed = (ticket.entitlement_state, ticket.plan) != (ent.state, ent.plan)
        ticket.set("customer_id", found.customer_id if found else None)
        ticket.set("entitlement_state", ent.state)
        ticket.set("plan", ent.plan)
        ticket.set("entitlement", {k: v for k, v in snapshot.items() if v is not None})
        if changed or new_ticket:
            writer.event(ticket.id, "entitlement", now, inbound_id=inbound_id, state=ent.state, plan=ent.plan, reason=snapshot["reason"])
        return ent

    def __call__(self, writer: Writer, inbound_id: int, filed: Filed, now: datetime) -> None:
        mail = filed.mail
        ticket = filed.ticket
        policy = self.policy()
        terms = policy.terms
        if filed.agent is not None:
            self.agents.handle_reply(writer, inbound_id, filed, policy.templates, terms, now)
            return
        automatic = self.automatic(mail)
        # Automatic mail (an out-of-office reply, a bounce) neither changes what the customer is entitled to
        # nor starts a clock: nobody owes it an answer.
        ent = self.entitle(writer, inbound_id, ticket, mail, terms, now, filed.new_ticket) if not automatic else None
        facts = self.facts(mail, filed.new_ticket, ticket, now, automatic)
        decision = policy.rules.evaluate(facts)
        self.apply(ticket, decision, facts, filed.new_ticket)  # saved by the runner with the rest
        writer.event(
            ticket.id, "rules.decided", now, inbound_id=inbound_id, language=facts.language,
            automatic=list(facts.automatic), **decision.explain(),
        )
        deadline = None
        if ent is not None and decision.no_deadline:
            rule = next((h.rule for h in decision.hits), "a rule")
            writer.event(ticket.id, "sla.none", now, inbound_id=inbound_id, reason=f"rule {rule!r}: no response time promised")
        elif ent is not None:
            deadline = self.start_clock(writer, inbound_id, ticket, ent, terms, filed, now)
        if not automatic and terms.redact_after_days is not None:
            self.schedule_redaction(writer, inbound_id, filed, terms, now)
        if facts.automatic:
            self.handle_bounce(writer, inbound_id, mail, ticket, now)
        self.answer(writer, inbound_id, ticket, facts, decision, policy, now, deadline)
        self.notify(writer, inbound_id, ticket, facts, decision, policy, now, deadline)
        if not automatic:
            zone = display_zone(ticket, terms)
            self.agents.notify(writer, inbound_id, filed, policy.templates, ticket.sla_due_at, zone, now)

    def schedule_redaction(self, writer: Writer, inbound_id: int, filed: Filed, terms: Terms, now: datetime) -> None:
        """Passwords in the message are removed from the stored copies after the configured days."""
        found = find_credentials(filed.mail.text)
        if found is None or terms.redact_after_days is None:
            return
        when = now + timedelta(days=terms.redact_after_days)
        writer.conn.execute(update(TicketMessage).where(TicketMessage.id == filed.message_row_id).values(redact_at=when))
        writer.event(filed.ticket.id, "credentials.found", now, inbound_id=inbound_id, kinds=list(found.kinds), redact_at=when.isoformat())

    def start_clock(self, writer: Writer, inbound_id: int, ticket: TicketState, ent: Entitlement, terms: Terms, filed: Filed, now: datetime) -> datetime | None:
        """Start (or keep) the response clock the sender's plan promises; returns the deadline in force."""
        promise = ent.promise if ent.state == ACTIVE else terms.unknown_promise if ent.state == UNKNOWN else None
        before = (ticket.sla_clock, ticket.sla_due_at)
        clock = response_clock.on_customer_message(ticket, filed.received_at or now, promise, terms, filed.new_ticket)
        deadline = clock.deadline if clock is not None else None
        if clock is not None and (ticket.sla_clock, ticket.sla_due_at) != before:
            writer.event(
                ticket.id, "sla.started", now, inbound_id=inbound_id, clock=clock.kind, promise=promise.describe() if promise else None,
                started=clock.counting_since.isoformat(), deadline=deadline.isoformat() if deadline else None,
                calendar=clock.calendar.name,
            )
        elif promise is None and filed.new_ticket:
            writer.event(ticket.id, "sla.none", now, inbound_id=inbound_id, reason=f"entitlement {ent.state}: no response time is promised")
        return deadline

    # decision ------------------------------------------------------------------------------------------
    @staticmethod
    def apply(ticket: TicketState, decision: Decision, facts: Facts, new_ticket: bool) -> None:
        if decision.queue:
            ticket.set("queue", decision.queue)
        if decision.priority:
            ticket.set("priority", decision.priority)
        if decision.tags:
            ticket.set("tags", list(dict.fromkeys([*ticket.tags, *decision.tags])))
        if decision.assign:
            ticket.set("assignee", decision.assign)

    def why_not_answer(self, writer: Writer, facts: Facts, target: Address | None, now: datetime) -> str | None:
        if facts.automatic:
            return "automatic mail is never answered: " + "; ".join(facts.automatic)
        if target is None:
            return f"no usable address to answer: {facts.mail.sender_problem or 'no sender'}"
        if self.desk.is_own_address(target.addr):
            return f"{target.addr} is our own address"
        blocked = suppression_of(writer.conn, target.addr)
        if blocked is not None:
            return f"{target.addr} gets no automatic mail since {blocked[0]:%Y-%m-%d}: {blocked[1]}"
        sent = auto_replies_today(writer.conn, target.addr, now)
        if sent >= self.settings.max_auto_replies_per_day:
            return f"{target.addr} already got {sent} automatic replies in the last 24 hours (limit {self.settings.max_auto_replies_per_day})"
        return None

    def answer(self, writer: Writer, inbound_id: int, ticket: TicketState, facts: Facts, decision: Decision, policy: Policy, now: datetime, deadline: datetime | None) -> None:
        template = decision.template
        if decision.no_reply or template is None:
            return
        mail = facts.mail
        target = reply_target(mail.reply_to, mail.sender)
        reason = self.why_not_answer(writer, facts, target, now)
        if reason is not None:
            writer.event(ticket.id, "reply.skipped", now, inbound_id=inbound_id, template=template, reason=reason)
            log(logger, logging.INFO, "reply.skipped", ticket=ticket.id, inbound=inbound_id, reason=reason[:200])
            return
        assert target is not None
        context = template_context(ticket, mail, self.desk, self.origin, facts.new_ticket, now, deadline, policy.terms)
        rendered = policy.templates.render(template, facts.language, context)
        kind = "ack" if facts.new_ticket else "reply"
        out = Outgoing(
            from_name=self.origin.support_name,
            from_addr=self.desk.support_address,
            to=(target,),
            subject=rendered.subject,
            body=rendered.body,
            message_id=self.origin.new_message_id(ticket.id),
            date=now,
            reply_to=context["reply_address"],
            in_reply_to=mail.message_id or None,
            references=mail.references,
            auto_submitted="auto-replied",
            language=rendered.language,
        )
        queued = enqueue(
            writer, self.origin, out, kind=kind, ticket_id=ticket.id, now=now,
            dedupe_key=f"ack:{ticket.id}" if facts.new_ticket else f"reply:{inbound_id}",
            # A ticket opened in this very transaction cannot have an acknowledgement yet.
            check_existing=not facts.new_ticket,
            automatic=True, hold=decision.hold, record_on_ticket=True,
        )
        writer.event(
            ticket.id, "reply.queued", now, inbound_id=inbound_id, outbox=queued, template=template,
            language=rendered.language, to=target.addr, held=decision.hold,
        )

    def notify(self, writer: Writer, inbound_id: int, ticket: TicketState, facts: Facts, decision: Decision, policy: Policy, now: datetime, deadline: datetime | None) -> None:
        templates = policy.templates
        if not decision.notify or facts.automatic or "notify" not in templates.names:
            return
        sender = facts.mail.sender.addr if facts.mail.sender else None
        context = template_context(ticket, facts.mail, self.desk, self.origin, facts.new_ticket, now, deadline, policy.terms)
        for address in decision.notify:
            if address == sender:
                continue  # never tell people about their own mail: an auto-responder there would loop
            rendered = templates.render("notify", self.settings.default_language, context)
            out = Outgoing(
                from_name=self.origin.support_name,
                from_addr=self.desk.support_address,
                to=(Address(address),),
                subject=rendered.subject,
                body=rendered.body,
                message_id=self.origin.new_message_id(ticket.id, internal=True),
                date=now,
                reply_to=context["reply_address"],
                auto_submitted="auto-generated",
            )
            queued = enqueue(writer, self.origin, out, kind="notify", ticket_id=ticket.id, now=now, dedupe_key=f"notify:{inbound_id}:{address}", internal=True)
            writer.event(ticket.id, "notify.queued", now, inbound_id=inbound_id, outbox=queued, to=address)

    # bounces -------------------------------------------------------------------------------------------
    def handle_bounce(self, writer: Writer, inbound_id: int, mail: InboundMail, ticket: TicketState, now: datetime) -> None:
        """A delivery failure stops further automatic mail to the failed address and marks what bounced."""
        failed = [f for f in failures(mail) if f.permanent]
        if not failed:
            return
        conn = writer.conn
        candidates: list[str] = []
        token = find_token(mail, self.desk.signer, self.desk.support_address, kinds=("b",))
        if token is not None:
            bounced_id = self.desk.signer.bounced_message_id(token, self.desk.message_id_domain)
            candidates += [bounced_id] if bounced_id else []
        candidates += returned_message_ids(mail)
        bounced = None
        if candidates:
            bounced = conn.execute(
                select(Outbox.id, Outbox.ticket_id, Outbox.recipients, Outbox.status)
                .where(Outbox.message_id.in_(candidates)).order_by(Outbox.id).limit(1)
            ).first()
        known = set(bounced.recipients) if bounced is not None else set()
        addresses = [f.address for f in failed]
        participants = set(conn.execute(select(Participant.address).where(Participant.address.in_(addresses))).scalars())
        already = set(conn.execute(select(Suppression.address).where(Suppression.address.in_(addresses))).scalars())
        for failure in failed:
            # Only an address we actually wrote to, or one that is on a ticket, can be silenced by a bounce.
            if failure.address not in known and failure.address not in participants:
                continue
            if failure.address in already:
                continue
            reason = f"delivery failed permanently ({failure.status or 'no status'})"
            writer.add(Suppression, address=failure.address, reason=reason, at=now, inbound_id=inbound_id)
            target = bounced.ticket_id if bounced is not None and bounced.ticket_id else ticket.id
            writer.event(target, "address.suppressed", now, inbound_id=inbound_id, address=failure.address, reason=reason)
            log(logger, logging.WARNING, "address.suppressed", address=failure.address, reason=reason)
        if bounced is not None and bounced.status == "sent":
            detail = "; ".join(f"{f.address}: {f.status}" for f in failed)
            conn.execute(update(Outbox).where(Outbox.id == bounced.id).values(status="bounced", last_error=detail))
