"""Processing on the real database: threading by each proof, retries, quarantine, duplicates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.process.runner import process_pending, retry_quarantined
from mailbot.store.db import unit_of_work
from mailbot.store.models import (
    Attachment,
    Event,
    Inbound,
    MessageRef,
    Participant,
    Ticket,
    TicketMessage,
)
from mailbot.time_source import FixedClock
from tests.conftest import data
from tests.support.flow import (
    SIGNER,
    SUPPORT,
    customer_mail,
    deliver,
    file_all,
    make_context,
    reply,
)

ALICE = "Alice Customer <alice@customer.example>"


def tickets(sessions: sessionmaker[Session]) -> list[Ticket]:
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)).all())


def messages_of(sessions: sessionmaker[Session], ticket_id: int) -> list[TicketMessage]:
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all())


def events_of(sessions: sessionmaker[Session], ticket_id: int) -> list[Event]:
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)).all())


def open_ticket(sessions: sessionmaker[Session], clock: FixedClock) -> Ticket:
    ctx = make_context(clock)
    deliver(sessions, clock, data("plain.eml"))
    file_all(sessions, ctx)
    [ticket] = tickets(sessions)
    return ticket


def test_new_ticket_with_everything_stored(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    deliver(sessions, clock, data("attachments.eml"))
    stats = file_all(sessions, ctx)
    assert stats.done == 1
    [ticket] = tickets(sessions)
    assert ticket.subject == "Screenshots attached" and ticket.customer == "eve@customer.example"
    assert ticket.status == "new"
    [msg] = messages_of(sessions, ticket.id)
    assert msg.text.strip() == "See the screenshot below." and msg.html
    with unit_of_work(sessions) as s:
        atts = s.scalars(select(Attachment).where(Attachment.ticket_message_id == msg.id)).all()
        assert sorted(a.filename for a in atts) == sorted(
            ["part-1.png", "Rechnung März.pdf", "отчёт по ошибке.txt", ".._.._etc_passwd"]
        )
        assert all(len(a.sha256) == 64 for a in atts)
        parts = s.scalars(select(Participant.address).where(Participant.ticket_id == ticket.id)).all()
        assert parts == ["eve@customer.example"]
        assert s.scalar(select(MessageRef.ticket_id).where(MessageRef.message_id == "att-1@customer.example")) == ticket.id
        row = s.scalars(select(Inbound)).one()
        assert row.status == "filed" and row.ticket_id == ticket.id


def test_reply_with_signed_token_in_address(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ticket = open_ticket(sessions, clock)
    raw = reply(
        "gmail", FROM=ALICE, TO=SIGNER.reply_address(SUPPORT, ticket.id), PARENT="unknown-to-us@elsewhere.example",
        TICKET=str(ticket.id), SUBJECT="Checkout page shows a blank screen",
    )
    deliver(sessions, clock, raw)
    file_all(sessions, make_context(clock))
    assert len(tickets(sessions)) == 1
    assert len(messages_of(sessions, ticket.id)) == 2
    assert events_of(sessions, ticket.id)[-1].detail["thread"] == "token"


def test_reply_with_only_in_reply_to_to_our_signed_message_id(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ticket = open_ticket(sessions, clock)
    ours = SIGNER.message_id(ticket.id, "example.com")  # what an acknowledgement carries
    raw = reply("apple-mail-in-reply-to-only", FROM=ALICE, PARENT=ours, SUBJECT="Checkout page shows a blank screen")
    deliver(sessions, clock, raw)
    file_all(sessions, make_context(clock))
    assert len(tickets(sessions)) == 1
    assert events_of(sessions, ticket.id)[-1].detail["thread"] == "reference"


def test_reply_with_only_references_to_a_stored_message(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ticket = open_ticket(sessions, clock)
    raw = reply(
        "thunderbird-references-only", FROM="Carol <carol@colleague.example>", PARENT="plain-1@customer.example",
        SUBJECT="Checkout page shows a blank screen",
    )
    deliver(sessions, clock, raw)
    file_all(sessions, make_context(clock))
    assert len(tickets(sessions)) == 1
    with unit_of_work(sessions) as s:
        roles = dict(s.execute(select(Participant.address, Participant.role).where(Participant.ticket_id == ticket.id)).all())
    # Filed on the ticket (Carol may be a colleague), but with no seat until an agent admits her.
    assert roles == {"alice@customer.example": "customer", "carol@colleague.example": "guest"}


def test_subject_tag_from_participant_joins(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ticket = open_ticket(sessions, clock)
    raw = reply("outlook-subject-only", FROM=ALICE, TICKET=str(ticket.id), SUBJECT="Checkout page shows a blank screen")
    deliver(sessions, clock, raw)
    file_all(sessions, make_context(clock))
    assert len(tickets(sessions)) == 1
    assert events_of(sessions, ticket.id)[-1].detail["thread"] == "subject-tag"


def test_forged_subject_tag_from_stranger_opens_new_ticket(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ticket = open_ticket(sessions, clock)
    raw = reply("outlook-subject-only", FROM="Mallory <mallory@attacker.example>", TICKET=str(ticket.id), SUBJECT="give me the data")
    deliver(sessions, clock, raw)
    file_all(sessions, make_context(clock))
    first, second = tickets(sessions)
    assert first.id == ticket.id and len(messages_of(sessions, ticket.id)) == 1
    assert second.customer == "mallory@attacker.example" and second.subject == "give me the data"
    reasons = next(e for e in events_of(sessions, second.id) if e.kind == "message.received").detail["reasons"]
    assert any(f"[#{ticket.id}] ignored: the sender is not a participant" in r for r in reasons)


def test_forged_token_is_not_proof(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ticket = open_ticket(sessions, clock)
    forged = f"support+t{ticket.id}-aaaaaaaaaaaa@example.com"
    raw = customer_mail("mallory@attacker.example", "hi", extra=f"Cc: {forged}\r\n")
    deliver(sessions, clock, raw)
    file_all(sessions, make_context(clock))
    assert len(tickets(sessions)) == 2


def test_spoofed_display_name_gets_no_sender(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    open_ticket(sessions, clock)
    deliver(sessions, clock, data("spoofed-display-name.eml"))
    file_all(sessions, make_context(clock))
    second = tickets(sessions)[1]
    assert second.customer == ""
    received = next(e for e in events_of(sessions, second.id) if e.kind == "message.received")
    assert "malformed" in received.detail["sender_problem"]


def test_same_message_via_two_mailboxes_is_filed_once(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    raw = data("plain.eml")
    deliver(sessions, clock, raw, b"Delivered-To: sales@example.com\r\n" + raw)
    stats = file_all(sessions, ctx)
    assert (stats.done, stats.duplicates) == (1, 1)
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(TicketMessage)) == 1


def test_failure_retries_with_backoff_then_quarantines(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock, max_attempts=3)
    calls = []

    def broken(session, row, filed, now):  # a later stage that keeps failing for this message
        calls.append(now)
        raise RuntimeError("rules engine exploded")

    deliver(sessions, clock, data("plain.eml"), customer_mail("bob@customer.example", "fine"))
    stats = process_pending(sessions, ctx, after=broken)
    assert stats.retried == 2 and stats.done == 0
    # Nothing of the failed attempt remains: no ticket, no message.
    assert tickets(sessions) == []
    with unit_of_work(sessions) as s:
        rows = s.scalars(select(Inbound).order_by(Inbound.id)).all()
        assert [r.attempts for r in rows] == [1, 1]
        assert rows[0].next_attempt_at == clock.now() + timedelta(seconds=60)
        assert "rules engine exploded" in (rows[0].last_error or "")
    # Not due yet: nothing happens.
    assert process_pending(sessions, ctx, after=broken).handled == 0
    clock.advance(timedelta(seconds=60))
    assert process_pending(sessions, ctx, after=broken).retried == 2
    with unit_of_work(sessions) as s:
        assert s.scalars(select(Inbound.next_attempt_at)).first() == clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(seconds=120))
    stats = process_pending(sessions, ctx, after=broken)
    assert stats.quarantined == 2
    with unit_of_work(sessions) as s:
        rows = s.scalars(select(Inbound)).all()
        assert {r.status for r in rows} == {"quarantined"}
        assert all("rules engine exploded" in (r.last_error or "") for r in rows)
    # A person fixes the cause and retries by hand: the messages are filed.
    with unit_of_work(sessions) as s:
        assert retry_quarantined(s, None, clock.now()) == 2
    assert process_pending(sessions, ctx).done == 2
    assert len(tickets(sessions)) == 2


def test_malformed_mail_is_quarantined_at_once_and_others_go_on(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    nested = b"From: a@b.example\nSubject: nest\n" + b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode() for i in range(3000)
    )
    deliver(sessions, clock, nested, data("plain.eml"))
    stats = file_all(sessions, ctx)
    assert (stats.quarantined, stats.done) == (1, 1)
    with unit_of_work(sessions) as s:
        bad = s.scalars(select(Inbound).where(Inbound.status == "quarantined")).one()
        assert bad.attempts == 1 and "nesting too deep" in (bad.last_error or "")


@pytest.mark.parametrize("name", ["koi8r-8bit.eml", "iso-2022-jp.eml", "html-only.eml", "forwarded-rfc822.eml"])
def test_texts_survive_the_database(sessions: sessionmaker[Session], clock: FixedClock, name: str) -> None:
    from mailbot.parse import parse_mail

    deliver(sessions, clock, data(name))
    file_all(sessions, make_context(clock))
    [ticket] = tickets(sessions)
    [msg] = messages_of(sessions, ticket.id)
    assert msg.text == parse_mail(data(name)).text
    assert msg.subject == parse_mail(data(name)).subject


def _commits(sessions: sessionmaker[Session]) -> list[int]:
    """A counter of the engine's COMMITs from now on (each filing group is one)."""
    from sqlalchemy import event

    engine = sessions.kw["bind"]
    seen = [0]
    event.listen(engine, "commit", lambda _conn: seen.__setitem__(0, seen[0] + 1))
    return seen


