"""The one builder of mail mailbot writes: every kind goes out the same way.

From the support address; the subject tagged with the ticket; Reply-To chosen by who reads it (the customer
answers the ticket's signed address, an agent their own signed agent address); In-Reply-To and References to
keep the thread; Auto-Submitted and the loop header; the language the template was rendered in. A template that
fails at send time (data-dependent: a filter given an unexpected value) never takes the message that caused the
mail down with it: the mail is recorded in the outbox as failed, with the reason, and an error is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mailbot.core.mail import Address
from mailbot.core.subject import tagged
from mailbot.core.template_contexts import MailContext
from mailbot.logs import log
from mailbot.outbox.compose import Outgoing
from mailbot.outbox.enqueue import MailOrigin, enqueue, enqueue_later
from mailbot.render import Templates
from mailbot.store.models import Outbox
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.outbox")


@dataclass(frozen=True)
class BotMail:
    """Who gets a piece of bot mail, and how it is filed. The text comes from a template or from an agent."""

    kind: str  # the outbox kind: ack, reply, notify, agent-notify, closed, command-error, escalation, relay, …
    to: tuple[Address, ...]
    ticket_id: int | None
    dedupe_key: str
    for_agents: bool = False  # its Message-ID is not one of the ticket's: answering it proves nothing
    auto_submitted: str | None = "auto-generated"  # "auto-replied" for an answer to a message; None for a person's
    reply_to: str | None = None  # default: the ticket's signed reply address, else the support address
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    from_name: str | None = None
    attachments: Sequence[tuple[str, str, bytes]] = field(default_factory=tuple)
    counts_as_automatic_reply: bool = False  # against the per-address daily cap
    hold: bool = False
    record_on_ticket: bool = False  # a public message of the ticket (the customer sees it)
    batched: bool = False  # nothing points back to it (escalations, reminders): one INSERT with the others
    may_exist: bool = True  # False when its dedupe key cannot exist yet (a ticket opened in this transaction)


@dataclass(frozen=True)
class Queued:
    """What became of a piece of bot mail: its outbox row (None until flush for batched rows) and Message-ID."""

    row: int | None
    message_id: str
    failed: bool = False


class BotMailer:
    def __init__(self, origin: MailOrigin) -> None:
        self.origin = origin

    def ticket_address(self, ticket_id: int) -> str:
        """The signed address a customer answers ticket `ticket_id` at."""
        return self.origin.signer.reply_address(self.origin.support_address, ticket_id)

    def agent_address(self, ticket_id: int, agent_key: str) -> str:
        """The signed address one agent answers ticket `ticket_id` at."""
        return self.origin.signer.reply_address(self.origin.support_address, ticket_id, kind="a", extra=agent_key)

    def build(self, mail: BotMail, subject: str, body: str, now: datetime, language: str | None) -> Outgoing:
        reply_to = mail.reply_to
        if reply_to is None:
            reply_to = self.ticket_address(mail.ticket_id) if mail.ticket_id else self.origin.support_address
        return Outgoing(
            from_name=mail.from_name or self.origin.support_name,
            from_addr=self.origin.support_address,
            to=mail.to,
            subject=tagged(subject, mail.ticket_id) if mail.ticket_id else subject,
            body=body,
            message_id=self.origin.new_message_id(mail.ticket_id or 0, internal=mail.for_agents),
            date=now,
            reply_to=reply_to,
            in_reply_to=mail.in_reply_to,
            references=mail.references,
            auto_submitted=mail.auto_submitted,
            language=language,
            attachments=mail.attachments,
        )

    def queue(self, writer: Writer, mail: BotMail, subject: str, body: str, now: datetime, language: str | None) -> Queued:
        """Queue finished text."""
        out = self.build(mail, subject, body, now, language)
        if mail.batched:
            assert not mail.record_on_ticket
            enqueue_later(writer, self.origin, out, kind=mail.kind, ticket_id=mail.ticket_id, now=now, dedupe_key=mail.dedupe_key)
            return Queued(None, out.message_id)
        assert mail.ticket_id is not None
        return Queued(enqueue(
            writer, self.origin, out, kind=mail.kind, ticket_id=mail.ticket_id, now=now, dedupe_key=mail.dedupe_key,
            check_existing=mail.may_exist, automatic=mail.counts_as_automatic_reply, hold=mail.hold,
            record_on_ticket=mail.record_on_ticket, internal=mail.for_agents,
        ), out.message_id)

    def render_and_queue(
        self, writer: Writer, mail: BotMail, templates: Templates, template: str, language: str, context: MailContext, now: datetime,
    ) -> Queued:
        """Render `template` with `context` and queue it; a template that fails is recorded as failed mail."""
        try:
            rendered = templates.render(template, language, context)
        except Exception as exc:  # any template error must not roll back the message that caused the mail
            return self._failed(writer, mail, template, language, f"{type(exc).__name__}: {exc}", now)
        return self.queue(writer, mail, rendered.subject, rendered.body, now, rendered.language)

    def _failed(self, writer: Writer, mail: BotMail, template: str, language: str, reason: str, now: datetime) -> Queued:
        why = f"template {template} ({language}) failed: {reason}"
        message_id = self.origin.new_message_id(mail.ticket_id or 0, internal=True)
        row = writer.insert_id(
            Outbox, ticket_id=mail.ticket_id, kind=mail.kind, dedupe_key=mail.dedupe_key,
            message_id=message_id, mail_from=self.origin.support_address,
            recipients=[a.addr for a in mail.to], subject=f"(not written: template {template} failed)", raw=b"",
            automatic=False, status="failed", attempts=0, next_attempt_at=now, expires_at=now, last_error=why,
            created_at=now, sent_at=None,
        )
        if mail.ticket_id is not None:
            writer.event(mail.ticket_id, "mail.render_failed", now, outbox=row, mail_kind=mail.kind, template=template, reason=reason[:500])
        log(logger, logging.ERROR, "mail.render_failed", kind=mail.kind, template=template, ticket=mail.ticket_id, outbox=row, error=reason[:300])
        return Queued(row, message_id, failed=True)
