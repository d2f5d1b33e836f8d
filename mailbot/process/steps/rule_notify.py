"""A rule's `notify`: tell the addresses it names about the message (never the sender about their own mail)."""

from __future__ import annotations

from mailbot.core.mail import Address
from mailbot.core.template_contexts import NotifyContext
from mailbot.outbox.bot_mail import BotMail, BotMailer
from mailbot.process.mail_views import customer_view, desk_view, display_zone, entitlement_view, message_view, ticket_view
from mailbot.process.message_context import MessageContext


class NotifyRuleRecipients:
    name = "notify"

    def __init__(self, mailer: BotMailer, language: str) -> None:
        self.mailer = mailer
        self.language = language

    def __call__(self, ctx: MessageContext) -> None:
        decision = ctx.decision
        templates = ctx.policy.templates
        if decision is None or not decision.notify or ctx.automatic or "notify" not in templates.names:
            return
        mail, ticket, terms = ctx.mail, ctx.ticket, ctx.policy.terms
        sender = mail.sender.addr if mail.sender else None
        zone = display_zone(ticket, terms)
        context = NotifyContext(
            desk=desk_view(self.mailer.origin), zone=zone, now=ctx.now, ticket=ticket_view(ticket),
            customer=customer_view(mail.sender, zone), message=message_view(mail, secrets=ctx.secrets), entitlement=entitlement_view(ticket, terms),
            deadline=ctx.deadline, new_ticket=ctx.filed.new_ticket,
        )
        for address in decision.notify:
            if address == sender:
                continue  # never tell people about their own mail: an auto-responder there would loop
            bot_mail = BotMail(kind="notify", to=(Address(address),), ticket_id=ticket.id, dedupe_key=f"notify:{ctx.inbound_id}:{address}", for_agents=True)
            queued = self.mailer.render_and_queue(ctx.writer, bot_mail, templates, "notify", self.language, context, ctx.now)
            ctx.event("notify.queued", outbox=queued.row, to=address)
