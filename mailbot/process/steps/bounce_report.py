"""A delivery failure stops further automatic mail to the failed address and marks the mail that bounced.

Only a report that proves itself counts: it came to the signed bounce address of one outbox row, that row was
sent, and the address the report names as failed is one that row was sent to. A report quoting a Message-ID, or
naming some other address, suppresses nothing: anyone can write a delivery report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update

from mailbot.core.bounces import failures
from mailbot.core.ticket_states import OutboxStatus
from mailbot.logs import log
from mailbot.process.desk import Desk
from mailbot.process.message_context import MessageContext
from mailbot.process.thread_lookup import find_token
from mailbot.store.models import Outbox, Suppression

logger = logging.getLogger("mailbot.bounces")


class RecordBounce:
    name = "bounce"
    live_only = True  # not run for history (process/pipeline.py)

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def __call__(self, ctx: MessageContext) -> None:
        if not ctx.automatic:
            return
        mail, writer = ctx.mail, ctx.writer
        failed = [f for f in failures(mail) if f.permanent]
        if not failed:
            return
        conn = writer.conn
        token = find_token(ctx.filed.analysis.token_candidates, self.desk.signer, self.desk.support_address, kinds=("b",))
        bounced_id = self.desk.signer.bounced_message_id(token, self.desk.message_id_domain) if token is not None else None
        rows: Sequence[Row[Any]] = ()
        if bounced_id:
            # Recipients refused for a while get their own row with the same Message-ID: look at them all.
            rows = conn.execute(
                select(Outbox.id, Outbox.ticket_id, Outbox.recipients, Outbox.status).where(Outbox.message_id == bounced_id).order_by(Outbox.id)
            ).all()
        sent = [r for r in rows if r.status in (OutboxStatus.SENT, OutboxStatus.BOUNCED)]
        if not sent:
            why = "not sent to a signed bounce address" if bounced_id is None else f"no sent message matches its bounce address ({bounced_id})"
            ctx.event("bounce.ignored", reason=f"delivery report {why}: suppresses nothing", named=[f.address for f in failed][:20])
            return
        sent_to = {addr for r in sent for addr in (r.recipients or [])}
        proven = [f for f in failed if f.address in sent_to]
        stray = [f.address for f in failed if f.address not in sent_to]
        if stray:
            ctx.event("bounce.ignored", reason=f"the bounced message was not sent to {', '.join(stray[:20])}: suppresses nothing")
        ticket_id = sent[0].ticket_id or ctx.ticket.id
        already = set(conn.execute(select(Suppression.address).where(Suppression.address.in_([f.address for f in proven]))).scalars())
        already |= {f.address for f in proven if writer.collected_suppression(f.address) is not None}  # earlier in this group
        for failure in proven:
            if failure.address in already:
                continue
            reason = f"delivery failed permanently ({failure.status or 'no status'})"
            writer.add(Suppression, address=failure.address, reason=reason, at=ctx.now, inbound_id=ctx.inbound_id)
            ctx.event("address.suppressed", on_ticket=ticket_id, address=failure.address, reason=reason)
            log(logger, logging.WARNING, "address.suppressed", address=failure.address, reason=reason)
        for row in sent:
            hit = [f for f in proven if f.address in (row.recipients or [])]
            if hit and row.status == OutboxStatus.SENT:
                detail = "; ".join(f"{f.address}: {f.status}" for f in hit)
                conn.execute(update(Outbox).where(Outbox.id == row.id).values(status=OutboxStatus.BOUNCED, last_error=detail))
