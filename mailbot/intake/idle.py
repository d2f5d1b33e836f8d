"""IMAP IDLE: one extra connection per account waits on its first folder, so new mail is fetched at once
instead of at the next poll. Polling stays the safety net: IDLE only ever says "look now".

A connection the server drops (restart, `BYE`, a half-closed socket) is noticed at the next check, logged once,
and opened again with the same doubling back-off as polling; TCP keepalive finds a silent network cut."""

from __future__ import annotations

import logging
import select
import socket
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
        self._since = time.monotonic()

    def begin(self) -> None:
        keep_alive(self.client.socket())
        self.client.idle()
        self._since = time.monotonic()

    def check(self, timeout: float) -> bool:
        """Wait up to `timeout` s; True when the server announced new mail."""
        if time.monotonic() - self._since > self.renew_seconds:
            self.client.idle_done()  # RFC 2177: servers may drop an IDLE older than 29 minutes
            self.client.idle()
            self._since = time.monotonic()
            self.renewals += 1
            log(logger, logging.DEBUG, "imap.idle_renewed", renewals=self.renewals)
        if not readable(self.client.socket(), timeout):
            return False
        responses = self.client.idle_check(timeout=0)
        if not responses:
            self._empty += 1
            if self._empty >= EMPTY_READS_MEAN_CLOSED:
                raise ConnectionLost("the server closed the connection")
            return False
        self._empty = 0
        for resp in responses:
            if resp and resp[0] == b"BYE":
                text = resp[1].decode(errors="replace") if len(resp) > 1 and isinstance(resp[1], bytes) else ""
                raise ConnectionLost(f"BYE {text}".strip())
        return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)

    def end(self) -> None:
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
