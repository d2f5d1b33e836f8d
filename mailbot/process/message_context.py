"""Everything the steps after filing share about one message, in its transaction; each step reads what earlier
steps decided and adds its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailbot.core.entitlement import Entitlement
from mailbot.core.mail import InboundMail
from mailbot.policy.facts import Decision, Facts
from mailbot.policy.in_force import Policy
from mailbot.process.filing import Filed, TicketState
from mailbot.store.writer import Writer


@dataclass
class MessageContext:
    writer: Writer
    inbound_id: int
    filed: Filed
    now: datetime
    policy: Policy  # the rules, templates and terms in force for this whole message (a reload waits)
    automatic: tuple[str, ...] = ()  # why this is automatic mail (an out-of-office reply, a bounce), if it is
    entitlement: Entitlement | None = None  # what the sender has paid for (not decided for automatic mail)
    facts: Facts | None = None  # what the rules looked at
    decision: Decision | None = None  # what the rules decided
    deadline: datetime | None = None  # the response deadline now in force
    secrets: tuple[str, ...] = ()  # credentials the customer sent in this message: mail mailbot writes masks them
    same_day: bool = False  # the promise says "usually the same day" and the message came early enough for it
    done: bool = False  # a step handled the message completely: the steps after it do not run
    step: str = ""  # the step running now

    @property
    def mail(self) -> InboundMail:
        return self.filed.mail

    @property
    def ticket(self) -> TicketState:
        return self.filed.ticket

    def event(self, kind: str, on_ticket: int | None = None, **detail: Any) -> None:
        """Record an event on the ticket (or on ticket `on_ticket`), naming the step that decided it."""
        target = self.ticket.id if on_ticket is None else on_ticket
        self.writer.event(target, kind, self.now, inbound_id=self.inbound_id, step=self.step, **detail)
