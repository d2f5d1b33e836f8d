"""OAuth2 sign-in against real servers: Dovecot validating JWTs locally, aiosmtpd taking XOAUTH2 and OAUTHBEARER,
and a local RFC 6749 token endpoint issuing the tokens (client credentials, refresh token, certificate, command)."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import ssl
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import select

from mailbot.config import Config
from mailbot.intake.idle import IdleWatcher
from mailbot.intake.imap import ImapSource
from mailbot.logs import EventFormatter
from mailbot.outbox.sender import ConnectionTrouble, SmtpTransport
from mailbot.signin.oauth2_grants import RefreshTokenGrant
from mailbot.store.db import unit_of_work
from mailbot.store.models import Inbound
from mailbot.time_source import FixedClock
from tests.conftest import imap_section
from tests.support.dovecot import Dovecot, ImapUser, make_certificate
from tests.support.flow import customer_mail, sent_now
from tests.support.smtp import OAuthHandler, SmtpServer
from tests.support.token_endpoint import TokenEndpoint
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]  # starts Dovecot and a token endpoint

CLIENT_SECRET = "client-secret-Zq8v1x"


def oauth_account(dovecot: Dovecot, user: ImapUser, name: str = "support", **oauth2: Any) -> dict[str, Any]:
    """An [[imap]] table that signs in with OAuth2 instead of the test password."""
    return imap_section(dovecot, user, name=name, password=None, auth="oauth2", oauth2=oauth2)


def client_credentials(endpoint: TokenEndpoint, user: ImapUser, **extra: Any) -> dict[str, Any]:
    client_id = endpoint.add_client(user.name, secret=CLIENT_SECRET)
    return {"token_endpoint": endpoint.url, "client_id": client_id, "client_secret": CLIENT_SECRET, **extra}


def refresh_token_file(tmp_path: Path, token: str, name: str = "refresh-token") -> Path:
    path = tmp_path / name
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def append(dovecot: Dovecot, user: ImapUser, *raws: bytes) -> None:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as c:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        c.login(user.name, user.password)
        for raw in raws:
            c.append("INBOX", raw)


def inbound_uids(sessions, source: str) -> list[int]:
    with unit_of_work(sessions) as s:
        return [u or 0 for u in s.scalars(select(Inbound.uid).where(Inbound.source == source).order_by(Inbound.uid))]


def dovecot_logins(dovecot: Dovecot, user: ImapUser) -> list[str]:
    """Dovecot's own record of each token sign-in for `user`, in order: the mechanism of each success ('XOAUTH2',
    'OAUTHBEARER'), 'refused' for each token its oauth2 passdb turned down. (The tests' own PLAIN logins are left out.)"""
    found = []
    for line in (dovecot.root / "dovecot.log").read_text(errors="replace").splitlines():
        if f"user=<{user.name}>" in line and "imap-login" in line and "Login:" in line and "method=PLAIN" not in line:
            found.append(line.split("method=")[1].split(",")[0])
        elif f"oauth2({user.name}," in line and "oauth2 failed" in line:
            found.append("refused")
    return found


@pytest.fixture
def oauth_smtp(token_endpoint: TokenEndpoint) -> Iterator[SmtpServer]:
    server = SmtpServer(OAuthHandler(verify=token_endpoint.verify), auth_require_tls=False).start()
    yield server
    server.stop()


# --- IMAP ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mechanism", "used"), [("auto", "OAUTHBEARER"), ("xoauth2", "XOAUTH2"), ("oauthbearer", "OAUTHBEARER")])
def test_imap_fetch_signs_in_with_a_client_credentials_token(
    dovecot, imap_user, token_endpoint, make_config, sessions, clock: FixedClock, mechanism: str, used: str
) -> None:
    append(dovecot, imap_user, *[customer_mail(f"c{i}@customer.example", f"question {i}") for i in range(3)])
    token_endpoint.scope = "https://outlook.office365.com/.default"
    oauth = client_credentials(token_endpoint, imap_user, mechanism=mechanism, scope="https://outlook.office365.com/.default")
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, **oauth)])
    src = ImapSource(config.settings.imap[0], sessions, clock)
    result = src.poll()
    src.close()
    assert result.ok and result.stored == 3, result.error
    assert dovecot_logins(dovecot, imap_user)[-1] == used
    assert [r["client_auth"] for r in token_endpoint.requests] == ["client_secret_post"]
    assert src.last_error is None


