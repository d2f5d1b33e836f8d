"""Ticket numbers: consecutive, in the order tickets open, however a group is filed; on PostgreSQL drawn with the group's ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.mail_analysis import InputLimits, analyze
from mailbot.parse import parse_mail
from mailbot.process.filing import Filed
from mailbot.process.runner import process_pending
from mailbot.process.thread_lookup import opens_ticket
from mailbot.store.db import unit_of_work
from mailbot.store.models import Inbound, Ticket
from mailbot.store.writer import Writer
from mailbot.time_source import FixedClock
from tests.support.flow import SIGNER, SUPPORT, customer_mail, deliver, make_context

# A ticket INSERT that has the sequence choose its id and hands it back: a round trip of its own, a number not drawn ahead.
_RETURNING_TICKET = re.compile(r"^INSERT INTO ticket \((?!id\b).*RETURNING", re.S)


def _statements(sessions: sessionmaker[Session]) -> list[str]:
    seen: list[str] = []
    event.listen(sessions.kw["bind"], "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


def _numbered(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    """(ticket id, subject) in id order; the ids must be consecutive."""
    with unit_of_work(sessions) as s:
        found = [(t.id, t.subject) for t in s.scalars(select(Ticket).order_by(Ticket.id))]
    ids = [i for i, _ in found]
    assert ids == list(range(ids[0], ids[0] + len(ids))), f"ticket numbers skipped: {ids}"
    return found


def _opening_order(sessions: sessionmaker[Session]) -> list[int]:
    """The tickets in the order of the inbound messages that opened them."""
    with unit_of_work(sessions) as s:
        rows = s.execute(select(Inbound.ticket_id).where(Inbound.ticket_id.is_not(None)).order_by(Inbound.id)).scalars().all()
    return list(dict.fromkeys(r for r in rows if r is not None))


def test_a_mixed_group_numbers_its_tickets_in_order_and_draws_the_sure_ones_ahead(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)
    question = customer_mail("alice@customer.example", "Printer on fire", message_id="fire@customer.example")
    deliver(sessions, clock, *[
        customer_mail("c0@customer.example", "q0"),
        question,
        customer_mail("alice@customer.example", "Re: Printer on fire", extra="In-Reply-To: <fire@customer.example>\r\n"),
        # A stranger's tag: threading has to look before it knows this opens a ticket (it does).
        customer_mail("mallory@elsewhere.example", "[#1] let me in"),
        b"Delivered-To: sales@example.com\r\n" + question,  # a second copy: no ticket
        customer_mail("c2@customer.example", "q2"),
        customer_mail("c3@customer.example", "q3"),
    ])
    statements = _statements(sessions)
    stats = process_pending(sessions, ctx)
    assert (stats.done, stats.duplicates) == (6, 1)
    numbered = _numbered(sessions)
    assert [subject for _, subject in numbered] == ["q0", "Printer on fire", "let me in", "q2", "q3"]
    assert _opening_order(sessions) == [i for i, _ in numbered]
    returning = [s for s in statements if _RETURNING_TICKET.match(s)]
    if sessions.kw["bind"].dialect.name == "postgresql":
        # Four were sure to open a ticket: drawn with the group's first ids. The tagged one was inserted alone.
        assert len(returning) == 1, returning


def test_a_message_that_raises_leaves_no_gap_in_the_numbers(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    ctx = make_context(clock)

    def broken_for_one(writer: Writer, row: int, filed: Filed, now: datetime) -> None:  # a later stage that fails for one message of the group
        if filed.mail.subject == "poison":
            raise RuntimeError("rules engine exploded")

    deliver(sessions, clock, *[customer_mail(f"c{i}@customer.example", "poison" if i == 2 else f"fine {i}") for i in range(6)])
    statements = _statements(sessions)
    stats = process_pending(sessions, ctx, after=broken_for_one)
    assert (stats.done, stats.retried) == (5, 1)
    # Filed straight through, the group rolled back, then again one savepoint a message: the numbers the rolled-back
    # work had taken are given to the next tickets.
    numbered = _numbered(sessions)
    assert [subject for _, subject in numbered] == ["fine 0", "fine 1", "fine 3", "fine 4", "fine 5"]
    if sessions.kw["bind"].dialect.name == "postgresql":
        # All five from the six drawn for the group, the first of them number 1: none was lost to the rollbacks.
        assert numbered[0][0] == 1
        assert not [s for s in statements if _RETURNING_TICKET.match(s)]


def test_numbers_drawn_for_a_group_cut_short_go_to_the_next(
    sessions: sessionmaker[Session], clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailbot.process import runner

    monkeypatch.setattr(runner, "GROUP_MAX_SECONDS", 0.0)  # one message a transaction: the rest of each group goes on
    deliver(sessions, clock, *[customer_mail(f"c{i}@customer.example", f"q{i}") for i in range(6)])
    statements = _statements(sessions)
    assert process_pending(sessions, make_context(clock)).done == 6
    assert [subject for _, subject in _numbered(sessions)] == [f"q{i}" for i in range(6)]
    assert not [s for s in statements if _RETURNING_TICKET.match(s)]


def _sure(raw: bytes, stored: dict[str, int] | None = None, earlier: set[str] | None = None) -> bool:
    analysis = analyze(parse_mail(raw), InputLimits(), "en")
    return opens_ticket(analysis.mail, analysis.token_candidates, SIGNER, SUPPORT, "example.com", stored or {}, earlier or set())


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("answers a stored message", lambda: _sure(customer_mail("a@x.example", "Re: hi", extra="References: <q@x.example>\r\n"), stored={"q@x.example": 4})),
        ("answers an earlier message of its group", lambda: _sure(customer_mail("a@x.example", "Re: hi", extra="In-Reply-To: <q@x.example>\r\n"), earlier={"q@x.example"})),
        ("is a second copy of a stored message", lambda: _sure(customer_mail("a@x.example", "hi", message_id="q@x.example"), stored={"q@x.example": 4})),
        ("is a second copy of an earlier message of its group", lambda: _sure(customer_mail("a@x.example", "hi", message_id="q@x.example"), earlier={"q@x.example"})),
        ("answers a Message-ID of ours", lambda: _sure(customer_mail("a@x.example", "Re: hi", extra=f"In-Reply-To: {SIGNER.message_id(7, 'example.com')}\r\n"))),
        ("has a ticket tag", lambda: _sure(customer_mail("a@x.example", "Re: [#7] hi"))),
        ("comes to a reply address", lambda: _sure(customer_mail("a@x.example", "hi").replace(
            f"To: {SUPPORT}".encode(), f"To: {SIGNER.reply_address(SUPPORT, 7)}".encode()))),
    ],
)
def test_only_a_message_that_names_nothing_is_sure_to_open_a_ticket(case: str, make: Callable[[], bool]) -> None:
    assert _sure(customer_mail("a@x.example", "hi", extra="References: <unknown@x.example>\r\n"))
    assert not make(), case
