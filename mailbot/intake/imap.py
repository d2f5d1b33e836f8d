"""IMAP intake: BODY.PEEK[] in batches, raw bytes committed with the cursor before the server is touched."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot import failpoints
from mailbot.config import ImapConfig, Intake
from mailbot.core.backoff import backoff
from mailbot.intake.first_sight import HistoryWindow, first_cursor, history_finished, window_of
from mailbot.intake.inbound import Fetched, store_raw
from mailbot.intake.mail_source import FolderStats, HealthRecord, PollResult, PushWatcher, SourceHealth
from mailbot.logs import log
from mailbot.signin.imap_signin import sign_in_imap
from mailbot.store.db import unit_of_work
from mailbot.store.models import MailboxCursor
from mailbot.time_source import Clock

logger = logging.getLogger("mailbot.intake.imap")

# What a dropped or refused connection looks like from imapclient; each means "reconnect later".
CONNECTION_ERRORS = (OSError, socket.timeout, ssl.SSLError, IMAPClientError, EOFError)


class InsecureConnection(Exception):
    """The server does not offer the security the config asks for; mailbot will not fall back."""


class AccountOutage:
    """One account's outage is one warning and one recovery line, however many of its connections (polling,
    IDLE) notice it; the others log at debug level."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down = False

    def started(self) -> int:
        """The level for a connection that just failed: WARNING for the first to notice, else DEBUG."""
        with self._lock:
            first, self.down = not self.down, True
        return logging.WARNING if first else logging.DEBUG

    def ended(self) -> int:
        """The level for a connection that just came back: INFO for the first, else DEBUG."""
        with self._lock:
            first, self.down = self.down, False
        return logging.INFO if first else logging.DEBUG


def tls_context(account: ImapConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(account.ca_file) if account.ca_file else None)
    if not account.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(acc: ImapConfig) -> IMAPClient:
    """The one place that opens the network connection: TLS, or STARTTLS that must succeed, then login."""
    client = IMAPClient(
        acc.host,
        port=acc.effective_port,
        ssl=acc.security == "tls",
        ssl_context=tls_context(acc) if acc.security == "tls" else None,
        timeout=acc.timeout_seconds,
    )
    try:
        if acc.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise InsecureConnection(f"{acc.host} does not offer STARTTLS; refusing to log in in plaintext")
            client.starttls(tls_context(acc))
        sign_in_imap(client, acc)  # password or OAuth2; a refusal is a LoginError
    except BaseException:
        close_quietly(client)
        raise
    return client


