"""Deciding and answering on the real database: acknowledgements, loop protection, caps, bounces, holds."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Outbox, Suppression, Ticket, TicketMessage
from mailbot.time_source import FixedClock
from tests.conftest import data
from tests.support.flow import customer_mail, deliver

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)

SUPPORT = "support@example.com"


@pytest.fixture
def app(make_config, clock: FixedClock) -> App:
    application = App(make_config(), clock)
    yield application
    application.close()


def run(app: App, *raws: bytes) -> None:
    deliver(app.sessions, app.clock, *raws)
    app.process()


def outbox(app: App, kind: str | None = None) -> list[Outbox]:
    with unit_of_work(app.sessions) as s:
        query = select(Outbox).order_by(Outbox.id)
        if kind:
            query = query.where(Outbox.kind == kind)
        return list(s.scalars(query))


def events(app: App, kind: str) -> list[Event]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def parsed(row: Outbox):  # type: ignore[no-untyped-def]
    return message_from_bytes(row.raw, policy=default)


def test_new_ticket_gets_one_acknowledgement(app: App) -> None:
    run(app, data("plain.eml"))
    [ack] = outbox(app)
    msg = parsed(ack)
    assert ack.kind == "ack" and ack.status == "queued" and ack.recipients == ["alice@customer.example"]
    assert ack.dedupe_key == "ack:1"
    assert msg["Subject"] == "[#1] Checkout page shows a blank screen"
    assert msg["To"] == "Alice Customer <alice@customer.example>"
    assert msg["In-Reply-To"] == "<plain-1@customer.example>"
    assert msg["References"] == "<plain-1@customer.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"] == f"<{ack.message_id}>"
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    token = app.context.desk.signer.token_in_address(reply_to, SUPPORT)
    assert token is not None and (token.kind, token.ticket_id) == ("t", 1)
    assert "ticket #1" in msg.get_body(("plain",)).get_content()
    with unit_of_work(app.sessions) as s:
        out = s.scalars(select(TicketMessage).where(TicketMessage.direction == "out")).one()
        assert out.message_id == ack.message_id and out.author == "system"
    decided = events(app, "rules.decided")[0].detail
    assert decided["matched"][0]["rule"] == "acknowledge new tickets" and decided["template"] == "ack"


def test_reply_to_the_acknowledgement_threads_and_is_not_acknowledged(app: App) -> None:
    run(app, data("plain.eml"))
    [ack] = outbox(app)
    reply = customer_mail(
        "Alice Customer <alice@customer.example>", "Re: [#1] Checkout page shows a blank screen", "More detail",
        extra=f"In-Reply-To: <{ack.message_id}>\r\n",
    )
    run(app, reply)
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Ticket)).all()[0].id == 1 and len(s.scalars(select(Ticket)).all()) == 1
    assert len(outbox(app)) == 1  # follow-ups get no automatic answer by default


def test_customer_language_chooses_the_template(app: App) -> None:
    run(app, data("koi8r-8bit.eml"))
    [ack] = outbox(app)
    msg = parsed(ack)
    assert msg["Content-Language"] == "ru"
    assert "Здравствуйте" in msg.get_body(("plain",)).get_content()


def test_reply_to_header_is_where_the_answer_goes(app: App) -> None:
    run(app, customer_mail("Bob <bob@customer.example>", "Question", extra="Reply-To: Bob Office <bob.office@customer.example>\r\n"))
    [ack] = outbox(app)
    assert ack.recipients == ["bob.office@customer.example"]


@pytest.mark.parametrize(
    "extra, reason",
    [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted"),
        ("Precedence: bulk\r\n", "Precedence: bulk"),
        ("List-Id: <announce.lists.example>\r\n", "mailing-list headers"),
        ("Return-Path: <>\r\n", "empty return path"),
        ("X-Auto-Response-Suppress: DR, OOF\r\n", "X-Auto-Response-Suppress"),
    ],
)
def test_automatic_mail_is_filed_but_never_answered(app: App, extra: str, reason: str) -> None:
    run(app, customer_mail("someone@customer.example", "hello", extra=extra))
    assert outbox(app) == []
    [skipped] = events(app, "reply.skipped")
    assert reason in skipped.detail["reason"]
    with unit_of_work(app.sessions) as s:
        assert len(s.scalars(select(Ticket)).all()) == 1


def test_machine_senders_and_reports_are_not_answered(app: App) -> None:
    run(
        app,
        customer_mail("MAILER-DAEMON@mx.customer.example", "Undelivered"),
        customer_mail("noreply@shop.example", "Your order"),
        data("dsn-postfix.eml").replace(b"{{OUTBOX}}", b"1").replace(b"{{TO}}", b"support@example.com").replace(b"{{RETURNED_ID}}", b"x@y"),
    )
    assert outbox(app) == []
    assert len(events(app, "reply.skipped")) == 3


def test_our_own_mail_coming_back_is_not_answered(app: App) -> None:
    run(app, data("plain.eml"))
    [ack] = outbox(app)
    run(app, ack.raw)  # e.g. a forwarding rule sent our acknowledgement back into the support mailbox
    assert len(outbox(app)) == 1
    skipped = events(app, "reply.skipped")
    assert skipped == [] or "our own mail" in skipped[0].detail["reason"]
    decided = events(app, "rules.decided")[-1].detail
    assert any("our own mail came back" in a for a in decided["automatic"])


def test_daily_cap_per_address(app: App, clock: FixedClock) -> None:
    for i in range(12):
        run(app, customer_mail("eager@customer.example", f"question {i}"))
    assert len(outbox(app, "ack")) == 10
    skipped = events(app, "reply.skipped")
    assert len(skipped) == 2 and "already got 10 automatic replies" in skipped[0].detail["reason"]
    clock.advance(timedelta(hours=24, minutes=1))
    run(app, customer_mail("eager@customer.example", "next day"))
    assert len(outbox(app, "ack")) == 11


def test_daily_cap_counts_the_replies_of_the_same_group(app: App) -> None:
    # Four answered one by one, then eight in one filing group: the cap sees the stored and the group's own.
    for i in range(4):
        run(app, customer_mail("eager@customer.example", f"question {i}"))
    run(app, *[customer_mail("eager@customer.example", f"question {i}") for i in range(4, 12)])
    assert len(outbox(app, "ack")) == 10
    assert len(events(app, "reply.skipped")) == 2


def bounce_for(ack: Outbox, with_token: bool) -> bytes:
    raw = data("dsn-postfix.eml")
    to = ack.mail_from if with_token else "support@example.com"
    raw = raw.replace(b"Delivered-To: support+b{{OUTBOX}}@example.com\n", f"Delivered-To: {to}\n".encode())
    return raw.replace(b"{{TO}}", to.encode()).replace(b"{{RETURNED_ID}}", ack.message_id.encode())


def test_bounce_stops_automatic_mail_to_the_address(app: App) -> None:
    run(app, customer_mail("gone@customer.example", "question"))
    [ack] = outbox(app)
    with unit_of_work(app.sessions) as s:
        s.get_one(Outbox, ack.id).status = "sent"
    run(app, bounce_for(ack, with_token=True))
    with unit_of_work(app.sessions) as s:
        [sup] = s.scalars(select(Suppression)).all()
        assert sup.address == "gone@customer.example" and "5.1.1" in sup.reason
        assert s.get_one(Outbox, ack.id).status == "bounced"
        # The bounce joined the ticket it was about, through the signed bounce address.
        assert s.scalars(select(TicketMessage.ticket_id).where(TicketMessage.direction == "in")).all() == [1, 1]
    run(app, customer_mail("gone@customer.example", "another question"))
    assert len(outbox(app, "ack")) == 1
    assert "gets no automatic mail" in events(app, "reply.skipped")[-1].detail["reason"]


def test_a_bounce_stops_the_answer_to_a_message_of_its_own_group(app: App) -> None:
    run(app, customer_mail("gone@customer.example", "question"))
    [ack] = outbox(app)
    with unit_of_work(app.sessions) as s:
        s.get_one(Outbox, ack.id).status = "sent"
    # The bounce and the next question are filed in one group: the suppression counts at once.
    run(app, bounce_for(ack, with_token=True), customer_mail("gone@customer.example", "another question"))
    assert len(outbox(app, "ack")) == 1
    assert "gets no automatic mail" in events(app, "reply.skipped")[-1].detail["reason"]


def test_a_report_without_the_signed_bounce_address_suppresses_nothing(app: App) -> None:
    # It quotes the acknowledgement's real Message-ID, which anyone who got the acknowledgement knows.
    run(app, customer_mail("gone@customer.example", "question"))
    [ack] = outbox(app)
    with unit_of_work(app.sessions) as s:
        s.get_one(Outbox, ack.id).status = "sent"
    run(app, bounce_for(ack, with_token=False))
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Suppression)).all() == []
        assert s.get_one(Outbox, ack.id).status == "sent"
    assert "not sent to a signed bounce address" in events(app, "bounce.ignored")[-1].detail["reason"]


def test_a_report_at_the_right_bounce_address_naming_someone_else_suppresses_nothing(app: App) -> None:
    run(app, customer_mail("alice@customer.example", "question"))
    [ack] = outbox(app)
    with unit_of_work(app.sessions) as s:
        s.get_one(Outbox, ack.id).status = "sent"
    # Alice saw her acknowledgement's bounce address (its Return-Path) and names the CEO as failed.
    raw = bounce_for(ack, with_token=True).replace(b"gone@customer.example", b"ceo@customer.example")
    run(app, raw)
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Suppression)).all() == []
        assert s.get_one(Outbox, ack.id).status == "sent"
    assert "not sent to ceo@customer.example" in events(app, "bounce.ignored")[-1].detail["reason"]


def test_a_report_for_mail_not_yet_sent_suppresses_nothing(app: App) -> None:
    run(app, customer_mail("gone@customer.example", "question"))
    [ack] = outbox(app)  # still queued: nothing was sent that could have bounced
    run(app, bounce_for(ack, with_token=True))
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Suppression)).all() == []


def test_forged_bounce_for_a_stranger_suppresses_nothing(app: App) -> None:
    raw = data("dsn-postfix.eml").replace(b"{{OUTBOX}}", b"99").replace(b"{{TO}}", b"support@example.com")
    run(app, raw.replace(b"{{RETURNED_ID}}", b"unknown@elsewhere.example"))
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Suppression)).all() == []


def test_the_bounce_address_takes_delivery_reports_only(app: App) -> None:
    run(app, customer_mail("alice@customer.example", "question"))
    [ack] = outbox(app)
    # Someone who learned the acknowledgement's envelope sender writes to it: a new ticket of their own.
    run(app, customer_mail("eve@attacker.example", "hello", extra=f"Delivered-To: {ack.mail_from}\r\n").replace(b"To: support@example.com", f"To: {ack.mail_from}".encode()))
    with unit_of_work(app.sessions) as s:
        [eve] = s.scalars(select(TicketMessage).where(TicketMessage.sender == "eve@attacker.example")).all()
        assert eve.ticket_id == 2 and s.get_one(Ticket, 2).customer == "eve@attacker.example"
    assert "not a delivery report" in events(app, "message.received")[-1].detail["proof"]


def write_rules(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-test.toml").write_text(text)
    return folder


def test_hold_notify_route_and_release(make_config, clock: FixedClock, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        """
[[rule]]
name = "vip"
when = { sender_domain = "bigcorp.example" }
then = { queue = "vip", priority = "urgent", tags = ["vip"], assign = "lead@example.com", notify = ["lead@example.com", "vip@bigcorp.example"], hold = true, template = "ack" }
""",
    )
    app = App(make_config(rules={"dir": str(rules)}), clock)
    run(app, customer_mail("Boss <vip@bigcorp.example>", "Contract renewal"))
    with unit_of_work(app.sessions) as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (ticket.queue, ticket.priority, ticket.tags, ticket.assignee) == ("vip", "urgent", ["vip"], "lead@example.com")
    ack, notify = outbox(app, "ack"), outbox(app, "notify")
    assert [a.status for a in ack] == ["held"]
    # Nobody is told about their own mail (an auto-responder there could loop).
    assert [n.recipients for n in notify] == [["lead@example.com"]]
    assert "Contract renewal" in parsed(notify[0]).get_body(("plain",)).get_content()
    from tests.support.cli import run_mailbot

    assert app.config.path is not None
    released = run_mailbot(app.config.path, "outbox", "release", "--all")
    assert "1 message(s) queued to send" in released.stdout
    assert [a.status for a in outbox(app, "ack")] == ["queued"]
    app.close()