def test_imap_idle_signs_in_with_a_token(dovecot, imap_user, token_endpoint, make_config, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mailbot")
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, **client_credentials(token_endpoint, imap_user))])
    news = threading.Event()
    watcher = IdleWatcher(config.settings.imap[0], news.set)
    watcher.start()
    try:
        wait_until(lambda: any(r.getMessage() == "imap.idle" for r in caplog.records), what="IDLE to start")
        append(dovecot, imap_user, customer_mail("c@customer.example", "while idling"))
        assert news.wait(15), "IDLE did not report the new message"
    finally:
        watcher.stop()
    assert dovecot_logins(dovecot, imap_user) == ["OAUTHBEARER"]
    assert len(token_endpoint.issued) == 1


def test_an_expired_token_is_replaced_before_use_and_no_mail_is_lost_or_doubled(
    dovecot, imap_user, token_endpoint, make_config, sessions, clock: FixedClock
) -> None:
    token_endpoint.lifetime = 2  # says expires_in=2 and means it
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, **client_credentials(token_endpoint, imap_user))])
    src = ImapSource(config.settings.imap[0], sessions, clock)
    append(dovecot, imap_user, *[customer_mail(f"a{i}@customer.example", f"first {i}") for i in range(3)])
    assert src.poll().stored == 3
    append(dovecot, imap_user, *[customer_mail(f"b{i}@customer.example", f"second {i}") for i in range(2)])
    src.close()  # the next poll must sign in again
    token_endpoint.wait_for_expiry(token_endpoint.issued[0])
    result = src.poll()
    src.close()
    assert result.ok and result.stored == 2, result.error
    assert inbound_uids(sessions, "support") == [1, 2, 3, 4, 5]
    assert len(token_endpoint.issued) == 2
    assert dovecot_logins(dovecot, imap_user) == ["OAUTHBEARER", "OAUTHBEARER"]  # renewed before use, not after a refusal


def test_a_token_refused_before_its_time_gets_one_fresh_token_and_one_retry(
    dovecot, imap_user, token_endpoint, make_config, sessions, clock: FixedClock
) -> None:
    token_endpoint.lifetime, token_endpoint.advertised = 2, 3600  # the client believes it has an hour
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, **client_credentials(token_endpoint, imap_user))])
    src = ImapSource(config.settings.imap[0], sessions, clock)
    append(dovecot, imap_user, customer_mail("a@customer.example", "first"))
    assert src.poll().stored == 1
    append(dovecot, imap_user, customer_mail("b@customer.example", "second"))
    src.close()
    token_endpoint.wait_for_expiry(token_endpoint.issued[0])
    result = src.poll()
    src.close()
    assert result.ok and result.stored == 1, result.error
    assert inbound_uids(sessions, "support") == [1, 2]
    assert len(token_endpoint.issued) == 2
    assert dovecot_logins(dovecot, imap_user) == ["OAUTHBEARER", "refused", "OAUTHBEARER"]


def test_a_server_that_refuses_a_fresh_token_too_fails_the_account_with_its_reason(
    dovecot, imap_user, token_endpoint, make_config, sessions, clock: FixedClock, caplog
) -> None:
    other = dovecot.add_user()
    client_id = token_endpoint.add_client(other.name, secret=CLIENT_SECRET)  # its tokens are for another mailbox
    oauth = {"token_endpoint": token_endpoint.url, "client_id": client_id, "client_secret": CLIENT_SECRET, "mechanism": "xoauth2"}
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, **oauth)])
    src = ImapSource(config.settings.imap[0], sessions, clock)
    result = src.poll()
    assert not result.ok
    assert len(token_endpoint.issued) == 2  # one fresh token, one retry, no more
    assert dovecot_logins(dovecot, imap_user) == ["refused", "refused"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.getMessage() == "imap.signin_failed"]
    assert len(errors) == 1 and errors[0].kv["source"] == "support"
    assert "refused a fresh access token" in errors[0].kv["error"] and "status=401" in errors[0].kv["error"]
    assert src.last_error is not None and "refused a fresh access token" in src.last_error


