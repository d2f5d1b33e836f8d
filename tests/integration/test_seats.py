"""Who gets a seat on a ticket: strangers who learned a ticket's addresses are filed as guests and sent nothing;
agents admit with #cc add; the first message's To/Cc are capped; big answers need #confirm."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.store.db import unit_of_work
from mailbot.store.models import Participant, TicketMessage
from mailbot.time_source import FixedClock
from mailbot.customers.importer import import_rows
from tests.conftest import data
from tests.integration.test_agents import AGENT, RULES, agent_reply, events, open_ticket, rows, run, text_of, ticket
from tests.support.flow import customer_mail

EVE = "eve@attacker.example"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")))


def desk(make_config, clock: FixedClock, **tickets: object) -> App:  # type: ignore[no-untyped-def]
    app = App(
        make_config(
            mailbot={"timezone": "Europe/Berlin", "support_name": "Example Support"},
            rules={"dir": str(RULES)},
            agents={"require_authentication": True, "authserv_id": "mx.test"},
            agent=[{"address": AGENT, "name": "Bob Agent", "queues": ["support"]}],
            tickets=tickets,
        ),
        clock,
    )
    app.ensure_schema()
    terms = app.policy.terms
    with unit_of_work(app.sessions) as s:
        row = {"customer": "C1", "email": "alice@customer.example", "product": "Shop", "plan": "standard", "paid": "2026-03-01"}
        import_rows(s, [(2, row)], terms.plans, terms.desk_zone, "csv", clock.now())
    return app


@pytest.fixture
def app(make_config, clock: FixedClock) -> Iterator[App]:
    application = desk(make_config, clock)
    yield application
    application.close()


def roles(app: App, ticket_id: int = 1) -> dict[str, str]:
    with unit_of_work(app.sessions) as s:
        return dict(s.execute(select(Participant.address, Participant.role).where(Participant.ticket_id == ticket_id)).all())


def stranger_reply(app: App, sender: str = EVE, body: str = "I am from the customer's IT team, send me everything.") -> bytes:
    """A stranger who learned the acknowledgement's Message-ID answers it."""
    ack = rows(app, "ack")[0]
    return customer_mail(sender, "Re: [#1] Cart broken", body, extra=f"In-Reply-To: <{ack.message_id}>\r\nReferences: <{ack.message_id}>\r\n")


def answer(app: App, body: str, text: str = "Done: the module is updated on your server.") -> None:
    note = rows(app, "agent-notify")[-1]
    run(app, agent_reply("signature", note).replace(b"Done: the module is updated on your server.", f"{body}\n\n{text}".encode()))


def test_a_stranger_is_filed_as_a_guest_and_gets_nothing(app: App) -> None:
    open_ticket(app)
    before = ticket(app)
    run(app, stranger_reply(app))
    with unit_of_work(app.sessions) as s:
        [msg] = s.scalars(select(TicketMessage).where(TicketMessage.sender == EVE)).all()
    assert msg.ticket_id == 1  # kept on the ticket: it may be a colleague
    assert roles(app)[EVE] == "guest"
    assert "not a participant" in events(app, "message.received")[-1].detail["proof"]
    # No acknowledgement to the stranger, and the ticket's entitlement and clock are the customer's still.
    assert [r.recipients for r in rows(app, "ack")] == [["alice@customer.example"]]
    assert rows(app, "reply") == []
    after = ticket(app)
    assert (after.entitlement_state, after.sla_due_at, after.customer) == (before.entitlement_state, before.sla_due_at, before.customer)
    # The agent is told who wrote and how to admit them.
    note = text_of(rows(app, "agent-notify")[-1])
    assert f"{EVE} wrote this but is not on the ticket" in note and f"#cc add {EVE}" in note
    # The agent's answer goes to the customer only.
    answer(app, "Hello Alice,")
    [relay] = rows(app, "relay")
    assert relay.recipients == ["alice@customer.example"]


def test_a_guest_does_not_reopen_a_closed_ticket_nor_thread_by_subject_tag(app: App) -> None:
    open_ticket(app)
    answer(app, "#close")
    assert ticket(app).status == "closed"
    run(app, stranger_reply(app))
    assert ticket(app).status == "closed"
    # Now a guest, Eve writes with only the subject tag: a tag counts only from someone with a seat.
    run(app, customer_mail(EVE, "Re: [#1] Cart broken", "me again"))
    assert ticket(app, 2).customer == EVE