class ImapSource:
    """One IMAP account: keeps its connection between polls and reconnects with backoff when it drops."""

    def __init__(
        self, account: ImapConfig, sessions: sessionmaker[Session], clock: Clock, intake: Intake = Intake(), zone: str = "UTC",
    ) -> None:
        self.account = account
        self.sessions = sessions
        self.clock = clock
        self.intake, self.zone = intake, zone
        self._client: IMAPClient | None = None
        self._delay = 0.0
        self._failures = 0  # consecutive failed polls
        self._next_try: datetime | None = None
        self._health = HealthRecord(account.name, "imap")
        self.outage = AccountOutage()  # shared with the IDLE watcher

    @property
    def name(self) -> str:
        return self.account.name

    def health(self) -> SourceHealth:
        return self._health.snapshot()

    @property
    def last_error(self) -> str | None:
        """Why the account could not be read, while it cannot (None once a poll succeeds)."""
        health = self._health.snapshot()
        return health.last_error if health.failing else None

    def watcher(self, wake: Callable[[], None]) -> PushWatcher | None:
        from mailbot.intake.idle import IdleWatcher  # idle.py builds on this module

        return IdleWatcher(self.account, wake, self.outage) if self.account.idle else None

    # connection ----------------------------------------------------------------------------------
    def connect(self) -> IMAPClient:
        return connect(self.account)

    def close(self) -> None:
        if self._client is not None:
            close_quietly(self._client)
            self._client = None

    # polling -------------------------------------------------------------------------------------
    def poll(self, should_stop: Callable[[], bool] = lambda: False, history_only: bool = False) -> PollResult:
        """Fetch everything new in every folder. Never raises for server trouble: it logs and backs off."""
        return self._health.record(self._poll(should_stop, history_only), self.clock.now())

    def _poll(self, should_stop: Callable[[], bool], history_only: bool = False) -> PollResult:
        now = self.clock.now()
        if self._next_try is not None and now < self._next_try:
            return PollResult(self.name, ok=False, error="waiting to reconnect", backing_off=True)
        result = PollResult(self.name, ok=True)
        try:
            try:
                self._poll_folders(result, should_stop, history_only)
            except CONNECTION_ERRORS as exc:
                if not result.reused or isinstance(exc, LoginError):
                    raise
                # The connection kept from the last poll died meanwhile (a server restart): one fresh try
                # before calling it an outage.
                self.close()
                result.folders.clear()
                self._poll_folders(result, should_stop, history_only)
        except CONNECTION_ERRORS + (InsecureConnection,) as exc:
            self.close()
            self._failures += 1
            self._delay = backoff(self._failures, 1.0, self.account.reconnect_max_seconds).total_seconds()
            self._next_try = now + timedelta(seconds=self._delay)
            result.ok = False
            result.error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, LoginError) and not getattr(exc, "temporary", False):
                # Refused credentials are a configuration error, not an outage: say so loudly, with the account.
                log(
                    logger, logging.ERROR, "imap.signin_failed", source=self.name, host=self.account.host,
                    username=self.account.username, auth=self.account.auth, error=str(exc), retry_in_s=round(self._delay, 1),
                )
            else:
                # Once when the outage starts; the retries that follow are debug lines.
                level = self.outage.started() if self._failures == 1 else logging.DEBUG
                log(
                    logger, level, "imap.unavailable", source=self.name,
                    host=self.account.host, error=result.error, attempt=self._failures, retry_in_s=round(self._delay, 1),
                )
            return result
        if self._failures:
            log(logger, self.outage.ended(), "imap.reconnected", source=self.name, host=self.account.host, attempts=self._failures)
        self._failures = 0
        self._delay = 0.0
        self._next_try = None
        return result

    def _poll_folders(self, result: PollResult, should_stop: Callable[[], bool], history_only: bool = False) -> None:
        result.reused = self._client is not None
        if self._client is None:
            self._client = self.connect()
            log(logger, logging.INFO if not self._failures else logging.DEBUG, "imap.connected", source=self.name, host=self.account.host)
        for folder in self.account.folders:
            if should_stop():
                break
            result.folders.append(self._poll_folder(self._client, folder, history_only))

    def _poll_folder(self, client: IMAPClient, folder: str, history_only: bool = False) -> FolderStats:
        acc = self.account
        stats = FolderStats(folder)
        info = client.select_folder(folder, readonly=acc.after_fetch == "none")
        uidvalidity = int(info[b"UIDVALIDITY"])
        last_uid, window = self._cursor(folder, uidvalidity, stats, client, info)
        if history_only and window is None:
            return stats  # its history is imported (or it has none): new mail waits for `poll --once` or `run`

        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        if history_only and window is not None and window.upto_uid is not None:
            uids = [u for u in uids if u <= window.upto_uid]
        complete = True
        for batch in self._batches(client, uids):
            bodies, upto = self._fetch(client, folder, batch)
            now = self.clock.now()
            items = [
                Fetched(raw=raw, folder=folder, uidvalidity=uidvalidity, uid=uid, history=window is not None and window.covers(uid, raw, now))
                for uid, raw in bodies
            ]
            stats.fetched += len(items)
            stats.history += sum(1 for item in items if item.history)
            with unit_of_work(self.sessions) as session:
                stats.stored += store_raw(session, self.name, items, self.clock.now())
                if upto is not None:
                    self._advance(session, folder, uidvalidity, upto)
                failpoints.reached("intake.before_commit")
            failpoints.reached("intake.after_commit")
            # Only now, with the bytes committed, may the server's copy change.
            stats.settled += self._settle(client, folder, [uid for uid, _ in bodies])
            if upto is None or upto != max(batch):
                complete = False
                break  # a message the server would not hand over: the cursor waits before it, try next poll
            last_uid = upto
        if window is not None and complete:
            with unit_of_work(self.sessions) as session:
                history_finished(session, self.name, folder, self.clock.now())
        stats.settled += self._catch_up(client, folder, last_uid)
        if stats.fetched or stats.settled or stats.rescanned:
            log(
                logger, logging.INFO, "imap.polled", source=self.name, folder=folder, fetched=stats.fetched,
                stored=stats.stored, settled=stats.settled, rescanned=stats.rescanned, history=stats.history,
            )
        return stats

    def _batches(self, client: IMAPClient, uids: list[int]) -> Iterator[list[int]]:
        """UIDs in batches of at most batch_size messages and max_batch_bytes (by the server's RFC822.SIZE),
        so one poll's memory stays bounded whatever arrives; a message larger than that comes alone."""
        acc = self.account
        for start in range(0, len(uids), acc.batch_size):
            chunk = uids[start : start + acc.batch_size]
            if len(chunk) == 1:
                yield chunk
                continue
            sizes = {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()}
            batch: list[int] = []
            total = 0
            for uid in chunk:
                size = sizes.get(uid, 0)
                if batch and total + size > acc.max_batch_bytes:
                    yield batch
                    batch, total = [], 0
                batch.append(uid)
                total += size
            if batch:
                yield batch

    def _fetch(self, client: IMAPClient, folder: str, batch: list[int]) -> tuple[list[tuple[int, bytes]], int | None]:
        """BODY.PEEK[] for `batch`. Returns the bodies and how far the cursor may move: past every UID that
        was fetched or no longer exists, but never past one that exists and did not come back."""
        response = client.fetch(batch, ["BODY.PEEK[]"])
        bodies = {uid: bytes(data[b"BODY[]"]) for uid, data in response.items() if b"BODY[]" in data}
        del response
        missing = [uid for uid in batch if uid not in bodies]
        if missing:
            present = set(client.search(["UID", ",".join(map(str, missing))])) & set(missing)
            for uid in sorted(present):  # a server hiccup, or one message too big for one answer: try it alone
                data = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
                if b"BODY[]" in data:
                    bodies[uid] = bytes(data[b"BODY[]"])
            stuck = sorted(present - set(bodies))
            gone = sorted(set(missing) - present)
            if gone:
                log(logger, logging.WARNING, "imap.vanished", source=self.name, folder=folder, uids=",".join(map(str, gone)),
                    reason="expunged by another client between SEARCH and FETCH")
            if stuck:
                log(logger, logging.ERROR, "imap.fetch_failed", source=self.name, folder=folder, uids=",".join(map(str, stuck)),
                    reason="the server lists these messages but returns no body; will try again")
                ok = [uid for uid in batch if uid < stuck[0]]
                return [(u, bodies[u]) for u in ok if u in bodies], (max(ok) if ok else None)
        return [(u, bodies[u]) for u in batch if u in bodies], max(batch)

    # cursor --------------------------------------------------------------------------------------
    def _cursor(
        self, folder: str, uidvalidity: int, stats: FolderStats, client: IMAPClient, info: dict[bytes, object],
    ) -> tuple[int, HistoryWindow | None]:
        """Where to read on from, and the folder's history window while its first import is unfinished."""
        with unit_of_work(self.sessions) as session:
            row = session.scalars(
                select(MailboxCursor).where(MailboxCursor.source == self.name, MailboxCursor.folder == folder)
            ).one_or_none()
            if row is None:
                # First sight: everything below UIDNEXT is there already, and is history.
                uidnext = info.get(b"UIDNEXT")
                upto = int(uidnext) - 1 if isinstance(uidnext, int) else max(client.search(["ALL"]), default=0)
                row = first_cursor(session, self.name, folder, uidvalidity, upto, self.intake, self.clock.now())
                return 0, window_of(row, self.intake, self.zone)
            if row.uidvalidity != uidvalidity:
                # The server renumbered the folder: read it all again; content hashes keep out what we have.
                log(
                    logger, logging.WARNING, "imap.uidvalidity_changed", source=self.name, folder=folder,
                    old=row.uidvalidity, new=uidvalidity,
                )
                row.uidvalidity = uidvalidity
                row.last_uid = 0
                row.updated_at = self.clock.now()
                if row.history_done_at is None:
                    # Renumbered during the first import: the old UIDs mean nothing now; what is left is new.
                    row.history_done_at = self.clock.now()
                stats.rescanned = True
                return 0, None
            return row.last_uid, window_of(row, self.intake, self.zone)

    def _advance(self, session: Session, folder: str, uidvalidity: int, uid: int) -> None:
        row = session.scalars(
            select(MailboxCursor).where(MailboxCursor.source == self.name, MailboxCursor.folder == folder)
        ).one()
        if row.uidvalidity == uidvalidity and uid > row.last_uid:
            row.last_uid = uid
            row.updated_at = self.clock.now()

    # after the commit ------------------------------------------------------------------------------
    def _settle(self, client: IMAPClient, folder: str, uids: list[int]) -> int:
        """Flag or move messages whose bytes are committed."""
        acc = self.account
        if not uids or acc.after_fetch == "none":
            return 0
        if acc.after_fetch == "flag":
            client.add_flags(uids, [acc.processed_flag.encode()], silent=True)
            return len(uids)
        self._ensure_folder(client, acc.processed_folder)
        if client.has_capability("MOVE"):
            client.move(uids, acc.processed_folder)
        else:
            client.copy(uids, acc.processed_folder)
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            # Without UIDPLUS an EXPUNGE would also remove other clients' deleted mail; leave it to them.
        return len(uids)

    def _catch_up(self, client: IMAPClient, folder: str, last_uid: int) -> int:
        """Settle messages committed in an earlier run that crashed before it could flag or move them."""
        acc = self.account
        if last_uid <= 0 or acc.after_fetch == "none":
            return 0
        criteria: list[object] = ["UID", f"1:{last_uid}"]
        if acc.after_fetch == "flag":
            criteria += ["UNKEYWORD", acc.processed_flag]
        left = sorted(u for u in client.search(criteria) if u <= last_uid)
        if left:
            log(logger, logging.INFO, "imap.catch_up", source=self.name, folder=folder, messages=len(left))
        return self._settle(client, folder, left)

    def _ensure_folder(self, client: IMAPClient, name: str) -> None:
        if not client.folder_exists(name):
            try:
                client.create_folder(name)
            except IMAPClientError:
                if not client.folder_exists(name):  # another worker may have created it meanwhile
                    raise


def close_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass
