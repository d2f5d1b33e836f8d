"""`check-config --connect`: sign in to every IMAP account and SMTP server and open the database, sending
nothing, and say for each what failed: DNS, TCP, TLS certificate, TLS, auth, or a folder that is missing."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from imapclient.exceptions import LoginError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from mailbot.cli.border_checks import border_warnings, sample_headers
from mailbot.config import Config, ImapConfig, MaildirConfig, SmtpConfig
from mailbot.core.tokens import fingerprint
from mailbot.core.url_passwords import hide_passwords
from mailbot.intake.imap import InsecureConnection, close_quietly, connect
from mailbot.outbox.transports import SmtpTransport
from mailbot.signin.access_tokens import SignInFailed
from mailbot.store import migrate
from mailbot.store.db import make_engine


@dataclass(frozen=True)
class Check:
    what: str  # "imap support (user@host:993)", "smtp host:587", "database"
    ok: bool
    detail: str
    warning: bool = False  # works, but is unsafe or looks wrong: said, does not fail the check

    def line(self) -> str:
        return f"  {'WARN  ' if self.warning else 'ok    ' if self.ok else 'FAILED'} {self.what}: {self.detail}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_kind(exc: BaseException) -> str:
    """Which step failed, judged by the exception and what caused it."""
    chain = list(_chain(exc))
    for kinds, name in (
        ((socket.gaierror,), "DNS"),
        ((ssl.SSLCertVerificationError,), "TLS certificate"),
        ((LoginError, aiosmtplib.SMTPAuthenticationError, SignInFailed), "auth"),
        ((InsecureConnection, ssl.SSLError, aiosmtplib.SMTPNotSupported), "TLS"),
        ((ConnectionError, TimeoutError, aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError), "TCP"),
    ):
        if any(isinstance(e, kinds) for e in chain):
            return name
    return "protocol"


def _reason(exc: BaseException) -> str:
    text_ = str(exc).strip() or type(exc).__name__
    return f"{failure_kind(exc)}: {text_}"


def check_imap(acc: ImapConfig, authserv_id: str | None = None) -> list[Check]:
    """Sign in and open the folders; with `authserv_id`, also read the newest mail's Authentication-Results."""
    what = f"imap {acc.name} ({acc.username}@{acc.host}:{acc.effective_port}, {acc.auth})"
    try:
        client = connect(acc)
    except Exception as exc:
        return [Check(what, False, _reason(exc))]
    try:
        signed_in = _check_folders(client, acc, what)
        if not signed_in.ok or authserv_id is None:
            return [signed_in]
        sampled = sample_headers(client, acc.folders[0])
        border = f"border server (as seen in {acc.name}/{acc.folders[0]})"
        return [signed_in, *(Check(border, True, w, warning=True) for w in border_warnings(sampled, authserv_id))]
    except Exception as exc:
        return [Check(what, False, _reason(exc))]
    finally:
        close_quietly(client)


def _check_folders(client: Any, acc: ImapConfig, what: str) -> Check:
    found, missing = [], []
    for folder in acc.folders:
        if not client.folder_exists(folder):
            missing.append(folder)
            continue
        info = client.select_folder(folder, readonly=True)
        found.append(f"{folder} ({int(info.get(b'EXISTS', 0))} messages)")
    if missing:
        names = sorted(str(name) for _flags, _delim, name in client.list_folders())
        return Check(what, False, f"folder missing: {', '.join(missing)} (the server has: {', '.join(names[:15])})")
    return Check(what, True, f"signed in; {', '.join(found)}")


async def check_smtp(cfg: SmtpConfig) -> Check:
    """EHLO, STARTTLS and AUTH as the sender does them, then QUIT without sending anything."""
    what = f"smtp {cfg.host}:{cfg.effective_port} ({cfg.security}, {cfg.auth if cfg.username else 'no sign-in'})"
    try:
        client = await SmtpTransport(cfg)._connect()  # the very connection the sender opens
    except Exception as exc:
        return Check(what, False, _reason(exc))
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
    return Check(what, True, f"signed in as {cfg.username}" if cfg.username else "connected")


def check_maildir(md: MaildirConfig) -> Check:
    what = f"maildir {md.name} ({md.path})"
    new = md.path / "new"
    if not new.is_dir():
        return Check(what, True, "no new/ folder yet (it is created at the first poll)")
    if not os.access(new, os.R_OK | os.W_OK | os.X_OK):
        return Check(what, False, "new/ cannot be read and written by this user")
    return Check(what, True, "readable")


def check_hmac_secret_agrees(config: Config, engine: Engine) -> Check | None:
    """Do the database and the config agree on the secret that signs reply addresses? None when there is nothing
    to compare (no secret configured, or none stored yet: the first worker to start stores it)."""
    configured = config.configured_secret()
    if configured is None or not migrate.is_current(engine):
        return None
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT fingerprint FROM desk_secret ORDER BY id DESC LIMIT 1")).scalar()
    if stored is None:
        return None
    what = f"{config.secret_key()} against the database"
    if stored == fingerprint(configured):
        return Check(what, True, f"the same secret (fingerprint {stored})")
    return Check(what, False, f"different secrets (fingerprint {fingerprint(configured)} here, {stored} in the database)")


def check_database(config: Config) -> list[Check]:
    engine = make_engine(config.database_url)
    what = f"database {hide_passwords(config.database_url)}"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.is_current(engine)
        checks = [Check(what, True, "schema is current" if current else "schema is behind (start-up or `mailbot db upgrade` migrates it)")]
        secret = check_hmac_secret_agrees(config, engine)
        if secret is not None:
            checks.append(secret)
        return checks
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return [Check(what, False, f"cannot connect: {hide_passwords(first[0]) if first else type(exc).__name__}")]
    finally:
        engine.dispose()


def check_connections(config: Config) -> list[Check]:
    s = config.settings
    proof = s.agents.authserv_id if s.agent and s.agents.require_authentication else None
    checks = [c for acc in s.imap for c in check_imap(acc, proof)]
    checks += [check_maildir(md) for md in s.maildir]
    if s.smtp.transport == "smtp":
        checks.append(asyncio.run(check_smtp(s.smtp)))
    checks += check_database(config)
    return checks
