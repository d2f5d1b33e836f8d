"""A message's own time from Date and the newest Received header, and when it is too old to acknowledge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailbot.core.history_status import LastWord, history_status
from mailbot.core.mail_age import mail_time, too_old_to_acknowledge
from mailbot.core.ticket_states import TicketStatus

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
DAYS_AGO_5 = "Thu, 05 Mar 2026 12:00:00 +0000"
HOUR_AGO = "Tue, 10 Mar 2026 12:00:00 +0100"


def received(stamp: str) -> tuple[str, str]:
    return ("Received", f"from mx.customer.example (mx [192.0.2.1])\r\n\tby mx.example.com with ESMTPS id 4Zx;\r\n\t{stamp}")


def test_the_newest_believable_stamp_is_the_message_time() -> None:
    found = mail_time([received(HOUR_AGO), received(DAYS_AGO_5), ("Date", DAYS_AGO_5)], NOW)
    assert found.at == NOW - timedelta(hours=1)
    # Only the first (newest) Received hop is read; older hops do not count.
    assert [s.header for s in found.stamps] == ["Received", "Date"]


def test_restored_from_a_backup_is_old_by_every_stamp() -> None:
    headers = [received(DAYS_AGO_5), ("Date", DAYS_AGO_5)]
    reason = too_old_to_acknowledge(headers, NOW, 72)
    assert reason is not None and "120 hours old" in reason and "limit 72" in reason and "Received" in reason


def test_a_wrong_sender_clock_alone_does_not_make_mail_old() -> None:
    assert too_old_to_acknowledge([received(HOUR_AGO), ("Date", "Mon, 01 Jan 2024 10:00:00 +0000")], NOW, 72) is None


def test_only_a_date_header_decides_when_there_is_no_received() -> None:
    assert too_old_to_acknowledge([("Date", DAYS_AGO_5)], NOW, 72) is not None
    assert too_old_to_acknowledge([("Date", DAYS_AGO_5)], NOW, 200) is None
    assert too_old_to_acknowledge([("Date", DAYS_AGO_5)], NOW, 0) is None  # 0: the check is off


def test_missing_bogus_and_future_dates_prove_nothing() -> None:
    assert too_old_to_acknowledge([], NOW, 72) is None
    for bogus in ("yesterday", "Thu, 01 Jan 1970 00:00:00 +0000", "Mon, 01 Jan 2035 10:00:00 +0000", ""):
        found = mail_time([("Date", bogus)], NOW)
        assert found.at is None and found.stamps[0].problem, bogus
        assert too_old_to_acknowledge([("Date", bogus)], NOW, 72) is None
    # A future Date next to an old Received: the Received decides.
    assert too_old_to_acknowledge([received(DAYS_AGO_5), ("Date", "Mon, 01 Jan 2035 10:00:00 +0000")], NOW, 72) is not None


def test_a_received_hop_without_a_date_is_passed_over() -> None:
    found = mail_time([("Received", "from a by b with LMTP id x"), received(DAYS_AGO_5)], NOW)
    assert found.at == NOW - timedelta(days=5)


def test_a_little_clock_skew_is_read_as_just_now() -> None:
    found = mail_time([("Date", "Tue, 10 Mar 2026 12:10:00 +0000")], NOW)
    assert found.at == NOW


def test_history_ticket_status() -> None:
    answered = LastWord(NOW - timedelta(days=2), by_support=True)
    assert history_status(answered, NOW, 14)[0] is TicketStatus.CLOSED
    waiting = LastWord(NOW - timedelta(days=2), by_support=False)
    status, why = history_status(waiting, NOW, 14)
    assert status is TicketStatus.OPEN and "no response clock" in why
    assert history_status(LastWord(NOW - timedelta(days=20), by_support=False), NOW, 14)[0] is TicketStatus.CLOSED
    assert history_status(waiting, NOW, 0)[0] is TicketStatus.CLOSED  # 0: every history ticket is closed