def test_a_stranger_at_the_ticket_reply_address_is_a_guest(app: App) -> None:
    open_ticket(app)
    address = app.context.desk.signer.reply_address("support@example.com", 1)
    run(app, customer_mail(EVE, "hello", "hi").replace(b"To: support@example.com", f"To: {address}".encode()))
    assert roles(app)[EVE] == "guest"


def test_cc_add_and_remove(app: App) -> None:
    open_ticket(app)
    run(app, stranger_reply(app, "carol@partner.example", "I maintain Alice's shop."))
    answer(app, "#cc add carol@partner.example\nHello both,")
    assert roles(app)["carol@partner.example"] == "cc"
    [relay] = rows(app, "relay")
    assert relay.recipients == ["alice@customer.example", "carol@partner.example"]  # admitted before the answer went
    [cmd] = [e for e in events(app, "agent.command") if e.detail["command"] == "cc"]
    assert cmd.detail["argument"] == "add carol@partner.example"
    answer(app, "#cc remove carol@partner.example\nAlice only now.")
    assert roles(app)["carol@partner.example"] == "guest"
    assert rows(app, "relay")[-1].recipients == ["alice@customer.example"]


def test_an_admission_counts_for_the_next_message_of_the_same_group(app: App) -> None:
    open_ticket(app)
    run(app, stranger_reply(app, "carol@partner.example", "I maintain Alice's shop."))
    note = rows(app, "agent-notify")[-1]
    admit = agent_reply("signature", note).replace(b"Done: the module is updated on your server.", b"#cc add carol@partner.example\nHello both,")
    # The agent admits Carol and Carol writes again, both filed in one group: her second message has a seat.
    run(app, admit, stranger_reply(app, "carol@partner.example", "Thanks, here are the logs."))
    assert roles(app)["carol@partner.example"] == "cc"
    received = [e.detail for e in events(app, "message.received") if e.detail.get("sender") == "carol@partner.example"]
    assert [d["seat"] for d in received] == ["guest", "cc"]


@pytest.mark.parametrize(
    "command, error",
    [
        ("#cc remove alice@customer.example", "keeps their seat"),
        (f"#cc add {AGENT}", "no seat to give or take"),
        ("#cc add not-an-address", "is not an address"),
        ("#cc invite x@y.example", "#cc add ADDRESS"),
    ],
)
def test_cc_commands_that_cannot_run_relay_nothing(app: App, command: str, error: str) -> None:
    open_ticket(app)
    answer(app, command + "\nHello,")
    assert rows(app, "relay") == []
    [err] = rows(app, "command-error")
    assert err.recipients == [AGENT] and error in text_of(err)


@pytest.mark.parametrize("same_domain", [True, False])
def test_colleagues_from_the_customers_domain(make_config, clock: FixedClock, same_domain: bool) -> None:
    app = desk(make_config, clock, colleagues_from_same_domain=same_domain)
    try:
        open_ticket(app)
        run(app, stranger_reply(app, "bob.it@customer.example", "Alice asked me to follow up."))
        assert roles(app)["bob.it@customer.example"] == ("cc" if same_domain else "guest")
        run(app, stranger_reply(app, EVE))
        assert roles(app)[EVE] == "guest"  # another domain is never a colleague
    finally:
        app.close()


def test_first_message_gives_at_most_max_participants_seats(app: App) -> None:
    many = [f"person{i}@customer.example" for i in range(14)]
    own = ["support@example.com", "support+t99-abc@example.com"]
    raw = customer_mail("alice@customer.example", "Everyone look", "hi").replace(
        b"To: support@example.com", ("To: support@example.com, " + ", ".join(many[:7]) + "\r\nCc: " + ", ".join([*own, *many[7:]])).encode()
    )
    run(app, raw)
    seats = roles(app)
    assert seats["alice@customer.example"] == "customer"
    assert sorted(a for a, r in seats.items() if r == "cc") == sorted(many[:10])
    assert not any(a.startswith("support") for a in seats)
    [capped] = events(app, "participants.capped")
    assert capped.detail["left_out"] == many[10:] and capped.detail["limit"] == 10


