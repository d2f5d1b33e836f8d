"""A message the folder held when mailbot first saw it: its ticket is closed, or left open when its last word
is a recent, unanswered customer message. The pipeline skips every step that answers or starts a clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from mailbot.core.history_status import LastWord, history_status
from mailbot.core.mail_age import EARLIEST
from mailbot.core.ticket_states import TicketStatus
from mailbot.process.desk import Desk
from mailbot.process.message_context import MessageContext
from mailbot.store.models import TicketMessage


class FileAsHistory:
    name = "history"

    def __init__(self, desk: Desk, open_days: int) -> None:
        self.desk = desk
        self.open_days = open_days

    def last_word(self, ctx: MessageContext) -> LastWord:
        """The ticket's latest message by its Date (messages without a believable one do not count)."""
        rows = ctx.writer.conn.execute(
            select(TicketMessage.id, TicketMessage.direction, TicketMessage.author, TicketMessage.sender, TicketMessage.sent_at)
            .where(TicketMessage.ticket_id == ctx.ticket.id)
        ).all()
        dated: list[tuple[datetime, int, bool]] = []
        for row in rows:
            by_support = row.direction == "out" or row.author == "agent" or self.desk.is_own_address(row.sender)
            if row.sent_at is not None and EARLIEST <= row.sent_at <= ctx.now:
                dated.append((row.sent_at, row.id, by_support))
        if not dated:
            received = ctx.filed.received_at or ctx.now
            return LastWord(received, ctx.filed.agent is not None or self.desk.is_own_address(ctx.mail.sender.addr if ctx.mail.sender else ""))
        at, _, by_support = max(dated)
        return LastWord(at, by_support)

    def __call__(self, ctx: MessageContext) -> None:
        if not ctx.filed.history:
            return
        last = self.last_word(ctx)
        status, why = history_status(last, ctx.now, self.open_days)
        ticket = ctx.ticket
        ticket.set("status", status)
        ticket.set("closed_at", last.at if status is TicketStatus.CLOSED else None)
        ctx.event("history.filed", status=status.value, reason=why)
        if ctx.filed.agent is not None:
            ctx.done = True  # an agent's answer from before: on file, nothing relayed, no commands run