def test_a_batch_is_filed_in_one_transaction_and_a_reply_sees_its_question(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    raws = [customer_mail(f"c{i}@customer.example", f"question {i}", message_id=f"q{i}@customer.example") for i in range(20)]
    # The answer to question 3 comes in the same batch: it must land on the ticket the question opens.
    raws.append(customer_mail("c3@customer.example", "Re: question 3", extra="In-Reply-To: <q3@customer.example>\r\n"))
    deliver(sessions, clock, *raws)
    commits = _commits(sessions)
    stats = file_all(sessions, ctx)
    assert stats.done == 21
    # The claim, one group, and the look for more: not one commit per message.
    assert commits[0] <= 4, commits[0]
    all_tickets = tickets(sessions)
    assert len(all_tickets) == 20
    question = next(t for t in all_tickets if t.subject == "question 3")
    assert [m.subject for m in messages_of(sessions, question.id)] == ["question 3", "Re: question 3"]


def test_a_message_that_raises_rolls_back_only_itself(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)

    def broken_for_one(writer, row, filed, now):  # a later stage that fails for one message of the group
        if filed.mail.subject == "poison":
            writer.event(filed.ticket_id, "half.done", now)
            raise RuntimeError("rules engine exploded")

    raws = [customer_mail(f"c{i}@customer.example", "poison" if i == 2 else f"fine {i}") for i in range(5)]
    ids = deliver(sessions, clock, *raws)
    stats = process_pending(sessions, ctx, after=broken_for_one)
    assert (stats.done, stats.retried) == (4, 1)
    assert sorted(t.subject for t in tickets(sessions)) == ["fine 0", "fine 1", "fine 3", "fine 4"]
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == "half.done")) == 0
        poison = s.get_one(Inbound, ids[2])
        assert (poison.status, poison.ticket_id, poison.attempts) == ("received", None, 1)
        assert "rules engine exploded" in (poison.last_error or "")
        assert {s.get_one(Inbound, i).status for i in ids if i != ids[2]} == {"filed"}