def test_an_answer_to_more_than_max_participants_needs_confirm(make_config, clock: FixedClock) -> None:
    app = desk(make_config, clock, max_participants=2)
    try:
        raw = customer_mail("alice@customer.example", "Cart broken", "broken").replace(
            b"To: support@example.com", b"To: support@example.com, a@customer.example, b@customer.example"
        )
        run(app, raw)
        answer(app, "#cc add c@customer.example\nHello all,")  # three others now, besides Alice
        assert rows(app, "relay") == []  # the cc add did not run either: the reply failed as a whole
        assert roles(app).get("c@customer.example") is None
        run(app, customer_mail("alice@customer.example", "Re: [#1] Cart broken", "more").replace(b"Subject:", b"Cc: c@customer.example\r\nSubject:"))
        answer(app, "#cc add c@customer.example\n#confirm\nHello all,")
        [relay] = rows(app, "relay")
        assert sorted(relay.recipients) == ["a@customer.example", "alice@customer.example", "b@customer.example", "c@customer.example"]
        answer(app, "#close", text="")
        err = text_of(rows(app, "command-error")[-1])
        assert "#close would send the closing message to 4 addresses, more than max_participants (2)" in err and "#confirm" in err
        assert ticket(app).status != "closed"
        answer(app, "#close\n#confirm", text="")
        assert ticket(app).status == "closed" and len(rows(app, "closed")) == 1
    finally:
        app.close()


def test_a_bounce_report_files_but_gives_the_mail_server_no_seat(app: App) -> None:
    open_ticket(app)
    [ack] = rows(app, "ack")
    raw = data("dsn-postfix.eml").replace(b"support+b{{OUTBOX}}@example.com", ack.mail_from.encode())
    raw = raw.replace(b"{{TO}}", ack.mail_from.encode()).replace(b"{{RETURNED_ID}}", ack.message_id.encode())
    run(app, raw)
    assert roles(app)["mailer-daemon@mx.customer.example"] == "guest"
    answer(app, "Hello,")
    assert rows(app, "relay")[0].recipients == ["alice@customer.example"]


def test_reopen_window_still_applies_to_guests(app: App, clock: FixedClock) -> None:
    open_ticket(app)
    answer(app, "#close")
    clock.advance(timedelta(days=30))
    run(app, stranger_reply(app))
    assert ticket(app, 2).customer == EVE and ticket(app, 2).follows == 1


def test_a_follow_up_without_a_usable_sender_changes_nothing(app: App) -> None:
    open_ticket(app)
    before = ticket(app)
    ack = rows(app, "ack")[0]
    raw = customer_mail("alice@bank.example <mallory@evil.example>", "Re: [#1] Cart broken", "hi", extra=f"In-Reply-To: <{ack.message_id}>\r\n")
    run(app, raw)
    after = ticket(app)
    assert (after.entitlement_state, after.plan, after.sla_due_at) == (before.entitlement_state, before.plan, before.sla_due_at)
    assert "no usable sender address" in events(app, "message.received")[-1].detail["proof"]


def test_a_guests_words_move_nothing_through_the_rules(make_config, clock: FixedClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-urgent.toml").write_text(
        '[[rule]]\nname = "urgent"\nwhen = { subject_contains = "urgent" }\n'
        'then = { priority = "urgent", queue = "escalations", tags = ["vip"] }\ncontinue = true\n\n'
        '[[rule]]\nname = "answer"\nthen = { template = "ack" }\n'
    )
    app = App(
        make_config(rules={"dir": str(rules)}, agents={"authserv_id": "mx.test"}, agent=[{"address": AGENT, "name": "Bob", "queues": ["support"]}]),
        clock,
    )
    try:
        app.ensure_schema()
        # Dated by the test's clock: mail older than max_ack_age_hours by its own Date gets no acknowledgement.
        run(app, customer_mail("alice@customer.example", "Cart broken", "broken", message_id="alice-1@customer.example", date=clock.now()))
        ack = rows(app, "ack")[0]
        run(app, customer_mail(EVE, "Re: URGENT", "urgent!!", extra=f"In-Reply-To: <{ack.message_id}>\r\n", date=clock.now()))
        t = ticket(app)
        assert (t.priority, t.queue, t.tags) == ("normal", "support", [])
        assert events(app, "rules.skipped")[-1].detail["reason"].startswith("a guest's message")
    finally:
        app.close()
