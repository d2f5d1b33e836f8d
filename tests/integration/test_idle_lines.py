"""IDLE over a connection that delivers a line in pieces: a scripted IMAP server on 127.0.0.1 cuts an untagged
response at an exact byte, which a real server does only by chance (a TCP segment or a TLS record ending inside
a line during a burst). The session must neither fail nor lose the announcement."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from mailbot.intake.idle import ConnectionLost, IdleSession
from tests.support.waiting import wait_until


class ScriptedImap:
    """Offers IDLE, answers IDLE with a continuation, DONE with the tagged OK and any other command with OK, and
    writes whatever bytes the test hands it, exactly as handed, in between."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._out: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.commands: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def send(self, raw: bytes) -> None:
        self._out.put(raw)

    def close(self) -> None:
        self._out.put(b"")
        self._listener.close()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 IDLE] scripted\r\n")
            reader = conn.makefile("rb")
            tag = b""
            writer = threading.Thread(target=self._write, args=(conn,), daemon=True)
            writer.start()
            while line := reader.readline():
                self.commands.append(line)
                words = line.split()
                if len(words) >= 2 and words[1].upper() == b"IDLE":
                    tag = words[0]
                    self._out.put(b"+ idling\r\n")
                elif words[:1] == [b"DONE"]:
                    self._out.put(tag + b" OK IDLE terminated\r\n")
                elif len(words) >= 2 and words[1].upper() == b"CAPABILITY":
                    self._out.put(b"* CAPABILITY IMAP4rev1 IDLE\r\n" + words[0] + b" OK done\r\n")
                elif len(words) >= 2:
                    self._out.put(words[0] + b" OK done\r\n")

    def _write(self, conn: socket.socket) -> None:
        while raw := self._out.get():
            conn.sendall(raw)


@pytest.fixture
def server() -> Iterator[ScriptedImap]:
    scripted = ScriptedImap()
    yield scripted
    scripted.close()


@pytest.fixture
def session(server: ScriptedImap) -> Iterator[IdleSession]:
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    idle = IdleSession(client, renew_seconds=3600)
    idle.begin()
    yield idle
    client.shutdown()


def read_piece(session: IdleSession, piece: bytes) -> None:
    """Wait until the session has read `piece`, the start of a line, and announced nothing for it."""
    wait_until(lambda: session.check(0.2) is False and session._partial == piece, what=f"{piece!r} to be read")


def test_a_line_that_arrives_in_pieces_is_read_whole(server: ScriptedImap, session: IdleSession) -> None:
    server.send(b"* 3 EXI")
    read_piece(session, b"* 3 EXI")  # the first piece alone announces nothing, and is not an error
    server.send(b"STS\r\n* 1 RECENT\r\n")
    wait_until(lambda: session.check(0.2), what="the whole line to announce new mail")
    server.send(b"* 4 FETCH (FLAGS (\\Seen))\r\n")
    assert not any(session.check(0.3) for _ in range(3))  # a flag change is not new mail
    session.end()


def test_renewing_idle_first_finishes_a_line_cut_short_and_keeps_its_news(server: ScriptedImap, session: IdleSession) -> None:
    server.send(b"* 7 EXI")
    read_piece(session, b"* 7 EXI")
    session.renew_seconds = 0  # the next check renews IDLE, with half a line read
    server.send(b"STS\r\n")
    assert session.check(0.1) is True
    assert session.renewals == 1
    assert [c.split()[-1] for c in server.commands[-2:]] == [b"DONE", b"IDLE"]
    session.end()


def test_bye_in_pieces_ends_the_session(server: ScriptedImap, session: IdleSession) -> None:
    server.send(b"* BY")
    read_piece(session, b"* BY")
    server.send(b"E shutting down\r\n")
    with pytest.raises(ConnectionLost, match="BYE shutting down"):
        wait_until(lambda: session.check(0.2), what="BYE")
