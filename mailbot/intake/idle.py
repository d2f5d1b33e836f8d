"""IMAP IDLE: one extra connection per account waits on its first folder, so new mail is fetched at once
instead of at the next poll. Polling stays the safety net: IDLE only ever says "look now"."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mailbot.config import ImapConfig
from mailbot.intake.imap import CONNECTION_ERRORS, InsecureConnection, close_quietly, connect
from mailbot.logs import log

logger = logging.getLogger("mailbot.intake.idle")

RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
CHECK_SECONDS = 1.0  # how quickly a stop request is noticed


class IdleWatcher:
    def __init__(self, account: ImapConfig, on_new: Callable[[], None]) -> None:
        self.account = account
        self.on_new = on_new
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"idle-{account.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        folder = self.account.folders[0]
        delay = 1.0
        while not self._stop.is_set():
            client = None
            try:
                client = connect(self.account)
                if not client.has_capability("IDLE"):
                    log(logger, logging.INFO, "imap.idle_unsupported", source=self.account.name, note="polling only")
                    return
                client.select_folder(folder, readonly=True)
                client.idle()
                log(logger, logging.INFO, "imap.idle", source=self.account.name, folder=folder)
                delay, renewed = 1.0, time.monotonic()
                while not self._stop.is_set():
                    responses = client.idle_check(timeout=CHECK_SECONDS)
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        self.on_new()
                    if time.monotonic() - renewed > RENEW_SECONDS:
                        client.idle_done()
                        client.idle()
                        renewed = time.monotonic()
                client.idle_done()
            except CONNECTION_ERRORS + (InsecureConnection,) as exc:
                log(logger, logging.WARNING, "imap.idle_lost", source=self.account.name, error=f"{type(exc).__name__}: {exc}", retry_in_s=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.account.reconnect_max_seconds)
            finally:
                if client is not None:
                    close_quietly(client)
