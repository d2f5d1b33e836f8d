"""What intake does when the server lists a message but does not hand it over (a fault at one instant, so a
scripted stand-in for the server here; everything else about IMAP is tested against a real Dovecot)."""

from __future__ import annotations

from typing import Any

from mailbot.config import ImapConfig
from mailbot.intake.imap import ImapSource
from mailbot.time_source import FixedClock


class Server:
    """Answers FETCH and SEARCH the way a server with a problem would."""

    def __init__(self, present: set[int], unfetchable: set[int], flaky_once: set[int] = frozenset()) -> None:
        self.present = present
        self.unfetchable = unfetchable
        self.flaky_once = set(flaky_once)

    def fetch(self, uids: list[int], _items: Any) -> dict[int, dict[bytes, Any]]:
        out: dict[int, dict[bytes, Any]] = {}
        for uid in uids:
            if uid not in self.present or uid in self.unfetchable:
                continue
            if uid in self.flaky_once and len(uids) > 1:
                self.flaky_once.discard(uid)
                continue
            out[uid] = {b"BODY[]": f"Subject: {uid}\r\n\r\nbody".encode()}
        return out

    def search(self, criteria: list[str]) -> list[int]:
        asked = {int(u) for u in criteria[1].split(",")}
        return sorted(asked & self.present)


def source() -> ImapSource:
    account = ImapConfig(name="t", host="h", username="u", password="p")
    return ImapSource(account, None, FixedClock())  # type: ignore[arg-type]


def test_complete_batch_moves_the_cursor_to_its_end() -> None:
    bodies, upto = source()._fetch(Server({1, 2, 3}, set()), "INBOX", [1, 2, 3])  # type: ignore[arg-type]
    assert [u for u, _ in bodies] == [1, 2, 3] and upto == 3


def test_vanished_message_is_skipped() -> None:
    bodies, upto = source()._fetch(Server({1, 3}, set()), "INBOX", [1, 2, 3])  # type: ignore[arg-type]
    assert [u for u, _ in bodies] == [1, 3] and upto == 3


def test_flaky_message_is_fetched_alone() -> None:
    bodies, upto = source()._fetch(Server({1, 2, 3}, set(), flaky_once={2}), "INBOX", [1, 2, 3])  # type: ignore[arg-type]
    assert [u for u, _ in bodies] == [1, 2, 3] and upto == 3


def test_stuck_message_holds_the_cursor_before_it() -> None:
    bodies, upto = source()._fetch(Server({1, 2, 3, 4}, {3}), "INBOX", [1, 2, 3, 4])  # type: ignore[arg-type]
    assert [u for u, _ in bodies] == [1, 2] and upto == 2
    bodies, upto = source()._fetch(Server({5, 6}, {5}), "INBOX", [5, 6])  # type: ignore[arg-type]
    assert bodies == [] and upto is None
