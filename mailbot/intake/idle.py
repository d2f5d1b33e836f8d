"""IMAP IDLE: one extra connection per account waits on its first folder, so new mail is fetched at once
instead of at the next poll. Polling stays the safety net: IDLE only ever says "look now".

A connection the server drops (restart, `BYE`, a half-closed socket) is noticed at the next check, logged once,
and opened again with the same doubling back-off as polling; TCP keepalive finds a silent network cut."""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailbot.config import ImapConfig
from mailbot.core.backoff import backoff
from mailbot.intake.imap import CONNECTION_ERRORS, AccountOutage, InsecureConnection, close_quietly, connect
from mailbot.logs import log

logger = logging.getLogger("mailbot.intake.idle")

CHECK_SECONDS = 1.0  # how quickly a stop request or a dropped connection is noticed
# Readable again and again with nothing to read is a socket the server has closed (EOF).
EMPTY_READS_MEAN_CLOSED = 3
READ_BYTES = 65536
MAX_LINE_BYTES = 1 << 20  # an untagged line while idle is short; a server sending more is broken
_NEWS = (b"EXISTS", b"RECENT")  # the untagged responses that announce mail
# A silent network cut (no FIN, no RST) shows up after KEEPALIVE_IDLE + KEEPALIVE_COUNT × KEEPALIVE_INTERVAL s.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 60, 10, 3


class ConnectionLost(Exception):
    """The server ended the IDLE connection (BYE, or closed the socket)."""


def keep_alive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE), ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL), ("TCP_KEEPCNT", KEEPALIVE_COUNT)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def readable(sock: Any, timeout: float) -> bool:
    """Whether the connection has something to read (TLS bytes already decrypted count), waiting up to `timeout`."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending() > 0:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(timeout * 1000))


class IdleSession:
    """One open IDLE on one folder: reports new mail, renews itself, raises ConnectionLost when the server goes."""

    def __init__(self, client: IMAPClient, renew_seconds: float) -> None:
        self.client = client
        self.renew_seconds = renew_seconds
        self.renewals = 0
        self._empty = 0
        self._partial = b""  # the start of a line whose end has not arrived
        self._since = time.monotonic()

    def begin(self) -> None:
        keep_alive(self.client.socket())
        self.client.idle()
        self._since = time.monotonic()

    def check(self, timeout: float) -> bool:
        """Wait up to `timeout` s; True when the server announced new mail."""
        news = False
        if time.monotonic() - self._since > self.renew_seconds:
            news = self._announced(self._finish_line())  # DONE may follow only a whole line
            _, responses = self.client.idle_done()  # RFC 2177: servers may drop an IDLE older than 29 minutes
            news = any(len(r) > 1 and r[1] in _NEWS for r in responses) or news
            self.client.idle()
            self._since = time.monotonic()
            self.renewals += 1
            log(logger, logging.DEBUG, "imap.idle_renewed", renewals=self.renewals)
            # What came with the renewal may already sit in imaplib's buffer, where polling the socket cannot see it.
            news = self._announced(self._read_lines()[0]) or news
        if not readable(self.client.socket(), timeout):
            return news
        lines, read = self._read_lines()
        if not read:
            self._empty += 1
            if self._empty >= EMPTY_READS_MEAN_CLOSED:
                raise ConnectionLost("the server closed the connection")
            return news
        self._empty = 0
        return self._announced(lines) or news

    def _read_lines(self) -> tuple[list[bytes], bool]:
        """The whole lines the server has sent so far, read without waiting, and whether any byte came. A line
        cut short (a TCP segment or a TLS record ended inside it) is kept for the next read: imapclient's
        idle_check hands such a piece to imaplib, which rejects it as an unterminated line, and its rest would
        then read as a line of its own."""
        stream = self.client._imap.file  # imaplib's buffered reader: what it holds already comes first
        sock = self.client.socket()
        sock.setblocking(False)
        data, read = self._partial, False
        try:
            while True:
                try:
                    chunk = stream.read1(READ_BYTES)
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                if not chunk:  # nothing more for now, or the end of the stream (the caller counts those)
                    break
                data, read = data + chunk, True
                if len(data) - data.rfind(b"\n") > MAX_LINE_BYTES:
                    raise ConnectionLost(f"a line of more than {MAX_LINE_BYTES} bytes while idle")
        finally:
            sock.setblocking(True)
            self.client._set_read_timeout()
        *lines, self._partial = data.split(b"\n")
        return lines, read

    def _finish_line(self) -> list[bytes]:
        """The rest of a line cut short, read with the connection's usual timeout (it is on its way)."""
        if not self._partial:
            return []
        line, self._partial = self._partial + self.client._imap.file.readline(), b""
        if not line.endswith(b"\n"):
            raise ConnectionLost("the server closed the connection inside a line")
        return [line]

    @staticmethod
    def _announced(lines: list[bytes]) -> bool:
        """Whether untagged responses among `lines` announce mail; BYE ends the connection."""
        news = False
        for line in lines:
            words = line.rstrip(b"\r\n").split(b" ", 2)
            if words[0] != b"*" or len(words) < 2:
                continue  # a continuation, or the rest of a literal
            if words[1].upper() == b"BYE":
                raise ConnectionLost(b" ".join(words[1:]).decode(errors="replace").strip())
            news = news or (len(words) > 2 and words[1].isdigit() and words[2].split(b" ", 1)[0].upper() in _NEWS)
        return news

    def end(self) -> None:
        self._finish_line()
        self.client.idle_done()


