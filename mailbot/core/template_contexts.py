"""What each kind of mail mailbot writes can show: one typed context per kind, checked against its templates.

A template is rendered with the context of its kind only, so a name that kind does not have is an error that
`rules check`, `check-config`, start-up and SIGHUP report (with file and line) before any mail depends on it.
Every kind carries `desk`, `zone` (the time zone `|when` shows times in) and `now`; templates also see
`language`, the language being rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Any, ClassVar

_T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class TicketView:
    id: int
    subject: str
    queue: str
    priority: str
    status: str
    assignee: str | None
    tags: tuple[str, ...]

    @classmethod
    def sample(cls) -> TicketView:
        return cls(1042, "Checkout page is blank", "support", "normal", "new", "bob@example.com", ("credentials",))


@dataclass(frozen=True)
class CustomerView:
    address: str
    name: str
    timezone: str

    @classmethod
    def sample(cls) -> CustomerView:
        return cls("alice@example.com", "Alice", "Europe/Berlin")


@dataclass(frozen=True)
class MessageView:
    subject: str
    text: str
    message_id: str

    @classmethod
    def sample(cls) -> MessageView:
        return cls("Checkout page is blank", "Hello,\nthe checkout page is blank since this morning.", "x@example.com")


@dataclass(frozen=True)
class DeskView:
    name: str
    address: str

    @classmethod
    def sample(cls) -> DeskView:
        return cls("Support", "support@example.com")


@dataclass(frozen=True)
class EntitlementView:
    state: str
    plan: str | None
    product: str | None
    reason: str
    valid_until: datetime | None  # the instant support (or the guarantee) ends
    renew_url: str
    last_day: date | None = None  # the last day of support, on the desk's calendar (`{{ entitlement.last_day|day }}`)

    @classmethod
    def sample(cls) -> EntitlementView:
        return cls(
            "active", "standard", "Shop", "support period 2026-03-01 to 2026-03-31", datetime(2026, 4, 1, tzinfo=timezone.utc),
            "https://example.com/renew", date(2026, 3, 31),
        )


@dataclass(frozen=True)
class AgentView:
    name: str
    address: str

    @classmethod
    def sample(cls) -> AgentView:
        return cls("Bob", "bob@example.com")


@dataclass(frozen=True)
class SuggestionView:
    """A class a rule recognised but left to a person: the agent's notification offers the commands."""

    cls: str  # `class` in templates is a keyword, hence `suggestion.cls`
    rule: str
    confirm: str  # the command that confirms it (`#quote`, `#partnership`, `#scope out`)
    dismiss: str  # the command that dismisses it (`#scope in`)

    @classmethod
    def sample(cls) -> SuggestionView:
        return cls("customization-quote", "customization request", "#quote", "#scope in")


@dataclass(frozen=True)
class LevelView:
    name: str
    fraction: float

    @classmethod
    def sample(cls) -> LevelView:
        return cls("warning-75", 0.75)


@dataclass(frozen=True)
class MailContext:
    """What every kind has."""

    kind: ClassVar[str] = ""
    desk: DeskView
    zone: str
    now: datetime

    def as_mapping(self) -> dict[str, Any]:
        """The names a template sees (views stay objects: `ticket.id`, `entitlement.valid_until`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def sample(cls) -> MailContext:
        raise NotImplementedError


@dataclass(frozen=True)
class ReplyContext(MailContext):
    """An answer to the customer's message: the acknowledgement and every template a rule chooses."""

    kind: ClassVar[str] = "reply"
    ticket: TicketView
    customer: CustomerView
    message: MessageView
    entitlement: EntitlementView
    deadline: datetime | None
    reply_address: str
    new_ticket: bool
    same_day: bool = False  # the plan says "usually the same day" and the message came early enough on a business day

    @classmethod
    def sample(cls) -> ReplyContext:
        return cls(
            DeskView.sample(), "Europe/Berlin", _T0, TicketView.sample(), CustomerView.sample(), MessageView.sample(),
            EntitlementView.sample(), datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc), "support+t1042-abcdefghijkl@example.com", True, True,
        )