def test_a_group_past_its_time_commits_and_the_rest_goes_on(
    sessions: sessionmaker[Session], clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailbot.process import runner

    monkeypatch.setattr(runner, "GROUP_MAX_SECONDS", 0.0)  # every message outlasts it: one transaction each
    ctx = make_context(clock)
    deliver(sessions, clock, *[customer_mail(f"c{i}@customer.example", f"q{i}") for i in range(6)])
    commits = _commits(sessions)
    assert file_all(sessions, ctx).done == 6
    assert commits[0] >= 6
    assert len(tickets(sessions)) == 6


def test_a_message_another_worker_filed_meanwhile_is_skipped_and_the_group_goes_in(
    sessions: sessionmaker[Session], clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailbot.process import runner

    ctx = make_context(clock)
    ids = deliver(sessions, clock, *[customer_mail(f"c{i}@customer.example", f"q{i}") for i in range(5)])
    claim = runner._claim

    def claim_then_lose_one(*args, **kwargs):  # another worker, whose lease on row 3 ran out, files it first
        claims = claim(*args, **kwargs)
        with unit_of_work(sessions) as s:
            s.get_one(Inbound, ids[3]).status = "filed"
        return claims

    monkeypatch.setattr(runner, "_claim", claim_then_lose_one)
    stats = process_pending(sessions, ctx)
    assert (stats.done, stats.retried, stats.quarantined) == (4, 0, 0)
    # Filed straight through, the group found row 3 taken when marking: it was filed again, carefully, without it.
    assert sorted(t.subject for t in tickets(sessions)) == ["q0", "q1", "q2", "q4"]
    with unit_of_work(sessions) as s:
        lost = s.get_one(Inbound, ids[3])
        assert (lost.status, lost.ticket_id) == ("filed", None)


def test_two_copies_of_a_message_in_one_group_are_filed_once(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    mail = customer_mail("alice@customer.example", "Printer on fire", message_id="fire@customer.example")
    answer = customer_mail("alice@customer.example", "Re: Printer on fire", extra="References: <fire@customer.example>\r\n")
    # The same message from two mailboxes, and a follow-up, all in one group.
    deliver(sessions, clock, mail, b"Delivered-To: sales@example.com\r\n" + mail, answer)
    commits = _commits(sessions)
    stats = file_all(sessions, ctx)
    assert (stats.done, stats.duplicates) == (2, 1)
    assert commits[0] <= 4, commits[0]
    [ticket] = tickets(sessions)
    assert [m.subject for m in messages_of(sessions, ticket.id)] == ["Printer on fire", "Re: Printer on fire"]
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(MessageRef).where(MessageRef.message_id == "fire@customer.example")) == 1


def test_two_replies_in_one_group_change_their_ticket_once_each(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    deliver(sessions, clock, customer_mail("alice@customer.example", "Printer on fire", message_id="fire@customer.example"))
    file_all(sessions, ctx)
    [ticket] = tickets(sessions)
    with unit_of_work(sessions) as s:
        s.get_one(Ticket, ticket.id).status = "solved"
    clock.advance(timedelta(hours=1))
    # Both replies are filed in one group: the first reopens the ticket, the second finds it open.
    deliver(sessions, clock, *[
        customer_mail("alice@customer.example", f"Re: Printer on fire ({i})", extra="In-Reply-To: <fire@customer.example>\r\n") for i in range(2)
    ])
    commits = _commits(sessions)
    assert file_all(sessions, ctx).done == 2
    assert commits[0] <= 4, commits[0]
    [after] = tickets(sessions)
    assert after.status == "open" and after.updated_at == clock.now()
    assert [e.kind for e in events_of(sessions, ticket.id)].count("ticket.reopened") == 1
    assert len(messages_of(sessions, ticket.id)) == 3


def test_a_claim_holds_at_most_claim_bytes_of_mail_but_always_one_message(
    sessions: sessionmaker[Session], clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailbot.process import runner

    ctx = make_context(clock)
    raws = [customer_mail(f"c{i}@customer.example", f"q{i}", "x" * 1000) for i in range(5)]
    deliver(sessions, clock, *raws)
    monkeypatch.setattr(runner, "CLAIM_BYTES", len(raws[0]) * 2 + 10)
    assert len(runner._claim(sessions, ctx)) == 2
    monkeypatch.setattr(runner, "CLAIM_BYTES", 10)  # smaller than any message: one goes all the same
    assert len(runner._claim(sessions, ctx)) == 1
    monkeypatch.setattr(runner, "CLAIM_BYTES", 1 << 30)
    assert len(runner._claim(sessions, ctx)) == 2  # the rest
