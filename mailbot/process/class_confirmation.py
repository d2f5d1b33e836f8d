"""An agent confirms or dismisses the class of request a rule suggested: `#scope out`, `#quote`, `#partnership`, `#scope in`.

A rule that guesses from words may not take away the response time a customer's plan promises (it only
suggests, see policy.engine). A person decides: confirming a class applies what the rule that assigns it would
have done — its queue and tags, its answer to the customer, and no deadline when it promises none; dismissing it
keeps the ticket as support, with its deadline.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from mailbot.core import commands
from mailbot.core.mail import Address
from mailbot.core.template_contexts import MessageView, ReplyContext
from mailbot.outbox.bot_mail import BotMail, BotMailer
from mailbot.policy.engine import Rule
from mailbot.policy.in_force import Policy
from mailbot.process import response_clock
from mailbot.process.filing import TicketState
from mailbot.process.mail_views import customer_view, desk_view, display_zone, entitlement_view, ticket_view
from mailbot.process.message_context import MessageContext
from mailbot.store.models import TicketMessage


def rule_for(command: commands.Command, ticket: TicketState, policy: Policy) -> tuple[str | None, Rule | None]:
    """The class a command confirms and the rule whose actions confirming it applies: the rule that suggested it
    when the class is the suggested one, else the first rule that assigns the class."""
    cls = commands.confirmed_class(command, ticket.suggested_class)
    if cls is None:
        return None, None
    suggested = policy.rules.by_name(ticket.suggested_rule or "")
    if suggested is not None and suggested.assigned_class == cls:
        return cls, suggested
    return cls, policy.rules.classifying(cls)


def problems(parsed: commands.Parsed, ticket: TicketState, policy: Policy) -> list[str]:
    """What would stop the reply's class commands from running (checked before anything is relayed)."""
    found = [c for c in parsed.commands if c.classifies]
    if len(found) > 1:
        return [f"one class command per reply (got {', '.join('#' + c.name + (' ' + c.argument if c.argument else '') for c in found)})"]
    out = []
    for command in found:
        cls, rule = rule_for(command, ticket, policy)
        if cls is not None and rule is None:
            out.append(f"#{command.name}{' ' + command.argument if command.argument else ''}: no rule in {policy.rules.source} assigns the class {cls!r}")
    return out


def _first_customer_message(ctx: MessageContext) -> MessageView:
    row = ctx.writer.conn.execute(
        select(TicketMessage.subject, TicketMessage.text, TicketMessage.message_id)
        .where(TicketMessage.ticket_id == ctx.ticket.id, TicketMessage.author == "customer", TicketMessage.direction == "in")
        .order_by(TicketMessage.id).limit(1)
    ).first()
    return MessageView(row[0], row[1], row[2]) if row else MessageView(ctx.ticket.subject, "", "")


def apply(ctx: MessageContext, command: commands.Command, agent: str, mailer: BotMailer, to: Sequence[Address], references: Sequence[str], language: str) -> None:
    """Confirm or dismiss the class (after `problems` found nothing wrong)."""
    ticket, policy = ctx.ticket, ctx.policy
    cls, rule = rule_for(command, ticket, policy)
    suggested = (ticket.suggested_class, ticket.suggested_rule)
    ticket.set("suggested_class", None)
    ticket.set("suggested_rule", None)
    if cls is None or rule is None:
        ctx.event(
            "agent.class_dismissed", agent=agent, suggested=suggested[0], rule=suggested[1],
            clock="kept" if ticket.sla_due_at else "none running",
        )
        return
    outcome = rule.outcome()
    if outcome.queue:
        ticket.set("queue", outcome.queue)
    if outcome.tags:
        ticket.set("tags", list(dict.fromkeys([*ticket.tags, *outcome.tags])))
    if outcome.no_deadline:
        response_clock.stop(ticket, ctx.now, policy.terms)
        ctx.event("sla.none", reason=f"{agent} confirmed the class {cls!r} (rule {rule.name!r}): no response time promised")
    queued = None
    if outcome.template and not outcome.no_reply and to:
        zone = display_zone(ticket, policy.terms)
        context = ReplyContext(
            desk=desk_view(mailer.origin), zone=zone, now=ctx.now, ticket=ticket_view(ticket), customer=customer_view(to[0], zone),
            message=_first_customer_message(ctx), entitlement=entitlement_view(ticket, policy.terms), deadline=ticket.sla_due_at,
            reply_address=mailer.ticket_address(ticket.id), new_ticket=False,
        )
        bot_mail = BotMail(
            kind="reply", to=tuple(to), ticket_id=ticket.id, dedupe_key=f"class:{ctx.inbound_id}", auto_submitted=None,
            in_reply_to=references[-1] if references else None, references=references, record_on_ticket=True,
        )
        queued = mailer.render_and_queue(ctx.writer, bot_mail, policy.templates, outcome.template, ticket.language or language, context, ctx.now)
    ctx.event(
        "agent.class_confirmed", agent=agent, confirmed_class=cls, rule=rule.name, suggested=suggested[0],
        template=outcome.template, outbox=queued.row if queued else None, clock="stopped" if outcome.no_deadline else "kept",
    )
