"""`token_command`: a command that prints an access token (as msmtp's passwordeval and isync's PassCmd run
one), so helpers such as oama or mutt_oauth2.py can keep the tokens. It runs at every sign-in; the helper caches."""

from __future__ import annotations

import logging
import subprocess

from mailbot.logs import log
from mailbot.signin.access_tokens import AccessToken, SignInFailed

logger = logging.getLogger("mailbot.signin")


class CommandGrant:
    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout

    @property
    def description(self) -> str:
        return f"token_command {self.command!r}"

    def fetch(self) -> AccessToken:
        try:
            done = subprocess.run(
                self.command, shell=True, capture_output=True, timeout=self.timeout, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SignInFailed(f"token_command did not finish within {self.timeout:g} s", temporary=True) from None
        except OSError as exc:
            raise SignInFailed(f"token_command cannot be run: {exc.strerror}") from None
        if done.returncode != 0:
            # Its error output, never its standard output (that is where a token would be).
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SignInFailed(f"token_command exited with status {done.returncode}" + (f": {said[0][:200]}" if said else ""))
        lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
        if not lines or not lines[0].strip():
            raise SignInFailed("token_command printed nothing (it must print the access token)")
        log(logger, logging.DEBUG, "oauth2.token", grant="command")
        return AccessToken(lines[0].strip(), expires_in=0.0)
