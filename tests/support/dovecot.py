"""A real Dovecot IMAP server for tests: own config, free loopback ports, throw-away TLS certificate.

Besides the one test password it accepts OAuth2 bearer tokens (SASL XOAUTH2 and OAUTHBEARER): its `oauth2`
passdb validates JWTs locally (`introspection_mode = local`) with an HMAC key made for this instance, the key
`tests.support.token_endpoint` signs its access tokens with.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAIL_USER = "nobody"
MAIL_GROUP = "nogroup"
PASSWORD = "secret-pw"
# The key id in the header of every JWT the test token endpoint issues; Dovecot finds the key by it.
OAUTH2_KEY_ID = "mailbot-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Dovecot did not start listening on 127.0.0.1:{port}")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class ImapUser:
    name: str
    password: str
    maildir: Path


class Dovecot:
    """One Dovecot instance. `tls=True` offers STARTTLS on the plain port and implicit TLS on another."""

    _delivered = 0

    def __init__(self, tls: bool = True) -> None:
        if not os.path.exists(DOVECOT):
            raise RuntimeError("dovecot is not installed: run scripts/install-dovecot.sh (the test command does)")
        # Dovecot's unprivileged processes must reach these files, so not under pytest's private tmp dirs.
        root = Path(tempfile.mkdtemp(prefix="mailbot-dovecot-"))
        self.root = root
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.cert: Path | None = None
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        self.mail_root = root / "mail"
        self.mail_root.mkdir(exist_ok=True)
        shutil.chown(self.mail_root, MAIL_USER, MAIL_GROUP)
        self.conf = root / "dovecot.conf"
        # The HS256 key Dovecot validates access tokens with (the token endpoint signs with the same).
        self.oauth2_key = secrets.token_bytes(32)

    def _config(self) -> str:
        r = self.root
        ssl = "ssl = no"
        if self.tls:
            cert, key = make_certificate(r)
            self.cert = cert
            os.chmod(key, 0o644)
            ssl = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
        return f"""
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
listen = 127.0.0.1
protocols = imap
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
# Tests refuse credentials on purpose; answer at once rather than after the default two seconds.
auth_failure_delay = 0
# Log why each sign-in was refused ("oauth2 failed: Local validation failed: Token has expired").
auth_verbose = yes
mail_location = maildir:{self.mail_root}/%u
mail_uid = {MAIL_USER}
mail_gid = {MAIL_GROUP}
first_valid_uid = 1
first_valid_gid = 1
default_login_user = dovenull
default_internal_user = dovecot
# A bearer token is checked by the oauth2 passdb alone: its `email` claim must name the user logging in.
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {r}/dovecot-oauth2.conf.ext
}}
# Every user name logs in with the one test password: each test takes a fresh, empty mailbox.
passdb {{
  driver = static
  mechanisms = plain login
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_GROUP} home={self.mail_root}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
  # Tests refuse credentials on purpose, all from 127.0.0.1: no socket for the auth penalty, so one refusal
  # does not slow the next sign-in down by seconds (the penalty is off when auth cannot reach it).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def _oauth2_config(self) -> str:
        """The oauth2 passdb's settings, and the key file its local validation reads (by azp, alg and kid)."""
        keys = self.root / "oauth2-keys"
        key_file = keys / "default" / "HS256" / OAUTH2_KEY_ID
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(base64.b64encode(self.oauth2_key).decode())
        for path in (keys, keys / "default", key_file.parent):
            os.chmod(path, 0o755)
        os.chmod(key_file, 0o644)
        return f"""
introspection_mode = local
local_validation_key_dict = fs:posix:prefix={keys}/
username_attribute = email
active_attribute =
active_value =
"""

    def start(self) -> "Dovecot":
        (self.root / "dovecot-oauth2.conf.ext").write_text(self._oauth2_config())
        self.conf.write_text(self._config())
        # Dovecot daemonizes; its children would hold captured pipes open forever, so send output to a file.
        with open(self.root / "startup.log", "wb") as out:
            subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        wait_for_port(self.port)
        if self.tls:
            wait_for_port(self.tls_port)
        return self

    def stop(self) -> None:
        self._kill()

    def destroy(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill(self) -> None:
        """Stop the master and every process it started (open client sessions included)."""
        pidfile = self.root / "run" / "master.pid"
        try:
            pid = int(pidfile.read_text().strip())
            group = os.getpgid(pid)
        except (OSError, ValueError):
            return
        # The daemonized master leads its own process group; its children, sessions included, are in it.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def add_user(self, name: str | None = None) -> ImapUser:
        """A fresh, empty mailbox (Dovecot creates it at first login or delivery)."""
        name = name or f"u{uuid.uuid4().hex[:10]}"
        return ImapUser(name=name, password=PASSWORD, maildir=self.mail_root / name)

    def deliver(self, user: ImapUser, raw: bytes, folder: str = "INBOX") -> None:
        """Drop a message straight into the user's Maildir (fast bulk loading; Dovecot indexes it on SELECT)."""
        base = user.maildir if folder == "INBOX" else user.maildir / f".{folder}"
        for sub in ("new", "cur", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        # Dovecot gives out UIDs ordered by the leading number of the file name, read as seconds (and a
        # nanosecond timestamp there overflows its comparison): one "second" per delivery keeps the order.
        Dovecot._delivered += 1
        name = f"{1_700_000_000 + Dovecot._delivered}.M0P{os.getpid()}.{uuid.uuid4().hex[:8]}.test"
        tmp = base / "tmp" / name
        tmp.write_bytes(raw)
        shutil.chown(tmp, MAIL_USER, MAIL_GROUP)
        os.rename(tmp, base / "new" / name)
        for path in (user.maildir, base, base / "new", base / "cur", base / "tmp"):
            shutil.chown(path, MAIL_USER, MAIL_GROUP)