@pytest.mark.slow
def test_a_revoked_refresh_token_fails_its_account_clearly_and_the_others_keep_working(
    dovecot, imap_user, token_endpoint, make_config, tmp_path: Path
) -> None:
    from tests.support.cli import run_mailbot

    working = dovecot.add_user()
    append(dovecot, imap_user, customer_mail("a@customer.example", "to the broken account"))
    append(dovecot, working, customer_mail("b@customer.example", "to the working account"))
    client_id = token_endpoint.add_client(imap_user.name, secret=CLIENT_SECRET)
    revoked = token_endpoint.grant_refresh_token(client_id, imap_user.name)
    token_endpoint.revoke(revoked)
    broken = {"token_endpoint": token_endpoint.url, "client_id": client_id, "client_secret": CLIENT_SECRET,
              "refresh_token_file": str(refresh_token_file(tmp_path, revoked))}
    config: Config = make_config(imap=[
        oauth_account(dovecot, imap_user, name="broken", **broken),
        oauth_account(dovecot, working, name="working", **client_credentials(token_endpoint, working)),
    ])
    assert config.path is not None
    result = run_mailbot(config.path, "poll", "--once")
    assert result.returncode == 1, result.stderr
    assert "stored 1 new message(s)" in result.stdout
    line = next(l for l in result.stderr.splitlines() if "event=imap.signin_failed" in l)
    assert "level=error" in line and "source=broken" in line
    assert "invalid_grant: The refresh token has been revoked or has expired." in line
    assert "could not read source broken" in result.stderr and "source working" not in result.stderr
    assert dovecot_logins(dovecot, imap_user) == []  # nothing was tried with a token it could not get


# --- token sources ------------------------------------------------------------------------------------

def test_a_rotated_refresh_token_is_written_back_with_mode_0600(imap_user, token_endpoint, make_config, tmp_path: Path) -> None:
    token_endpoint.rotate = True
    client_id = token_endpoint.add_client(imap_user.name, secret=CLIENT_SECRET)
    first = token_endpoint.grant_refresh_token(client_id, imap_user.name)
    path = refresh_token_file(tmp_path, first)
    config: Config = make_config(imap=[{
        "name": "support", "host": "127.0.0.1", "username": imap_user.name, "auth": "oauth2",
        "oauth2": {"token_endpoint": token_endpoint.url, "client_id": client_id, "client_secret": CLIENT_SECRET,
                   "refresh_token_file": str(path)},
    }])
    oauth2 = config.settings.imap[0].oauth2
    assert oauth2 is not None
    RefreshTokenGrant(oauth2).fetch()
    second = path.read_text().strip()
    assert second != first and first in token_endpoint.revoked
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    RefreshTokenGrant(oauth2).fetch()  # works only with the rotated token
    assert path.read_text().strip() not in (first, second)
    assert [r["grant_type"] for r in token_endpoint.requests] == ["refresh_token", "refresh_token"]


def test_a_certificate_signs_the_client_assertion(
    dovecot, imap_user, token_endpoint, make_config, sessions, clock: FixedClock, tmp_path: Path
) -> None:
    cert, key = make_certificate(tmp_path)
    client_id = token_endpoint.add_client(imap_user.name, certificate_pem=cert.read_bytes())
    append(dovecot, imap_user, customer_mail("a@customer.example", "hello"))
    oauth = {"token_endpoint": token_endpoint.url, "client_id": client_id, "certificate_file": str(cert), "private_key_file": str(key)}
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, **oauth)])
    src = ImapSource(config.settings.imap[0], sessions, clock)
    result = src.poll()
    src.close()
    assert result.ok and result.stored == 1, result.error
    assert [r["client_auth"] for r in token_endpoint.requests] == ["private_key_jwt"]

    # A certificate the application does not know is refused by the endpoint, and the account says so.
    (tmp_path / "other").mkdir()
    other_cert, other_key = make_certificate(tmp_path / "other")
    oauth.update(certificate_file=str(other_cert), private_key_file=str(other_key))
    config = make_config(imap=[oauth_account(dovecot, imap_user, **oauth)])
    result = ImapSource(config.settings.imap[0], sessions, clock).poll()
    assert not result.ok and result.error is not None and "invalid_client" in result.error


