"""Passwords a customer sent: masked in all mail mailbot writes, and removed from what it stores after the days the privacy terms set."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from mailbot.core.credentials import find_in_mail, hide
from mailbot.process.message_context import MessageContext
from mailbot.store.models import TicketMessage


class ScheduleRedaction:
    name = "credentials"

    def __call__(self, ctx: MessageContext) -> None:
        if ctx.automatic:
            return
        mail, ticket = ctx.mail, ctx.ticket
        found = find_in_mail(mail.subject, mail.text, tuple((p.payload, p.content_type) for p in mail.parts))
        if found is None:
            return
        # Mail mailbot writes about this message masks the secrets (ctx.secrets), and the ticket's subject —
        # which every acknowledgement, notification and escalation repeats — never holds one.
        ctx.secrets = found.secrets
        ticket.set("subject", hide(ticket.subject, found.secrets))
        days = ctx.policy.terms.redact_after_days
        when = ctx.now + timedelta(days=days) if days is not None else None
        if when is not None:
            ctx.writer.conn.execute(update(TicketMessage).where(TicketMessage.id == ctx.filed.message_row_id).values(redact_at=when))
        ctx.event("credentials.found", kinds=list(found.kinds), hidden=len(found.secrets), redact_at=when.isoformat() if when else None)
