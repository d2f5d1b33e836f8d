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
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from mailbot.core import commands
from mailbot.core.agents import Agent, Directory
from mailbot.core.credentials import text_of
from mailbot.core.mail import Address, Part
from mailbot.core.subject import tagged
from mailbot.core.template_contexts import AgentNotifyContext, AgentView, ClosedContext, CommandErrorContext, SuggestionView
from mailbot.core.ticket_states import TicketStatus
from mailbot.logs import log
from mailbot.outbox.bot_mail import BotMail, BotMailer
from mailbot.policy.in_force import Policy
from mailbot.process import class_confirmation, response_clock, seats
from mailbot.process.desk import Desk
from mailbot.process.filing import TicketState
from mailbot.process.mail_views import customer_view, desk_view, display_zone, entitlement_view, message_view, ticket_view
from mailbot.process.message_context import MessageContext
from mailbot.store.models import Outbox, TicketMessage
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.agents")


@dataclass(frozen=True)
class AgentMailOptions:
    show_agent_names: bool
    attach_max_bytes: int
    language: str
    max_notifications_per_ticket_per_hour: int = 10  # 0: no limit


def notifications_last_hour(writer: Writer, ticket_id: int, address: str, now: datetime) -> int:
    """Notifications about this ticket queued for this agent in the last hour."""
    return int(writer.conn.execute(
        select(func.count()).select_from(Outbox).where(
            Outbox.ticket_id == ticket_id, Outbox.kind == "agent-notify", Outbox.created_at > now - timedelta(hours=1),
            Outbox.dedupe_key.endswith(f":{address}", autoescape=True),
        )
    ).scalar_one())


