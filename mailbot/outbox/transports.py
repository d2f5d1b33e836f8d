"""How outgoing mail leaves: SMTP connections (reused, one aiosmtplib client each) or a Maildir, and the pool of them."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from mailbot.config import SmtpConfig
from mailbot.logs import log
from mailbot.signin.smtp_signin import sign_in_smtp

logger = logging.getLogger("mailbot.outbox")


class TemporaryFailure(Exception):
    """Try again later (4xx, connection trouble, authentication that a config fix will cure)."""


class ConnectionTrouble(TemporaryFailure):
    """The server cannot be reached or used at all: stop this flush, every row would fail the same way."""


class PermanentFailure(Exception):
    """The server refused for good (5xx)."""


@dataclass(frozen=True)
class Accepted:
    refused: dict[str, tuple[int, str]]  # recipients refused while others were accepted


class Transport(Protocol):
    async def send(self, mail_from: str, recipients: list[str], raw: bytes) -> Accepted: ...

    async def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection kept open between messages and flushes; reconnects when the server drops it."""

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self._client: aiosmtplib.SMTP | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _usable(self) -> bool:
        """Whether the open connection can carry the next message (it belongs to this event loop)."""
        if self._client is None:
            return False
        if self._loop is not asyncio.get_running_loop():
            self._discard()  # made by an earlier asyncio.run(); its loop is gone
            return False
        return self._client.is_connected

    def _discard(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            try:
                client.close()
            except RuntimeError:  # its event loop is already closed; the socket goes with it
                pass

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cfg.ca_file) if self.cfg.ca_file else None)
        if not self.cfg.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.cfg
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.effective_port,
            use_tls=cfg.security == "tls",
            # True: STARTTLS is required, and its absence is an error rather than a silent plaintext session.
            start_tls=True if cfg.security == "starttls" else False,
            tls_context=self._tls() if cfg.security != "plain" else None,
            timeout=cfg.timeout_seconds,
        )
        await client.connect()
        try:
            await sign_in_smtp(client, cfg)  # password or OAuth2; a refusal is an SMTPAuthenticationError
        except BaseException:
            client.close()
            raise
        return client

    async def send(self, mail_from: str, recipients: list[str], raw: bytes) -> Accepted:
        for attempt in (1, 2):
            try:
                client = self._client
                if client is None or not self._usable():
                    client = self._client = await self._connect()
                    self._loop = asyncio.get_running_loop()
                errors, _response = await client.sendmail(mail_from, recipients, raw)
                return Accepted(refused={addr: (resp.code, resp.message) for addr, resp in errors.items()})
            except aiosmtplib.SMTPServerDisconnected as exc:
                # An idle connection the server closed: reconnect once before calling it a failure.
                await self.close()
                if attempt == 2:
                    raise ConnectionTrouble(f"connection lost: {exc}") from exc
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
                if all(400 <= c < 500 for c in codes):
                    raise TemporaryFailure(detail) from exc
                raise PermanentFailure(detail) from exc
            except aiosmtplib.SMTPAuthenticationError as exc:
                await self.close()
                what = "auth settings ([smtp.oauth2])" if self.cfg.auth == "oauth2" else "username/password"
                error = f"SMTP sign-in failed ({exc.code} {exc.message}); check [smtp] {what}"
                if not getattr(exc, "temporary", False):  # refused credentials are a configuration error
                    log(logger, logging.ERROR, "smtp.signin_failed", host=self.cfg.host, username=self.cfg.username, auth=self.cfg.auth, error=error)
                raise ConnectionTrouble(error) from exc
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise PermanentFailure(f"{exc.code} {exc.message}") from exc
                if exc.code == 421:  # the server is closing the connection: it is unavailable, not this message
                    await self.close()
                    raise ConnectionTrouble(f"{exc.code} {exc.message}") from exc
                raise TemporaryFailure(f"{exc.code} {exc.message}") from exc
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                await self.close()
                raise ConnectionTrouble(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if not self._usable():
            self._discard()
            return
        client, self._client, self._loop = self._client, None, None
        assert client is not None
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            client.close()


class MaildirTransport:
    """Writes each message into a Maildir (the embedded default's outgoing mail, readable by any mail client)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, mail_from: str, recipients: list[str], raw: bytes) -> Accepted:
        for sub in ("new", "cur", "tmp"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now().timestamp():.6f}.{os.getpid()}.{abs(hash(raw))}.mailbot"
        head = f"Return-Path: <{mail_from}>\r\nX-Envelope-To: {', '.join(recipients)}\r\n".encode()
        tmp = self.path / "tmp" / name
        tmp.write_bytes(head + raw)
        os.rename(tmp, self.path / "new" / name)
        return Accepted(refused={})

    async def close(self) -> None:
        """Nothing to close."""


class TransportPool:
    """The transports the sender sends over side by side: `size` of them, each made by `make` when first asked
    for (an SMTP connection opens at its first message), all closed together."""

    def __init__(self, make: Callable[[], Transport], size: int) -> None:
        self.make = make
        self.size = size
        self._made: list[Transport] = []

    def __getitem__(self, index: int) -> Transport:
        while len(self._made) <= index < self.size:
            self._made.append(self.make())
        return self._made[index]

    async def close(self) -> None:
        for transport in self._made:
            await transport.close()


def make_transport(cfg: SmtpConfig, outgoing_maildir: Path) -> Transport:
    return SmtpTransport(cfg) if cfg.transport == "smtp" else MaildirTransport(outgoing_maildir)


def make_pool(cfg: SmtpConfig, outgoing_maildir: Path) -> TransportPool:
    """`[smtp] connections` SMTP connections; one Maildir writer (its writes do not wait on a peer)."""
    size = cfg.connections if cfg.transport == "smtp" else 1
    return TransportPool(lambda: make_transport(cfg, outgoing_maildir), size)
