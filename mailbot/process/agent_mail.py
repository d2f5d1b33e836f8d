"""Agents work by mail: each customer message reaches them, and their replies reach the customer.

Notifications go to the ticket's assignee, or to the agents of the ticket's queue, each with a Reply-To that
is that agent's own signed reply address. A reply that comes back through it from the agent (proven by
mailbot.core.agents) runs its commands and is relayed to the customer from the support address; the agent's
own address is never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from mailbot.core import commands
from mailbot.core.agents import Agent, Directory
from mailbot.core.mail import Address, Part
from mailbot.core.quoting import new_text
from mailbot.core.subject import tagged
from mailbot.logs import log
from mailbot.outbox.compose import Outgoing
from mailbot.outbox.enqueue import MailOrigin, enqueue
from mailbot.policy.terms import Terms
from mailbot.process import response_clock
from mailbot.process.desk import Desk
from mailbot.process.filing import Filed, TicketState
from mailbot.render import Templates
from mailbot.store.models import Participant, TicketMessage
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.agents")


@dataclass(frozen=True)
class AgentSettings:
    show_agent_names: bool
    attach_max_bytes: int
    language: str


def _attachments(parts: Sequence[Part], limit: int) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """Files small enough to attach, and a line for every file (attached or not)."""
    attached, listed = [], []
    for part in parts:
        if part.disposition == "inline" and part.content_type.startswith("image/"):
            continue  # logos and signature images
        fits = len(part.payload) <= limit
        if fits:
            attached.append((part.filename, part.content_type, part.payload))
        listed.append(f"{part.filename} ({part.content_type}, {len(part.payload):,} bytes{'' if fits else ', too large to attach: see the ticket'})")
    return attached, listed


def thread_ids(writer: Writer, ticket_id: int, agents: Directory) -> list[str]:
    """Message-IDs the customer has seen on this ticket, oldest first: the References of what we send them.
    That is their own messages and what we sent them — not an agent's mail (the customer got our relayed
    copy of it) nor anything else that merely came from an agent's address."""
    rows = writer.conn.execute(
        select(TicketMessage.message_id, TicketMessage.direction, TicketMessage.sender)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.visibility == "public", TicketMessage.message_id != "")
        .order_by(TicketMessage.id)
    ).all()
    return [mid for mid, direction, sender in rows if direction == "out" or agents.by_address(sender) is None]