def test_token_command_output_is_the_access_token(
    dovecot, imap_user, token_endpoint, make_config, sessions, clock: FixedClock, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(token_endpoint.mint(imap_user.name) + "\n")
    append(dovecot, imap_user, customer_mail("a@customer.example", "hello"))
    command = f"cat {shlex.quote(str(token_file))}"
    config: Config = make_config(imap=[oauth_account(dovecot, imap_user, token_command=command)])
    src = ImapSource(config.settings.imap[0], sessions, clock)
    result = src.poll()
    src.close()
    assert result.ok and result.stored == 1, result.error

    failing = f"{shlex.quote(sys.executable)} -c \"import sys; sys.stderr.write('no token for support\\n'); sys.exit(3)\""
    config = make_config(imap=[oauth_account(dovecot, imap_user, token_command=failing)])
    result = ImapSource(config.settings.imap[0], sessions, clock).poll()
    assert not result.ok and result.error is not None
    assert "token_command exited with status 3: no token for support" in result.error


# --- SMTP ---------------------------------------------------------------------------------------------

def smtp_section(server: SmtpServer, endpoint: TokenEndpoint, user: ImapUser, **oauth: Any) -> dict[str, Any]:
    return server.section(username=user.name, auth="oauth2", oauth2={**client_credentials(endpoint, user), **oauth})


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_smtp_send_signs_in_with_a_token(imap_user, token_endpoint, oauth_smtp, make_config, mechanism: str) -> None:
    config: Config = make_config(smtp=smtp_section(oauth_smtp, token_endpoint, imap_user, mechanism=mechanism))
    transport = SmtpTransport(config.settings.smtp)

    async def send() -> None:
        for i in range(2):
            await transport.send("support@example.com", ["c@customer.example"], f"Subject: {i}\r\n\r\nhello\r\n".encode())
        await transport.close()

    asyncio.run(send())
    assert len(oauth_smtp.handler.received) == 2
    assert oauth_smtp.handler.signed_in == [(mechanism.upper(), imap_user.name)]  # one connection, one sign-in


def test_smtp_gets_one_fresh_token_when_the_server_refuses_one(imap_user, token_endpoint, oauth_smtp, make_config) -> None:
    token_endpoint.lifetime, token_endpoint.advertised = 2, 3600
    config: Config = make_config(smtp=smtp_section(oauth_smtp, token_endpoint, imap_user, mechanism="xoauth2"))
    transport = SmtpTransport(config.settings.smtp)

    async def send(n: int) -> None:
        await transport.send("support@example.com", ["c@customer.example"], f"Subject: {n}\r\n\r\nhello\r\n".encode())
        await transport.close()

    asyncio.run(send(1))
    token_endpoint.wait_for_expiry(token_endpoint.issued[0])
    asyncio.run(send(2))
    assert len(oauth_smtp.handler.received) == 2
    assert [m for m, _ in oauth_smtp.handler.refused] == ["XOAUTH2"]
    assert len(token_endpoint.issued) == 2


def test_smtp_reports_the_providers_error_at_error_level(imap_user, token_endpoint, oauth_smtp, make_config, caplog) -> None:
    config: Config = make_config(smtp=smtp_section(oauth_smtp, token_endpoint, imap_user, client_secret="not-the-secret"))
    transport = SmtpTransport(config.settings.smtp)

    async def send() -> None:
        await transport.send("support@example.com", ["c@customer.example"], b"Subject: x\r\n\r\nhello\r\n")

    with pytest.raises(ConnectionTrouble, match="invalid_client"):
        asyncio.run(send())
    errors = [r for r in caplog.records if r.getMessage() == "smtp.signin_failed"]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert oauth_smtp.handler.received == [] and oauth_smtp.handler.signed_in == []


# --- secrets ------------------------------------------------------------------------------------------

def test_no_secret_appears_in_any_log_line(
    dovecot, imap_user, token_endpoint, oauth_smtp, make_config, sessions, clock: FixedClock, tmp_path: Path, caplog
) -> None:
    """Every logger at debug level, through a token refusal and retry, rotation, revocation and an SMTP send."""
    caplog.set_level(logging.DEBUG)
    token_endpoint.rotate = True
    token_endpoint.lifetime, token_endpoint.advertised = 2, 3600
    client_id = token_endpoint.add_client(imap_user.name, secret=CLIENT_SECRET)
    refresh = token_endpoint.grant_refresh_token(client_id, imap_user.name)
    path = refresh_token_file(tmp_path, refresh)
    revoked = token_endpoint.grant_refresh_token(client_id, imap_user.name)
    token_endpoint.revoke(revoked)
    oauth = {"token_endpoint": token_endpoint.url, "client_id": client_id, "client_secret": CLIENT_SECRET, "mechanism": "xoauth2"}
    config: Config = make_config(
        imap=[
            oauth_account(dovecot, imap_user, **oauth, refresh_token_file=str(path)),
            oauth_account(dovecot, imap_user, name="revoked", **oauth, refresh_token_file=str(refresh_token_file(tmp_path, revoked, "r2"))),
        ],
        smtp=smtp_section(oauth_smtp, token_endpoint, imap_user),
    )
    append(dovecot, imap_user, customer_mail("a@customer.example", "hello"))
    good, bad = (ImapSource(acc, sessions, clock) for acc in config.settings.imap)
    assert good.poll().ok
    good.close()
    token_endpoint.wait_for_expiry(token_endpoint.issued[-1])
    assert good.poll().ok  # refused, renewed (the refresh token rotates), retried
    good.close()
    assert not bad.poll().ok
    transport = SmtpTransport(config.settings.smtp)

    async def send() -> None:
        await transport.send("support@example.com", ["c@customer.example"], b"Subject: x\r\n\r\nhi\r\n")
        await transport.close()

    asyncio.run(send())

    secrets = {CLIENT_SECRET, refresh, revoked, path.read_text().strip(), *(i.access_token for i in token_endpoint.issued)}
    secrets |= {s.split(".")[2] for s in secrets if s.count(".") == 2}  # a JWT's signature alone
    formatter = EventFormatter()
    lines = [formatter.format(r) for r in caplog.records] + [r.getMessage() for r in caplog.records]
    assert len(lines) > 20 and any("oauth2.token" in line for line in lines)
    leaked = [line for line in lines for secret in secrets if secret in line]
    assert leaked == []
    assert os.environ.get("AUTHLIB_INSECURE_TRANSPORT") is None


# --- the whole desk -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_run_once_reads_and_answers_over_oauth2(dovecot, imap_user, token_endpoint, oauth_smtp, tmp_path: Path, db_url: str) -> None:
    from tests.conftest import ACK_ALL, write_config
    from tests.support.cli import run_mailbot

    cfg = write_config(tmp_path / "mailbot.toml", {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef",
                    "support_address": "support@example.com"},
        "rules": {"dir": str(ACK_ALL)},
        "logging": {"level": "debug"},
        "smtp": smtp_section(oauth_smtp, token_endpoint, imap_user),
        "imap": [oauth_account(dovecot, imap_user, **client_credentials(token_endpoint, imap_user))],
    })
    # Connected while the mailbox is empty, so what arrives next is new mail (dated now: the CLI runs on the system clock).
    assert run_mailbot(cfg, "poll", "--history-only").returncode == 0
    append(dovecot, imap_user, sent_now(customer_mail("c@customer.example", "my license does not work")))
    result = run_mailbot(cfg, "run", "--once")
    assert result.returncode == 0, result.stderr
    [ack] = oauth_smtp.handler.received
    assert ack.rcpt_tos == ["c@customer.example"]
    assert oauth_smtp.handler.signed_in == [("OAUTHBEARER", imap_user.name)]
    assert dovecot_logins(dovecot, imap_user) == ["OAUTHBEARER", "OAUTHBEARER"]  # connecting, then the run
    assert CLIENT_SECRET not in result.stderr and all(i.access_token not in result.stderr for i in token_endpoint.issued)