def _attachments(parts: Sequence[Part], limit: int, secrets: tuple[str, ...] = ()) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """Files small enough to attach, and a line for every file (attached or not). A text file that holds one of
    the customer's secrets is never attached: it stays on the ticket until its redaction time."""
    attached, listed = [], []
    for part in parts:
        if part.disposition == "inline" and part.content_type.startswith("image/"):
            continue  # logos and signature images
        text = text_of(part.payload, part.content_type) if secrets else None
        if text is not None and any(secret in text for secret in secrets):
            listed.append(f"{part.filename} ({part.content_type}, {len(part.payload):,} bytes, not attached: it holds credentials; see the ticket)")
            continue
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
    def __init__(self, desk: Desk, mailer: BotMailer, options: AgentMailOptions) -> None:
        self.desk = desk
        self.mailer = mailer
        self.options = options

    # to agents ---------------------------------------------------------------------------------------
    def recipients(self, ticket: TicketState) -> tuple[Agent, ...]:
        agent = self.desk.agents.by_address(ticket.assignee) if ticket.assignee else None
        return (agent,) if agent is not None else self.desk.agents.for_queue(ticket.queue)

    def notify(self, ctx: MessageContext) -> None:
        """Tell the ticket's agents about a customer message (each agent gets their own reply address)."""
        filed, mail, ticket = ctx.filed, ctx.mail, ctx.ticket
        # Nobody is told about their own mail — except an agent whose address was used without proof:
        # they most need to know (a forgery, or their DKIM is broken).
        claimed = bool(filed.proof and filed.proof.reason)
        sender = mail.sender.addr if mail.sender else None
        agents = [a for a in self.recipients(ticket) if claimed or a.address != sender]
        if not agents:
            return
        attached, listed = _attachments(mail.parts, self.options.attach_max_bytes, ctx.secrets)
        zone = display_zone(ticket, ctx.policy.terms)
        days = ctx.policy.terms.redact_after_days
        redact_at = ctx.now + timedelta(days=days) if ctx.secrets and days is not None else None
        suggestion = None
        if ticket.suggested_class:
            suggestion = SuggestionView(ticket.suggested_class, ticket.suggested_rule or "", commands.command_for(ticket.suggested_class), "#scope in")
        # Every notification of a ticket answers one stable id, so agents' clients keep them together.
        root = self.desk.signer.message_id(ticket.id, self.desk.message_id_domain, nonce="iroot")
        cap = self.options.max_notifications_per_ticket_per_hour
        for agent in agents:
            if cap and notifications_last_hour(ctx.writer, ticket.id, agent.address, ctx.now) >= cap:
                # An auto-responder duel or a flood on one ticket: the messages are filed, the agent is not paged again.
                ctx.event("agent.notify_capped", to=agent.address, limit=cap, reason=f"{cap} notifications about this ticket in the last hour")
                continue
            context = AgentNotifyContext(
                desk=desk_view(self.mailer.origin), zone=zone, now=ctx.now, ticket=ticket_view(ticket),
                customer=customer_view(mail.sender, zone), message=message_view(mail, filed.analysis.new_text, ctx.secrets),
                entitlement=entitlement_view(ticket, ctx.policy.terms), deadline=ticket.sla_due_at, new_ticket=filed.new_ticket,
                agent=AgentView(agent.name, agent.address), attachments=tuple(listed),
                warning=filed.proof.reason if filed.proof and filed.proof.reason else "", suggestion=suggestion,
                hidden_secrets=len(ctx.secrets), redact_at=redact_at, guest=(sender or "") if filed.guest else "",
            )
            bot_mail = BotMail(
                kind="agent-notify", to=(Address(agent.address, agent.name),), ticket_id=ticket.id,
                dedupe_key=f"agent-notify:{ctx.inbound_id}:{agent.address}", for_agents=True,
                reply_to=self.mailer.agent_address(ticket.id, agent.key), in_reply_to=root, attachments=tuple(attached),
            )
            queued = self.mailer.render_and_queue(ctx.writer, bot_mail, ctx.policy.templates, "agent-notify", self.options.language, context, ctx.now)
            ctx.event("agent.notified", outbox=queued.row, to=agent.address)

    # from agents -------------------------------------------------------------------------------------
    def handle_reply(self, ctx: MessageContext) -> None:
        """Run the reply's commands, then relay its text to the customer (unless it is a note or failed)."""
        agent = ctx.filed.agent
        assert agent is not None
        ticket = ctx.ticket
        parsed = commands.parse(ctx.filed.analysis.new_text)
        errors = [*parsed.errors, *self._refused(ctx, parsed), *class_confirmation.problems(parsed, ticket, ctx.policy)]
        if errors:
            self._internal(ctx)
            self._error_mail(ctx, agent, errors)
            ctx.event("agent.command_failed", agent=agent.address, errors=errors)
            return
        for cmd in parsed.commands:
            if cmd.name == "cc":  # seats first: an answer in the same reply reaches whoever was just admitted
                self._apply(ctx, cmd, agent)
        if parsed.note:
            self._internal(ctx)
            ctx.event("agent.note", agent=agent.address)
        elif parsed.text.strip():
            self._relay(ctx, parsed.text, agent)
            response_clock.stop(ticket, ctx.now, ctx.policy.terms)  # any public answer counts, a clarifying question included
            if ticket.status == TicketStatus.NEW:
                ticket.set("status", TicketStatus.OPEN)
        for cmd in parsed.commands:
            if cmd.name != "cc":
                self._apply(ctx, cmd, agent)

    def _refused(self, ctx: MessageContext, parsed: commands.Parsed) -> list[str]:
        """Commands that parse but may not run on this ticket, and answers that need #confirm first."""
        found: list[str] = []
        ticket = ctx.ticket
        for cmd in parsed.commands:
            verb, _, address = cmd.argument.partition(" ")
            if cmd.name == "cc" and verb == "remove" and address == ticket.customer:
                found.append(f"#cc remove {address}: the customer who opened the ticket keeps their seat")
            if cmd.name == "cc" and (self.desk.is_own_address(address) or self.desk.agents.by_address(address)):
                found.append(f"#cc {cmd.argument}: the desk's own addresses and agents have no seat to give or take")
        closes = any(c.name == "close" for c in parsed.commands)
        sends = closes or (not parsed.note and bool(parsed.text.strip()))
        if found or not sends or parsed.confirmed:
            return found
        to = self.customers(ctx.writer, ticket.id)
        limit = self.desk.max_participants
        if len(to) > limit:
            shown = ", ".join(a.addr for a in to[:20]) + (f" and {len(to) - 20} more" if len(to) > 20 else "")
            what = "#close would send the closing message" if closes and not parsed.text.strip() else "this answer would go"
            found.append(
                f"{what} to {len(to)} addresses, more than max_participants ({limit}): {shown}. To send it to all of them, "
                f"reply again with #confirm on its own line; or take seats away first with #cc remove ADDRESS"
            )
            ctx.event("agent.confirm_needed", recipients=len(to), limit=limit)
        return found

    def _internal(self, ctx: MessageContext) -> None:
        ctx.writer.conn.execute(update(TicketMessage).where(TicketMessage.id == ctx.filed.message_row_id).values(visibility="internal"))

    def customers(self, writer: Writer, ticket_id: int) -> list[Address]:
        """Who the ticket's mail goes to: its seated participants (never a guest), not the desk, not agents."""
        return [a for a in seats.seated(writer.conn, ticket_id) if not self.desk.is_own_address(a.addr) and not self.desk.agents.by_address(a.addr)]

    def _relay(self, ctx: MessageContext, text: str, agent: Agent) -> None:
        ticket, writer = ctx.ticket, ctx.writer
        to = self.customers(writer, ticket.id)
        if not to:
            ctx.event("agent.not_relayed", reason="the ticket has no customer address to answer")
            return
        attached, _ = _attachments(ctx.mail.parts, 1 << 62)
        refs = thread_ids(writer, ticket.id, self.desk.agents)
        support = self.mailer.origin.support_name
        name = f"{agent.name} ({support})" if self.options.show_agent_names and agent.name else support
        bot_mail = BotMail(
            kind="relay", to=tuple(to), ticket_id=ticket.id, dedupe_key=f"relay:{ctx.inbound_id}", auto_submitted=None,
            in_reply_to=refs[-1] if refs else None, references=refs, from_name=name, attachments=tuple(attached),
        )
        body = text.rstrip() + "\n"
        queued = self.mailer.queue(writer, bot_mail, ticket.subject, body, ctx.now, ticket.language)
        writer.add(
            TicketMessage, ticket_id=ticket.id, inbound_id=None, direction="out", author="agent", visibility="public",
            message_id=queued.message_id, sender=agent.address, sender_name=agent.name,
            subject=tagged(ticket.subject, ticket.id), text=body,
            html=None, sent_at=None, created_at=ctx.now,
        )
        ctx.event("agent.replied", outbox=queued.row, agent=agent.address, to=[a.addr for a in to])
        log(logger, logging.INFO, "agent.relayed", ticket=ticket.id, agent=agent.address, outbox=queued.row)

    def _apply(self, ctx: MessageContext, cmd: commands.Command, agent: Agent) -> None:
        ticket = ctx.ticket
        if cmd.name == "assign":
            ticket.set("assignee", agent.address if cmd.argument == "me" else cmd.argument)
        elif cmd.name == "priority":
            ticket.set("priority", cmd.argument)
        elif cmd.name == "queue":
            ticket.set("queue", cmd.argument)
        elif cmd.name == "close":
            self.close(ctx.writer, ctx.inbound_id, ticket, ctx.policy, ctx.now)
        elif cmd.name in commands.STATUS_COMMANDS:
            response_clock.set_status(ticket, TicketStatus(cmd.name), ctx.now, ctx.policy.terms)
        elif cmd.name == "cc":
            verb, _, address = cmd.argument.partition(" ")
            changed = seats.admit(ctx.writer, ticket.id, address, ctx.now) if verb == "add" else seats.unseat(ctx.writer, ticket.id, address)
            ctx.event("participant.admitted" if verb == "add" else "participant.removed", agent=agent.address, address=address, changed=changed)
        elif cmd.classifies:
            to, refs = self.customers(ctx.writer, ticket.id), thread_ids(ctx.writer, ticket.id, self.desk.agents)
            class_confirmation.apply(ctx, cmd, agent.address, self.mailer, to, refs, self.options.language)
        if cmd.name not in ("note", "confirm"):
            ctx.event("agent.command", agent=agent.address, command=cmd.name, argument=cmd.argument or None)

    def close(self, writer: Writer, inbound_id: int | None, ticket: TicketState, policy: Policy, now: datetime) -> None:
        """Close the ticket and send the customer the closing message."""
        response_clock.set_status(ticket, TicketStatus.CLOSED, now, policy.terms)
        to = self.customers(writer, ticket.id)
        if not to or "closed" not in policy.templates.names:
            return
        refs = thread_ids(writer, ticket.id, self.desk.agents)
        zone = display_zone(ticket, policy.terms)
        context = ClosedContext(
            desk=desk_view(self.mailer.origin), zone=zone, now=now, ticket=ticket_view(ticket),
            customer=customer_view(to[0], zone), credentials=policy.terms.credentials_tag in ticket.tags,
        )
        bot_mail = BotMail(
            kind="closed", to=tuple(to), ticket_id=ticket.id, dedupe_key=f"closed:{ticket.id}:{now.isoformat()}",
            in_reply_to=refs[-1] if refs else None, references=refs, record_on_ticket=True,
        )
        queued = self.mailer.render_and_queue(writer, bot_mail, policy.templates, "closed", ticket.language or self.options.language, context, now)
        writer.event(ticket.id, "ticket.closed", now, inbound_id=inbound_id, outbox=queued.row)

    def _error_mail(self, ctx: MessageContext, agent: Agent, errors: Sequence[str]) -> None:
        ticket = ctx.ticket
        context = CommandErrorContext(
            desk=desk_view(self.mailer.origin), zone="UTC", now=ctx.now, ticket=ticket_view(ticket),
            errors=tuple(errors), help=tuple(commands.HELP.values()),
        )
        bot_mail = BotMail(
            kind="command-error", to=(Address(agent.address, agent.name),), ticket_id=ticket.id,
            dedupe_key=f"command-error:{ctx.inbound_id}", for_agents=True, auto_submitted="auto-replied",
            reply_to=self.mailer.agent_address(ticket.id, agent.key), in_reply_to=ctx.mail.message_id or None,
        )
        self.mailer.render_and_queue(ctx.writer, bot_mail, ctx.policy.templates, "command-error", self.options.language, context, ctx.now)
