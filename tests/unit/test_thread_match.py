"""The order of proofs that attach a message to a ticket."""

from __future__ import annotations

from mailbot.core.thread_match import ThreadFacts, decide_thread


def test_token_wins() -> None:
    d = decide_thread(ThreadFacts(token_ticket=5, token_ticket_exists=True, reference_ticket=6, reference_id="x@y"))
    assert (d.ticket_id, d.how) == (5, "token")


def test_token_for_missing_ticket_falls_through_to_references() -> None:
    d = decide_thread(ThreadFacts(token_ticket=5, token_ticket_exists=False, reference_ticket=6, reference_id="x@y"))
    assert (d.ticket_id, d.how) == (6, "reference")
    assert any("does not exist" in r for r in d.reasons)


def test_subject_tag_needs_a_participant() -> None:
    d = decide_thread(ThreadFacts(tag_tickets=(9,), sender_participates_in=frozenset({9})))
    assert (d.ticket_id, d.how) == (9, "subject-tag")
    d = decide_thread(ThreadFacts(tag_tickets=(9,), sender_participates_in=frozenset()))
    assert d.ticket_id is None and d.how == "new"
    assert any("not a participant" in r for r in d.reasons)


def test_missing_tagged_ticket_is_explained() -> None:
    d = decide_thread(ThreadFacts(missing_tag_tickets=(404,)))
    assert d.ticket_id is None and any("no such ticket" in r for r in d.reasons)


def test_nothing_means_new() -> None:
    d = decide_thread(ThreadFacts())
    assert d.ticket_id is None and d.how == "new"
