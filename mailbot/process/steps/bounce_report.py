"""A delivery failure stops further automatic mail to the failed address and marks the mail that bounced."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from mailbot.core.bounces import failures, returned_message_ids
from mailbot.core.ticket_states import OutboxStatus
from mailbot.logs import log
from mailbot.process.desk import Desk
from mailbot.process.message_context import MessageContext
from mailbot.process.thread_lookup import find_token
from mailbot.store.models import Outbox, Participant, Suppression

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
            writer.add(Suppression, address=failure.address, reason=reason, at=ctx.now, inbound_id=ctx.inbound_id)
            target = bounced.ticket_id if bounced is not None and bounced.ticket_id else ctx.ticket.id
            ctx.event("address.suppressed", on_ticket=target, address=failure.address, reason=reason)
            log(logger, logging.WARNING, "address.suppressed", address=failure.address, reason=reason)
        if bounced is not None and bounced.status == OutboxStatus.SENT:
            detail = "; ".join(f"{f.address}: {f.status}" for f in failed)
            conn.execute(update(Outbox).where(Outbox.id == bounced.id).values(status=OutboxStatus.BOUNCED, last_error=detail))
