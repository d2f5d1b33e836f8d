"""Agents work from their mail clients: notifications, proven replies relayed, commands, forgeries refused."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.customers.importer import import_rows
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Outbox, Ticket, TicketMessage
from mailbot.time_source import FixedClock
from tests.support.flow import customer_mail, deliver

DATA = Path(__file__).resolve().parents[1] / "data"
RULES = DATA / "rules" / "sla"
REPLIES = DATA / "agent-replies"
AGENT = "bob@vendor.example"
AUTH_OK = "Authentication-Results: mx.test; dkim=pass header.d=vendor.example header.s=s1; spf=pass smtp.mailfrom=vendor.example"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 9, 9, 0, tzinfo=BERLIN))


def desk(make_config, clock: FixedClock, **agents: object) -> App:
    settings = {"require_authentication": True, "authserv_id": "mx.test", **agents}
    app = App(
        make_config(
            mailbot={"timezone": "Europe/Berlin", "support_name": "Example Support"},
            rules={"dir": str(RULES)},
            agents=settings,
            agent=[{"address": AGENT, "name": "Bob Agent", "queues": ["support"]}, {"address": "carol@vendor.example", "name": "Carol", "queues": ["billing"]}],
        ),
        clock,
    )
    app.ensure_schema()
    terms = app.policy.terms
    with unit_of_work(app.sessions) as s:
        import_rows(s, [(2, {"customer": "C1", "email": "alice@customer.example", "product": "Shop", "plan": "standard", "paid": "2026-03-01"})], terms.plans, terms.desk_zone, "csv", clock.now())
    return app


@pytest.fixture
def app(make_config, clock: FixedClock) -> App:
    application = desk(make_config, clock)
    yield application
    application.close()


def run(app: App, *raws: bytes) -> None:
    """Deliver the messages and process them: together, they are filed in one group."""
    deliver(app.sessions, app.clock, *raws)
    app.process()


def rows(app: App, kind: str) -> list[Outbox]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)))


def parsed(row: Outbox):  # type: ignore[no-untyped-def]
    return message_from_bytes(row.raw, policy=default)


def text_of(row: Outbox) -> str:
    return parsed(row).get_body(("plain",)).get_content().replace("\r\n", "\n")


def ticket(app: App, number: int = 1) -> Ticket:
    with unit_of_work(app.sessions) as s:
        return s.get_one(Ticket, number)


def events(app: App, kind: str) -> list[Event]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def open_ticket(app: App) -> Outbox:
    run(app, customer_mail("Alice <alice@customer.example>", "Cart broken", "The cart is broken since the update.\n\n> quoted old stuff", message_id="alice-1@customer.example", date=app.clock.now()))
    [note] = rows(app, "agent-notify")
    return note


def agent_reply(name: str, note: Outbox, *, sender: str = AGENT, auth: str = AUTH_OK, to: str | None = None) -> bytes:
    msg = parsed(note)
    text = (REPLIES / f"{name}.eml").read_text()
    values = {
        "AUTH": auth, "FROM": sender, "TO": to or msg["Reply-To"].addresses[0].addr_spec, "PARENT": msg["Message-ID"].strip("<>"),
        "TICKET": "1", "SUBJECT": "Cart broken", "NONCE": uuid.uuid4().hex[:10],
    }
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text.encode()


def test_new_ticket_notifies_the_queue_agents_with_their_own_reply_address(app: App) -> None:
    note = open_ticket(app)
    msg = parsed(note)
    assert note.recipients == [AGENT]  # Carol is in billing, not support
    assert msg["Subject"] == "[#1] Cart broken"
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    token = app.context.desk.signer.token_in_address(reply_to, "support@example.com")
    assert token is not None and token.kind == "a" and token.ticket_id == 1
    body = text_of(note)
    assert "The cart is broken since the update." in body and "quoted old stuff" not in body
    assert "Entitlement: active, plan standard" in body
    assert "Answer due: Wednesday 11 March, 17:00 CET" in body


@pytest.mark.parametrize("shape", sorted(p.stem for p in REPLIES.glob("*.eml")))
def test_agent_reply_from_each_client_is_relayed_with_the_right_text(app: App, shape: str) -> None:
    note = open_ticket(app)
    run(app, agent_reply(shape, note))
    [relay] = rows(app, "relay")
    expected = (REPLIES / f"{shape}.expected.txt").read_text().strip()
    assert text_of(relay).strip() == expected
    msg = parsed(relay)
    assert relay.recipients == ["alice@customer.example"]
    assert msg["From"] == "Example Support <support@example.com>"
    assert msg["Subject"] == "[#1] Cart broken"
    assert msg["In-Reply-To"] == f"<{rows(app, 'ack')[0].message_id}>"
    assert "<alice-1@customer.example>" in msg["References"]
    assert AGENT.encode() not in relay.raw  # the agent's address is never shown
    t = ticket(app)
    assert t.first_response_at is not None and t.sla_clock is None and t.status == "open"


def test_commands_close_with_a_closing_message(app: App) -> None:
    note = open_ticket(app)
    reply = agent_reply("signature", note).replace(b"Done: the module", b"#close\n#priority high\n\nDone: the module")
    run(app, reply)
    t = ticket(app)
    assert (t.status, t.priority) == ("closed", "high") and t.closed_at is not None
    assert text_of(rows(app, "relay")[0]).strip() == "Done: the module is updated on your server."
    [closing] = rows(app, "closed")
    assert "we have closed ticket #1" in text_of(closing)


def test_pending_pauses_and_assign_me(app: App, clock: FixedClock) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note).replace(b"Done: the module", b"#pending\n#assign me\n\nWhich version? Done: the module"))
    t = ticket(app)
    assert (t.status, t.assignee) == ("pending", AGENT)
    assert t.sla_clock is None  # the question was a public answer: the first response is given


def test_note_stays_internal(app: App) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note).replace(b"Done: the module", b"#note\nCustomer is on the old PHP. Done: the module"))
    assert rows(app, "relay") == []
    with unit_of_work(app.sessions) as s:
        last = s.scalars(select(TicketMessage).where(TicketMessage.author == "agent")).one()
        assert last.visibility == "internal"
    assert ticket(app).sla_clock == "first"  # a note is not an answer


def test_unknown_command_is_not_relayed_and_the_agent_is_told(app: App) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note).replace(b"Done: the module", b"#clsoe\nDone: the module"))
    assert rows(app, "relay") == []
    [error] = rows(app, "command-error")
    assert error.recipients == [AGENT] and "unknown command #clsoe" in text_of(error)
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(TicketMessage.visibility).where(TicketMessage.author == "agent")).one() == "internal"


@pytest.mark.parametrize(
    "auth, why",
    [
        ("X-Nothing: here", "no Authentication-Results from mx.test"),
        ("Authentication-Results: mx.attacker.example; dkim=pass header.d=vendor.example", "no Authentication-Results from mx.test"),
        ("Authentication-Results: mx.test; dkim=fail header.d=vendor.example; dmarc=fail", "no DKIM pass aligned"),
        ("Authentication-Results: mx.test; dkim=pass header.d=mailer.example", "no DKIM pass aligned"),
    ],
)
def test_agent_from_without_proof_is_a_customer_message_and_nothing_runs(app: App, auth: str, why: str) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note, auth=auth).replace(b"Done: the module", b"#close\nDone: the module"))
    assert rows(app, "relay") == [] and ticket(app).status != "closed"
    with unit_of_work(app.sessions) as s:
        msg = s.scalars(select(TicketMessage).where(TicketMessage.sender == AGENT)).one()
        assert msg.author == "customer" and msg.ticket_id == 1
    received = events(app, "message.received")[-1].detail
    assert why in received["proof"]
    # The agents are told, with a warning, about what came in.
    warned = rows(app, "agent-notify")[-1]
    assert "without proof" in text_of(warned)


def test_dmarc_pass_is_proof_too(app: App) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note, auth="Authentication-Results: mx.test; dkim=none; dmarc=pass header.from=vendor.example"))
    assert len(rows(app, "relay")) == 1


def test_a_forwarded_notification_gives_a_stranger_nothing(app: App) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note, sender="mallory@attacker.example", auth="X-No: auth"))
    assert rows(app, "relay") == []
    assert ticket(app, 2).customer == "mallory@attacker.example"  # a new ticket of their own
    with unit_of_work(app.sessions) as s:
        assert len(s.scalars(select(TicketMessage).where(TicketMessage.ticket_id == 1, TicketMessage.direction == "in")).all()) == 1


def test_the_customer_replying_through_a_forwarded_notification_is_just_the_customer(app: App) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note, sender="alice@customer.example").replace(b"Done: the module", b"#close\nThanks. Done: the module"))
    assert rows(app, "relay") == [] and ticket(app).status != "closed"
    with unit_of_work(app.sessions) as s:
        msg = s.scalars(select(TicketMessage).where(TicketMessage.ticket_id == 1, TicketMessage.direction == "in")).all()[-1]
        assert msg.author == "customer" and msg.sender == "alice@customer.example"


def test_an_agent_writing_to_the_customer_address_gets_no_powers(app: App) -> None:
    note = open_ticket(app)
    customer_address = app.context.desk.signer.reply_address("support@example.com", 1)
    run(app, agent_reply("signature", note, to=customer_address))
    assert rows(app, "relay") == []
    assert "did not come to that agent's reply address" in events(app, "message.received")[-1].detail["proof"]


def test_customer_reply_reopens_a_closed_ticket_or_opens_a_linked_one(app: App, clock: FixedClock) -> None:
    note = open_ticket(app)
    run(app, agent_reply("signature", note).replace(b"Done: the module", b"#close\nDone: the module"))
    assert ticket(app).status == "closed"
    ack = rows(app, "ack")[0]
    clock.advance(timedelta(days=2))
    run(app, customer_mail("alice@customer.example", "Re: [#1] Cart broken", "It broke again.", extra=f"In-Reply-To: <{ack.message_id}>\r\n", date=clock.now()))
    assert ticket(app).status == "open" and ticket(app).closed_at is None
    run(app, agent_reply("signature", rows(app, "agent-notify")[-1]).replace(b"Done: the module", b"#close\nFixed again. Done: the module"))
    clock.advance(timedelta(days=30))
    run(app, customer_mail("alice@customer.example", "Re: [#1] Cart broken", "A month later: broken.", extra=f"In-Reply-To: <{ack.message_id}>\r\n", date=clock.now()))
    assert ticket(app).status == "closed"
    newer = ticket(app, 2)
    assert newer.follows == 1 and newer.customer == "alice@customer.example"


def test_authentication_can_be_switched_off(make_config, clock: FixedClock) -> None:
    app = desk(make_config, clock, require_authentication=False)
    note = open_ticket(app)
    run(app, agent_reply("signature", note, auth="X-No: auth"))
    assert len(rows(app, "relay")) == 1
    app.close()
