"""Answer the customer with the template the rules chose, unless loop protection forbids it (and say why).

Loop protection is mechanism, not policy: whatever the rules say, automatic mail, our own mail, suppressed
(bounced) addresses and addresses past the daily cap get no automatic reply. Neither does mail whose own
timestamps show it older than [intake] max_ack_age_hours (restored from a backup, left days in a queue).
"""

from __future__ import annotations

import logging

from mailbot.core.mail import Address
from mailbot.core.mail_age import too_old_to_acknowledge
from mailbot.core.template_contexts import ReplyContext
from mailbot.logs import log
from mailbot.outbox.bot_mail import BotMail, BotMailer
from mailbot.outbox.enqueue import auto_replies_today, reply_target, suppression_of
from mailbot.process.desk import Desk
from mailbot.process.mail_views import customer_view, desk_view, display_zone, entitlement_view, message_view, ticket_view
from mailbot.process.message_context import MessageContext

logger = logging.getLogger("mailbot.respond")


class Acknowledge:
    name = "answer"
    live_only = True  # not run for history (process/pipeline.py)

    def __init__(self, desk: Desk, mailer: BotMailer, max_auto_replies_per_day: int, max_age_hours: float = 0) -> None:
        self.desk = desk
        self.mailer = mailer
        self.max_per_day = max_auto_replies_per_day
        self.max_age_hours = max_age_hours  # 0: any age is answered

    def why_not(self, ctx: MessageContext, target: Address | None) -> str | None:
        if ctx.automatic:
            return "automatic mail is never answered: " + "; ".join(ctx.automatic)
        if target is None:
            return f"no usable address to answer: {ctx.mail.sender_problem or 'no sender'}"
        if ctx.filed.guest:
            return f"{ctx.filed.mail.sender.addr if ctx.filed.mail.sender else 'the sender'} has no seat on ticket {ctx.ticket.id}: sent nothing until an agent admits them"
        if self.desk.is_own_address(target.addr):
            return f"{target.addr} is our own address"
        too_old = too_old_to_acknowledge(ctx.mail.headers, ctx.filed.received_at or ctx.now, self.max_age_hours)
        if too_old is not None:
            return too_old
        blocked = suppression_of(ctx.writer, target.addr)
        if blocked is not None:
            return f"{target.addr} gets no automatic mail since {blocked[0]:%Y-%m-%d}: {blocked[1]}"
        sent = auto_replies_today(ctx.writer, target.addr, ctx.now)
        if sent >= self.max_per_day:
            return f"{target.addr} already got {sent} automatic replies in the last 24 hours (limit {self.max_per_day})"
        return None

    def __call__(self, ctx: MessageContext) -> None:
        decision, facts = ctx.decision, ctx.facts
        if decision is None or facts is None or decision.no_reply or decision.template is None:
            return
        template, mail, ticket = decision.template, ctx.mail, ctx.ticket
        target = reply_target(mail.reply_to, mail.sender)
        reason = self.why_not(ctx, target)
        if reason is not None or target is None:
            ctx.event("reply.skipped", template=template, reason=reason)
            log(logger, logging.INFO, "reply.skipped", ticket=ticket.id, inbound=ctx.inbound_id, reason=(reason or "")[:200])
            return
        terms = ctx.policy.terms
        zone = display_zone(ticket, terms)
        context = ReplyContext(
            desk=desk_view(self.mailer.origin), zone=zone, now=ctx.now, ticket=ticket_view(ticket),
            customer=customer_view(mail.sender, zone), message=message_view(mail, secrets=ctx.secrets), entitlement=entitlement_view(ticket, terms),
            deadline=ctx.deadline, reply_address=self.mailer.ticket_address(ticket.id), new_ticket=ctx.filed.new_ticket,
            same_day=ctx.same_day,
        )
        new = ctx.filed.new_ticket
        bot_mail = BotMail(
            kind="ack" if new else "reply", to=(target,), ticket_id=ticket.id,
            dedupe_key=f"ack:{ticket.id}" if new else f"reply:{ctx.inbound_id}",
            auto_submitted="auto-replied", in_reply_to=mail.message_id or None, references=mail.references,
            counts_as_automatic_reply=True, hold=decision.hold, record_on_ticket=True,
            may_exist=not new,  # a ticket opened in this very transaction cannot have an acknowledgement yet
        )
        queued = self.mailer.render_and_queue(ctx.writer, bot_mail, ctx.policy.templates, template, facts.language, context, ctx.now)
        ctx.event("reply.queued", outbox=queued.row, template=template, language=facts.language, to=target.addr, held=decision.hold)