class AgentMail:
    def __init__(self, desk: Desk, origin: MailOrigin, settings: AgentSettings) -> None:
        self.desk = desk
        self.origin = origin
        self.settings = settings

    # to agents ---------------------------------------------------------------------------------------
    def recipients(self, ticket: TicketState) -> tuple[Agent, ...]:
        agent = self.desk.agents.by_address(ticket.assignee) if ticket.assignee else None
        return (agent,) if agent is not None else self.desk.agents.for_queue(ticket.queue)

    def notify(self, writer: Writer, inbound_id: int, filed: Filed, templates: Templates, deadline: datetime | None, zone: str, now: datetime) -> None:
        """Tell the ticket's agents about a customer message (each agent gets their own reply address)."""
        # Nobody is told about their own mail — except an agent whose address was used without proof:
        # they most need to know (a forgery, or their DKIM is broken).
        claimed = bool(filed.proof and filed.proof.reason)
        sender = filed.mail.sender.addr if filed.mail.sender else None
        agents = [a for a in self.recipients(filed.ticket) if claimed or a.address != sender]
        if not agents:
            return
        mail, ticket = filed.mail, filed.ticket
        attached, listed = _attachments(mail.parts, self.settings.attach_max_bytes)
        ent = ticket.entitlement
        context: dict[str, Any] = {
            "ticket": ticket.view(),
            "customer": {"address": mail.sender.addr if mail.sender else "", "name": mail.sender.name if mail.sender else "", "timezone": zone},
            "message": {"subject": mail.subject, "text": new_text(mail.text), "message_id": mail.message_id},
            "entitlement": {"state": ticket.entitlement_state, "plan": ticket.plan, "reason": ent.get("reason", ""), "product": ent.get("product")},
            "deadline": deadline,
            "zone": zone,
            "attachments": listed,
            "new_ticket": filed.new_ticket,
            "warning": filed.proof.reason if filed.proof and filed.proof.reason else "",
            "marks": list(ticket.tags),
            "desk": {"name": self.origin.support_name, "address": self.desk.support_address},
            "now": now,
        }
        root = self.desk.signer.message_id(ticket.id, self.desk.message_id_domain, nonce="iroot")
        for agent in agents:
            rendered = templates.render("agent-notify", self.settings.language, {**context, "agent": {"name": agent.name, "address": agent.address}})
            out = Outgoing(
                from_name=self.origin.support_name,
                from_addr=self.desk.support_address,
                to=(Address(agent.address, agent.name),),
                subject=rendered.subject,
                body=rendered.body,
                message_id=self.origin.new_message_id(ticket.id, internal=True),
                date=now,
                reply_to=self.desk.agent_reply_address(ticket.id, agent),
                # Every notification of a ticket answers one stable id, so agents' clients keep them together.
                in_reply_to=root,
                auto_submitted="auto-generated",
                attachments=attached,
            )
            row = enqueue(writer, self.origin, out, kind="agent-notify", ticket_id=ticket.id, now=now, dedupe_key=f"agent-notify:{inbound_id}:{agent.address}", internal=True)
            writer.event(ticket.id, "agent.notified", now, inbound_id=inbound_id, outbox=row, to=agent.address)

    # from agents -------------------------------------------------------------------------------------
    def handle_reply(self, writer: Writer, inbound_id: int, filed: Filed, templates: Templates, terms: Terms, now: datetime) -> None:
        """Run the reply's commands, then relay its text to the customer (unless it is a note or failed)."""
        agent = filed.agent
        assert agent is not None
        mail, ticket = filed.mail, filed.ticket
        parsed = commands.parse(new_text(mail.text))
        if parsed.errors:
            self._internal(writer, filed)
            self._error_mail(writer, inbound_id, filed, parsed.errors, templates, now)
            writer.event(ticket.id, "agent.command_failed", now, inbound_id=inbound_id, agent=agent.address, errors=list(parsed.errors))
            return
        if parsed.note:
            self._internal(writer, filed)
            writer.event(ticket.id, "agent.note", now, inbound_id=inbound_id, agent=agent.address)
            self._apply(writer, inbound_id, ticket, parsed.commands, agent, terms, templates, now)
            return
        if parsed.text.strip():
            self._relay(writer, inbound_id, filed, parsed.text, agent, now)
            response_clock.stop(ticket, now, terms)  # any public answer counts, a clarifying question included
            if ticket.status == "new":
                ticket.set("status", "open")
        self._apply(writer, inbound_id, ticket, parsed.commands, agent, terms, templates, now)

    def _internal(self, writer: Writer, filed: Filed) -> None:
        writer.conn.execute(update(TicketMessage).where(TicketMessage.id == filed.message_row_id).values(visibility="internal"))

    def _customers(self, writer: Writer, ticket_id: int) -> list[Address]:
        rows = writer.conn.execute(
            select(Participant.address, Participant.name).where(Participant.ticket_id == ticket_id, Participant.role.in_(["customer", "cc"])).order_by(Participant.id)
        ).all()
        return [Address(addr, name) for addr, name in rows if not self.desk.is_own_address(addr) and not self.desk.agents.by_address(addr)]

    def _relay(self, writer: Writer, inbound_id: int, filed: Filed, text: str, agent: Agent, now: datetime) -> None:
        ticket = filed.ticket
        to = self._customers(writer, ticket.id)
        if not to:
            writer.event(ticket.id, "agent.not_relayed", now, inbound_id=inbound_id, reason="the ticket has no customer address to answer")
            return
        attached, _ = _attachments(filed.mail.parts, 1 << 62)
        refs = thread_ids(writer, ticket.id, self.desk.agents)
        name = f"{agent.name} ({self.origin.support_name})" if self.settings.show_agent_names and agent.name else self.origin.support_name
        out = Outgoing(
            from_name=name,
            from_addr=self.desk.support_address,
            to=tuple(to),
            subject=tagged(ticket.subject, ticket.id),
            body=text.rstrip() + "\n",
            message_id=self.origin.new_message_id(ticket.id),
            date=now,
            reply_to=self.desk.signer.reply_address(self.desk.support_address, ticket.id),
            in_reply_to=refs[-1] if refs else None,
            references=refs,
            language=ticket.language,
            attachments=attached,
        )
        row = enqueue(writer, self.origin, out, kind="relay", ticket_id=ticket.id, now=now, dedupe_key=f"relay:{inbound_id}")
        writer.add(
            TicketMessage, ticket_id=ticket.id, inbound_id=None, direction="out", author="agent", visibility="public",
            message_id=out.message_id, sender=agent.address, sender_name=agent.name, subject=out.subject, text=out.body,
            html=None, sent_at=None, created_at=now,
        )
        writer.event(ticket.id, "agent.replied", now, inbound_id=inbound_id, outbox=row, agent=agent.address, to=[a.addr for a in to])
        log(logger, logging.INFO, "agent.relayed", ticket=ticket.id, agent=agent.address, outbox=row)

    def _apply(self, writer: Writer, inbound_id: int, ticket: TicketState, cmds: tuple[commands.Command, ...], agent: Agent, terms: Terms, templates: Templates, now: datetime) -> None:
        for cmd in cmds:
            if cmd.name == "assign":
                who = agent.address if cmd.argument == "me" else cmd.argument
                ticket.set("assignee", who)
            elif cmd.name == "priority":
                ticket.set("priority", cmd.argument)
            elif cmd.name == "queue":
                ticket.set("queue", cmd.argument)
            elif cmd.name in ("pending", "open"):
                response_clock.set_status(ticket, cmd.name, now, terms)
            elif cmd.name == "close":
                self.close(writer, inbound_id, ticket, templates, terms, now)
            if cmd.name != "note":
                writer.event(ticket.id, "agent.command", now, inbound_id=inbound_id, agent=agent.address, command=cmd.name, argument=cmd.argument or None)

    def close(self, writer: Writer, inbound_id: int | None, ticket: TicketState, templates: Templates, terms: Terms, now: datetime) -> None:
        """Close the ticket and send the customer the closing message."""
        response_clock.set_status(ticket, "closed", now, terms)
        ticket.set("closed_at", now)
        to = self._customers(writer, ticket.id)
        if not to or "closed" not in templates.names:
            return
        refs = thread_ids(writer, ticket.id, self.desk.agents)
        context = {
            "ticket": ticket.view(),
            "customer": {"address": to[0].addr, "name": to[0].name},
            "desk": {"name": self.origin.support_name, "address": self.desk.support_address},
            "marks": list(ticket.tags),
            "now": now,
        }
        rendered = templates.render("closed", ticket.language or self.settings.language, context)
        out = Outgoing(
            from_name=self.origin.support_name, from_addr=self.desk.support_address, to=tuple(to), subject=rendered.subject,
            body=rendered.body, message_id=self.origin.new_message_id(ticket.id), date=now,
            reply_to=self.desk.signer.reply_address(self.desk.support_address, ticket.id),
            in_reply_to=refs[-1] if refs else None, references=refs, language=rendered.language,
            auto_submitted="auto-generated",
        )
        row = enqueue(writer, self.origin, out, kind="closed", ticket_id=ticket.id, now=now, dedupe_key=f"closed:{ticket.id}:{now.isoformat()}", record_on_ticket=True)
        writer.event(ticket.id, "ticket.closed", now, inbound_id=inbound_id, outbox=row)

    def _error_mail(self, writer: Writer, inbound_id: int, filed: Filed, errors: Sequence[str], templates: Templates, now: datetime) -> None:
        agent = filed.agent
        assert agent is not None
        ticket = filed.ticket
        context = {
            "ticket": ticket.view(),
            "errors": list(errors),
            "help": list(commands.HELP.values()),
            "desk": {"name": self.origin.support_name, "address": self.desk.support_address},
        }
        rendered = templates.render("command-error", self.settings.language, context)
        out = Outgoing(
            from_name=self.origin.support_name, from_addr=self.desk.support_address, to=(Address(agent.address, agent.name),),
            subject=rendered.subject, body=rendered.body, message_id=self.origin.new_message_id(ticket.id, internal=True), date=now,
            reply_to=self.desk.agent_reply_address(ticket.id, agent), in_reply_to=filed.mail.message_id or None,
            auto_submitted="auto-replied",
        )
        enqueue(writer, self.origin, out, kind="command-error", ticket_id=ticket.id, now=now, dedupe_key=f"command-error:{inbound_id}", internal=True)

