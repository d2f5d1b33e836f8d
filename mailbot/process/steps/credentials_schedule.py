"""Passwords a customer sent are removed from what mailbot stores after the days the privacy terms set."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from mailbot.process.message_context import MessageContext
from mailbot.store.models import TicketMessage


class ScheduleRedaction:
    name = "credentials"

    def __call__(self, ctx: MessageContext) -> None:
        days = ctx.policy.terms.redact_after_days
        if ctx.automatic or days is None:
            return
        found = ctx.filed.analysis.credentials
        if found is None:
            return
        when = ctx.now + timedelta(days=days)
        ctx.writer.conn.execute(update(TicketMessage).where(TicketMessage.id == ctx.filed.message_row_id).values(redact_at=when))
        ctx.event("credentials.found", kinds=list(found.kinds), redact_at=when.isoformat())
