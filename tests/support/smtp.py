"""A real SMTP server for tests (aiosmtpd in-process) that records what it accepts and can be told to fail."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, Envelope, Session
from aiosmtpd.smtp import SMTP as SMTPServer

from tests.support.dovecot import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=default)
        assert isinstance(msg, EmailMessage)
        return msg

    def header(self, name: str) -> str:
        return str(self.message.get(name, ""))

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""


@dataclass
class RecordingHandler:
    """Accepts mail and records it. `script` holds what to do with the next messages, one action each:
    "accept", "tempfail" (451), "reject" (554), "drop" (close the connection without answering), "unavailable"
    (421: the server is closing the session, as one going down does)."""

    received: list[Received] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address → SMTP reply for RCPT TO
    connections: int = 0
    on_message: Callable[[Received], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server: SMTPServer, session: Session, envelope: Envelope, hostname: str, responses: list[str]) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:
        reply = self.refuse_rcpt.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self.lock:
            action = self.script.pop(0) if self.script else "accept"
        if action == "tempfail":
            return "451 4.3.0 Please try again later"
        if action == "reject":
            return "554 5.7.1 Message refused"
        if action == "unavailable":
            return "421 4.3.2 Service not available, closing transmission channel"
        if action == "drop":
            assert server.transport is not None
            server.transport.close()
            return "421 closing"
        item = Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content or b""))
        with self.lock:
            self.received.append(item)
        if self.on_message is not None:
            self.on_message(item)
        return "250 2.0.0 Queued"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, the SMTP server got {len(self.received)}")


@dataclass
class HoldingHandler(RecordingHandler):
    """A RecordingHandler that holds each DATA until `release` is set (or `hold_seconds` pass), counting the
    sessions it holds at once: `active` now, `peak` the most at any moment."""

    release: threading.Event = field(default_factory=threading.Event)
    hold_seconds: float = 20.0
    active: int = 0
    peak: int = 0

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            deadline = time.monotonic() + self.hold_seconds
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # the server's event loop serves the other sessions meanwhile
            return await super().handle_DATA(server, session, envelope)
        finally:
            with self.lock:
                self.active -= 1


@dataclass
class OAuthHandler(RecordingHandler):
    """A RecordingHandler that also takes SASL XOAUTH2 and OAUTHBEARER, checking each bearer token with
    `verify(token, user)` (None to accept, else why not), as the test Dovecot does."""

    verify: Callable[[str, str], str | None] = lambda token, user: "no verifier"
    signed_in: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, user) of each success
    refused: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, reason) of each refusal

    async def auth_XOAUTH2(self, server: SMTPServer, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTPServer, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")

    async def _bearer(self, server: SMTPServer, args: list[str], mechanism: str) -> AuthResult:
        if len(args) > 1:
            try:
                blob: Any = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Can't decode base64")
        else:  # no initial response: ask for it
            blob = await server.challenge_auth(b"", encode_to_b64=False)
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        user = fields.get("user", "")
        if mechanism == "OAUTHBEARER":
            gs2 = blob.decode().split("\x01", 1)[0]  # "n,a=user,"
            user = gs2.split(",")[1].removeprefix("a=").replace("=2C", ",").replace("=3D", "=")
        token = fields.get("auth", "").removeprefix("Bearer ")
        reason = self.verify(token, user)
        if reason is None:
            with self.lock:
                self.signed_in.append((mechanism, user))
            return AuthResult(success=True, auth_data=user)
        with self.lock:
            self.refused.append((mechanism, reason))
        # As Gmail and Exchange do: an error challenge, the client's empty answer, then 535.
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False)


class SmtpServer:
    def __init__(self, handler: RecordingHandler | None = None, port: int | None = None, **kwargs: Any) -> None:
        self.handler = handler or RecordingHandler()
        self.port = port or free_port()
        self._kwargs = kwargs
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self._stopped = False

    def start(self) -> "SmtpServer":
        """Start listening; after `stop()`, again on the same port with the same handler (an outage ends)."""
        if self._stopped:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self._kwargs)
            self._stopped = False
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self._stopped = True

    def section(self, **extra: Any) -> dict[str, Any]:
        """An [smtp] table for mailbot pointing at this server (plaintext on loopback, explicitly allowed)."""
        section: dict[str, Any] = {
            "transport": "smtp", "host": "127.0.0.1", "port": self.port, "security": "plain",
            "allow_plaintext": True, "timeout_seconds": 5, "retry_base_seconds": 60,
        }
        section.update(extra)
        return section


class Arrivals:
    """When the SMTP server got mail for each recipient (monotonic seconds); pass it as a RecordingHandler's
    on_received callback."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def __call__(self, item: Received) -> None:
        for rcpt in item.rcpt_tos:
            self.at.setdefault(rcpt.lower(), time.monotonic())

    def wait(self, address: str, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if address in self.at:
                return self.at[address]
            time.sleep(0.01)
        raise AssertionError(f"no mail reached {address} within {timeout} s")
