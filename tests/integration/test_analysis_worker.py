"""The analysis worker process: a message over the time limit, or one that kills the worker, is retried with
back-off and then quarantined with the step it was stopped in; the next message goes on; stopping is prompt."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.mail_analysis import InputLimits
from mailbot.core.ticket_states import InboundStatus
from mailbot.process.analysis_worker import AHEAD_MESSAGES, RECEIVE_STEP, Attempt, WorkerProcessAnalyzer
from mailbot.policy.in_force import Policy
from mailbot.process.filing import Filed
from mailbot.process.message_context import MessageContext
from mailbot.process.runner import AHEAD_BATCHES, CLAIM_BATCH, process_pending
from mailbot.process.steps.automatic_mail import DetectAutomatic
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Inbound, TicketMessage
from mailbot.store.writer import Writer
from mailbot.time_source import FixedClock
from tests.support.flow import SIGNER, SUPPORT, customer_mail, deliver, make_context
from tests.support.hostile_messages import ordinary
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)


@pytest.fixture
def worker() -> Iterator[WorkerProcessAnalyzer]:
    analyzer = WorkerProcessAnalyzer(InputLimits(), "en", max_seconds=20)
    assert analyzer.start()
    yield analyzer
    analyzer.close()


def big_message() -> bytes:
    """Twenty megabytes of text: parsing alone takes far longer than a hundredth of a second."""
    return customer_mail("Bob <bob@customer.test>", "Logs", "line of a log file that goes on\r\n" * 600_000)


def rows(sessions: sessionmaker[Session]) -> list[Inbound]:
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(Inbound).order_by(Inbound.id)))


def events(sessions: sessionmaker[Session], kind: str) -> list[Event]:
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def test_a_message_over_the_time_limit_is_retried_then_quarantined_naming_the_step(sessions, clock: FixedClock, worker) -> None:
    worker.max_seconds = 0.01
    ctx = replace(make_context(clock, max_attempts=2), analyzer=worker)
    [slow] = deliver(sessions, clock, big_message())
    first = worker.pid
    assert process_pending(sessions, ctx).retried == 1
    # The worker was killed; a fresh one takes the next message at once.
    worker.max_seconds = 20
    [fine] = deliver(sessions, clock, ordinary("next-in-line"))
    assert process_pending(sessions, ctx).done == 1
    assert worker.pid not in (None, first)
    by_id = {r.id: r for r in rows(sessions)}
    assert by_id[fine].status == InboundStatus.FILED
    assert by_id[slow].status == InboundStatus.RECEIVED and (by_id[slow].last_error or "").startswith("took too long in step ")
    [stopped] = events(sessions, "inbound.analysis_stopped")
    # "receive" when the limit passed while the 20 MB were still on their way in (a busy machine).
    assert stopped.detail["step"] in ("receive", "parse", "bound", "language", "quoting", "credentials", "fingerprint")

    # Its next attempt comes after the back-off, and it is the last one: quarantined, with the reason.
    worker.max_seconds = 0.01
    assert process_pending(sessions, ctx).handled == 0
    clock.advance(timedelta(minutes=5))
    assert process_pending(sessions, ctx).quarantined == 1
    row = {r.id: r for r in rows(sessions)}[slow]
    assert row.status == InboundStatus.QUARANTINED
    assert (row.last_error or "").startswith("took too long in step ") and "more than 0.01 s" in (row.last_error or "")
    [quarantined] = events(sessions, "inbound.quarantined")
    assert quarantined.detail["reason"].startswith("took too long in step ")


def test_a_worker_that_dies_is_replaced_and_the_message_retried(sessions, clock: FixedClock, monkeypatch) -> None:
    # A real SIGKILL of the worker, the first time it starts parsing (the failpoint is read when it starts).
    monkeypatch.setenv("MAILBOT_CRASH_AT", "analysis.parse:2")  # 1: the warm-up message
    analyzer = WorkerProcessAnalyzer(InputLimits(), "en", max_seconds=20)
    try:
        assert analyzer.start()
        monkeypatch.delenv("MAILBOT_CRASH_AT")  # the replacement worker starts without it
        ctx = replace(make_context(clock, max_attempts=3), analyzer=analyzer)
        [victim] = deliver(sessions, clock, ordinary("dies-once"))
        assert process_pending(sessions, ctx).retried == 1
        row = rows(sessions)[0]
        assert (row.last_error or "").startswith("the analysis process died in step parse")
        clock.advance(timedelta(minutes=5))
        assert process_pending(sessions, ctx).done == 1
        assert rows(sessions)[0].status == InboundStatus.FILED and rows(sessions)[0].id == victim
    finally:
        analyzer.close()


def test_stopping_kills_a_busy_worker_and_gives_the_message_back(sessions, clock: FixedClock, worker) -> None:
    ctx = replace(make_context(clock), analyzer=worker)
    [busy] = deliver(sessions, clock, big_message())
    stop = threading.Event()
    result: list[object] = []
    runner = threading.Thread(target=lambda: result.append(process_pending(sessions, ctx, should_stop=stop.is_set)))
    runner.start()
    # Wait until the worker has the message (its attempt is counted when it is claimed).
    wait_until(lambda: bool(result) or rows(sessions)[0].attempts == 1, timeout=30, what="the message to be claimed")
    stop.set()
    runner.join(30)
    assert not runner.is_alive()
    row = rows(sessions)[0]
    assert row.id == busy
    # Given back untouched, or (if the worker was quicker than the stop) filed: never lost, never counted twice.
    assert (row.status, row.attempts) in ((InboundStatus.RECEIVED, 0), (InboundStatus.FILED, 1))


def test_batches_claimed_ahead_go_back_untouched_on_stop_and_every_message_is_filed_once(sessions, clock: FixedClock, worker) -> None:
    """While one claim batch is filed, the next ones are claimed and analysed ahead of it; stopping midway
    gives back every message not filed, its attempt uncounted; the next run files each exactly once."""
    ctx = replace(make_context(clock), analyzer=worker)
    n = CLAIM_BATCH * (AHEAD_BATCHES + 4) + 30
    ids = deliver(sessions, clock, *[customer_mail(f"C{i} <c{i}@customer.test>", f"Question {i}", f"Hello, number {i}.") for i in range(n)])
    stop = threading.Event()
    claimed_ahead: list[int] = []

    def on_filed() -> None:
        with unit_of_work(sessions) as s:
            waiting = s.scalars(select(Inbound).where(Inbound.status == InboundStatus.RECEIVED, Inbound.attempts == 1)).all()
            claimed_ahead.append(len(waiting))
        if max(claimed_ahead) > 2 * CLAIM_BATCH:  # the batch being filed and at least two more were claimed
            stop.set()

    first = process_pending(sessions, ctx, should_stop=stop.is_set, on_filed=on_filed)
    assert stop.is_set(), f"no more than {max(claimed_ahead)} messages were ever claimed ahead of filing: {claimed_ahead}"
    assert 0 < first.done < n
    after_stop = rows(sessions)
    assert {(r.status, r.attempts) for r in after_stop} == {(InboundStatus.FILED, 1), (InboundStatus.RECEIVED, 0)}
    assert sum(r.status == InboundStatus.FILED for r in after_stop) == first.done

    second = process_pending(sessions, ctx)
    assert first.done + second.done == n
    assert [(r.id, r.status) for r in rows(sessions)] == [(i, InboundStatus.FILED) for i in ids]
    with unit_of_work(sessions) as s:
        filed = [i for i in s.scalars(select(TicketMessage.inbound_id)) if i is not None]
    assert sorted(filed) == ids  # each message filed once


def test_between_messages_the_step_is_receive_not_the_last_step_of_the_message_before(worker) -> None:
    # A message stopped before its parse begins was still being read: it must not be reported as stopped in
    # the last step of the message the worker finished before it.
    assert worker._current_step() == RECEIVE_STEP
    assert worker.prepare(ordinary("one-before")).prepared is not None
    assert worker._current_step() == RECEIVE_STEP


def message_ids(attempts: list[Attempt]) -> list[str | None]:
    return [a.prepared.mail.message_id if a.prepared else None for a in attempts]


def test_messages_sent_ahead_come_back_in_order_each_with_its_own_analysis(worker) -> None:
    raws = [ordinary(f"ahead-{n}") for n in range(3 * AHEAD_MESSAGES)]
    attempts = list(worker.prepare_all(raws))
    assert message_ids(attempts) == [f"ahead-{n}@attacker.test" for n in range(len(raws))]


@pytest.mark.parametrize("fault", ["MAILBOT_CRASH_AT", "MAILBOT_HANG_AT"])
def test_a_message_that_stops_the_worker_fails_alone_and_those_sent_after_it_are_analysed(monkeypatch, fault: str) -> None:
    # The second message of the batch kills the worker (or hangs it past the limit) while the messages after
    # it wait in the worker's queue: they are sent to the fresh worker and come back in order.
    monkeypatch.setenv(fault, "analysis.parse:3")  # 1: the warm-up message
    analyzer = WorkerProcessAnalyzer(InputLimits(), "en", max_seconds=3)
    try:
        assert analyzer.start()
        monkeypatch.delenv(fault)  # the replacement worker starts without it
        first = analyzer.pid
        raws = [ordinary(f"stop-{n}") for n in range(6)]
        attempts = list(analyzer.prepare_all(raws))
        expected: list[str | None] = [f"stop-{n}@attacker.test" for n in range(6)]
        expected[1] = None
        assert message_ids(attempts) == expected
        assert attempts[1].stopped_in == "parse"
        assert (attempts[1].failure or "").startswith(
            "the analysis process died in step parse" if fault == "MAILBOT_CRASH_AT" else "took too long in step parse"
        )
        assert analyzer.pid not in (None, first)
    finally:
        analyzer.close()


def test_a_caller_that_stops_reading_early_gets_no_stale_answer_next_time(worker) -> None:
    attempts = worker.prepare_all([ordinary(f"early-{n}") for n in range(10)])
    assert message_ids([next(attempts)]) == ["early-0@attacker.test"]
    attempts.close()  # the other nine were with the worker: it is replaced, their answers dropped
    assert message_ids([worker.prepare(ordinary("later"))]) == ["later@attacker.test"]


class Blinded:
    """The worker, with what it found in each message's headers replaced: what filing then does shows
    whether filing read the worker's findings or looked at the headers again."""

    parallel = True

    def __init__(self, inner: WorkerProcessAnalyzer, **found: Any) -> None:
        self.inner, self.found = inner, found

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        return self.inner.start(should_stop)

    def prepare(self, raw: bytes, should_stop: Callable[[], bool] = lambda: False) -> Attempt:
        return self._blind(self.inner.prepare(raw, should_stop))

    def prepare_all(self, raws: Sequence[bytes], should_stop: Callable[[], bool] = lambda: False) -> Generator[Attempt, None, None]:
        return (self._blind(a) for a in self.inner.prepare_all(raws, should_stop))

    def close(self) -> None:
        pass

    def _blind(self, attempt: Attempt) -> Attempt:
        assert attempt.prepared is not None
        analysis = replace(attempt.prepared.analysis, **self.found)
        return replace(attempt, prepared=replace(attempt.prepared, analysis=analysis))