class IdleWatcher:
    def __init__(self, account: ImapConfig, on_new: Callable[[], None], outage: AccountOutage | None = None) -> None:
        self.account = account
        self.on_new = on_new
        self.outage = outage or AccountOutage()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"idle-{account.name}", daemon=True)
        self.failures = 0  # consecutive failed attempts; 0 while connected
        self._lost_at: float | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            client = None
            try:
                client = connect(self.account)
                if not client.has_capability("IDLE"):
                    log(logger, logging.INFO, "imap.idle_unsupported", source=self.account.name, note="polling only")
                    return
                self._watch(client)
            except (ConnectionLost, LoginError, InsecureConnection) + CONNECTION_ERRORS as exc:
                self._failed(exc)
                self._stop.wait(backoff(self.failures, 1.0, self.account.reconnect_max_seconds).total_seconds())
            finally:
                if client is not None:
                    close_quietly(client)

    def _watch(self, client: IMAPClient) -> None:
        folder = self.account.folders[0]
        client.select_folder(folder, readonly=True)
        session = IdleSession(client, self.account.idle_renew_seconds)
        session.begin()
        if self._lost_at is None:
            log(logger, logging.INFO, "imap.idle", source=self.account.name, folder=folder)
        else:
            log(logger, self.outage.ended(), "imap.idle_restored", source=self.account.name, folder=folder,
                down_s=round(time.monotonic() - self._lost_at, 1), attempts=self.failures)
            self.on_new()  # mail that came while the connection was down announced nothing: look now
        self.failures, self._lost_at = 0, None
        while not self._stop.is_set():
            if session.check(CHECK_SECONDS):
                self.on_new()
        session.end()

    def _failed(self, exc: BaseException) -> None:
        """Log the start of an outage once (a refused sign-in as an error naming the account); repeats at debug."""
        self.failures += 1
        retry = round(backoff(self.failures, 1.0, self.account.reconnect_max_seconds).total_seconds(), 1)
        error = f"{type(exc).__name__}: {exc}"
        acc = self.account
        if self._lost_at is not None:
            log(logger, logging.DEBUG, "imap.idle_retry", source=acc.name, error=error, attempt=self.failures, retry_in_s=retry)
            return
        self._lost_at = time.monotonic()
        if isinstance(exc, LoginError) and not getattr(exc, "temporary", False):
            log(logger, logging.ERROR, "imap.signin_failed", source=acc.name, host=acc.host, username=acc.username,
                auth=acc.auth, error=str(exc), retry_in_s=retry, connection="idle")
        else:
            log(logger, self.outage.started(), "imap.idle_lost", source=acc.name, host=acc.host, error=error, retry_in_s=retry)