@dataclass(frozen=True)
class NotifyContext(MailContext):
    """A rule's `notify`: the message, to an address the rule names."""

    kind: ClassVar[str] = "notify"
    ticket: TicketView
    customer: CustomerView
    message: MessageView
    entitlement: EntitlementView
    deadline: datetime | None
    new_ticket: bool

    @classmethod
    def sample(cls) -> NotifyContext:
        r = ReplyContext.sample()
        return cls(r.desk, r.zone, r.now, r.ticket, r.customer, r.message, r.entitlement, r.deadline, r.new_ticket)


@dataclass(frozen=True)
class AgentNotifyContext(MailContext):
    """A customer's message, to an agent of the ticket (their reply address answers the customer)."""

    kind: ClassVar[str] = "agent-notify"
    ticket: TicketView
    customer: CustomerView
    message: MessageView
    entitlement: EntitlementView
    deadline: datetime | None
    new_ticket: bool
    agent: AgentView
    attachments: tuple[str, ...]
    warning: str
    suggestion: SuggestionView | None  # a class a rule suggests for the ticket, for the agent to confirm or dismiss
    hidden_secrets: int = 0  # credentials masked in this notification (the ticket keeps them until `redact_at`)
    redact_at: datetime | None = None
    guest: str = ""  # the sender has no seat on the ticket (a stranger, or a colleague not yet admitted)

    @classmethod
    def sample(cls) -> AgentNotifyContext:
        r = ReplyContext.sample()
        return cls(
            r.desk, r.zone, r.now, r.ticket, r.customer, r.message, r.entitlement, r.deadline, r.new_ticket,
            AgentView.sample(), ("log.txt (text/plain, 1,200 bytes)",), "", SuggestionView.sample(), 1,
            datetime(2026, 3, 16, 9, 0, tzinfo=timezone.utc), "colleague@customer.example",
        )


@dataclass(frozen=True)
class ClosedContext(MailContext):
    """The closing message to the customer when an agent closes the ticket."""

    kind: ClassVar[str] = "closed"
    ticket: TicketView
    customer: CustomerView
    credentials: bool  # the customer sent passwords on this ticket: remind them to change them

    @classmethod
    def sample(cls) -> ClosedContext:
        return cls(DeskView.sample(), "Europe/Berlin", _T0, TicketView.sample(), CustomerView.sample(), True)


@dataclass(frozen=True)
class CommandErrorContext(MailContext):
    """To an agent whose reply held a command that could not run."""

    kind: ClassVar[str] = "command-error"
    ticket: TicketView
    errors: tuple[str, ...]
    help: tuple[str, ...]

    @classmethod
    def sample(cls) -> CommandErrorContext:
        return cls(DeskView.sample(), "UTC", _T0, TicketView.sample(), ("unknown command #clsoe",), ("#close — close the ticket",))


@dataclass(frozen=True)
class EscalationContext(MailContext):
    """A warning before a response deadline, or the notice that it passed."""

    kind: ClassVar[str] = "escalation"
    ticket: TicketView
    customer: CustomerView
    entitlement: EntitlementView
    deadline: datetime
    level: LevelView
    clock: str  # first | next
    time_left: str
    reply_address: str

    @classmethod
    def sample(cls) -> EscalationContext:
        r = ReplyContext.sample()
        return cls(r.desk, r.zone, r.now, r.ticket, r.customer, r.entitlement, datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc), LevelView.sample(), "first", "6 h", r.reply_address)


@dataclass(frozen=True)
class RenewalReminderContext(MailContext):
    """To a customer whose support period ends soon."""

    kind: ClassVar[str] = "renewal-reminder"
    customer: CustomerView
    entitlement: EntitlementView
    days_left: int

    @classmethod
    def sample(cls) -> RenewalReminderContext:
        return cls(DeskView.sample(), "Europe/Berlin", _T0, CustomerView.sample(), EntitlementView.sample(), 7)


# Built-in templates and the kind of mail each one writes; any other template is an answer to the customer.
KIND_OF_TEMPLATE: dict[str, type[MailContext]] = {
    "notify": NotifyContext,
    "agent-notify": AgentNotifyContext,
    "closed": ClosedContext,
    "command-error": CommandErrorContext,
    "escalation": EscalationContext,
    "renewal-reminder": RenewalReminderContext,
}


def kind_of(template: str, escalation_template: str = "escalation") -> type[MailContext]:
    if template == escalation_template:
        return EscalationContext
    return KIND_OF_TEMPLATE.get(template, ReplyContext)