def test_filing_decides_from_what_the_worker_found_in_the_headers(sessions, clock: FixedClock, worker) -> None:
    """Where reply tokens may sit and what marks automatic mail are found in the worker, off the filing
    thread; filing and the steps after it take them from the analysis and do not read the headers again."""
    token_address = SIGNER.reply_address(SUPPORT, 1)
    auto_reply = customer_mail("Bob <bob@customer.test>", "Re: Printer", extra="Auto-Submitted: auto-replied\r\n")
    auto_reply = auto_reply.replace(f"To: {SUPPORT}".encode(), f"To: Support <{token_address}>, Carol <carol@customer.test>".encode())
    attempt = worker.prepare(auto_reply)
    assert attempt.prepared is not None
    found = attempt.prepared.analysis
    assert found.token_candidates == (token_address,)  # only a subaddress can carry a token
    assert found.automatic_signals == ("Auto-Submitted: auto-replied",)

    seen: list[tuple[str, ...]] = []

    def after(writer: Writer, inbound_id: int, filed: Filed, now: datetime) -> None:
        ctx = MessageContext(writer, inbound_id, filed, now, cast(Policy, None))  # the step reads no policy
        DetectAutomatic(make_context(clock).desk)(ctx)
        seen.append(ctx.automatic)

    deliver(sessions, clock, customer_mail("Bob <bob@customer.test>", "Printer"))
    assert process_pending(sessions, replace(make_context(clock), analyzer=worker), after=after).handled == 1
    blinded = Blinded(worker, token_candidates=("someone+t1-abc@else.test",), automatic_signals=("found by the worker",))
    deliver(sessions, clock, auto_reply)
    assert process_pending(sessions, replace(make_context(clock), analyzer=blinded), after=after).handled == 1
    with unit_of_work(sessions) as s:
        tickets = [m.ticket_id for m in s.scalars(select(TicketMessage).order_by(TicketMessage.id))]
    assert tickets == [1, 2]  # the token the headers carry was not seen: a new ticket, not ticket 1
    assert seen == [(), ("found by the worker",)]  # not the Auto-Submitted header the worker was made to hide
