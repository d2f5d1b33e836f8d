"""Server credentials in a customer's message: FTP/SFTP/SSH/database/admin logins with their passwords.

Found so the ticket can be marked, the customer reminded to change them, and the passwords redacted from
the stored messages later. Only the secret itself is redacted; the rest of the message stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "password: s3cret", "pass = s3cret", "пароль: s3cret", "pwd s3cret", "passwort: s3cret"
_LABELLED = re.compile(
    r"(?im)(?:^|[\s(,;])(?:password|passwd|pass|pwd|passwort|mot de passe|contraseña|пароль|парол)"
    r"[^\S\r\n]*(?:[:=–—]|-)[^\S\r\n]*(?P<secret>[^\s\"'<>]{3,128})"
)
# ftp://user:secret@host, mysql://user:secret@host/db, sftp://user:secret@host
_URL = re.compile(r"(?i)\b(?:s?ftp|ftps|ssh|mysql|mariadb|postgres(?:ql)?|mongodb|redis|smtp|imap|https?)://[^\s:/@]+:(?P<secret>[^\s@/]{3,128})@")
# "login: admin / pass: s3cret" on one line, "admin / s3cret" after a credentials word
_PAIR = re.compile(
    r"(?im)\b(?:login|user(?:name)?|логин|пользователь)\b[^\S\r\n]*[:=][^\S\r\n]*\S+[^\S\r\n]*[/,;|][^\S\r\n]*(?P<secret>[^\s\"'<>]{3,128})\s*$"
)
# Words that tell the labelled match what kind of access it is.
_KINDS = [
    ("ssh", re.compile(r"(?i)\b(ssh|sftp|root@)")),
    ("ftp", re.compile(r"(?i)\bftps?\b")),
    ("database", re.compile(r"(?i)\b(mysql|mariadb|postgres|database|db|phpmyadmin|база данных|бд)\b")),
    ("admin", re.compile(r"(?i)\b(admin|wp-admin|administrator|админ|панел)")),
    ("hosting", re.compile(r"(?i)\b(cpanel|plesk|ispmanager|hosting|хостинг)")),
]
REDACTED = "[password removed]"
HIDDEN = "[password hidden]"  # in mail mailbot sends: the stored copy keeps the secret until its redaction time
_NOT_SECRETS = {"reset", "forgot", "forgotten", "change", "changed", "expired", "field", "manager", "protected", "required", "recovery", "policy"}


@dataclass(frozen=True)
class SecretsFound:
    kinds: tuple[str, ...]  # ftp, ssh, database, admin, hosting, or "login"
    secrets: tuple[str, ...]


def find(text: str) -> SecretsFound | None:
    """The credentials in `text`, or None. A bare mention of a password ("I forgot my password") is not one."""
    secrets: list[str] = []
    for pattern in (_URL, _LABELLED, _PAIR):
        for m in pattern.finditer(text):
            value = m.group("secret").rstrip(".,;)]")
            if value.lower() in _NOT_SECRETS or value.startswith("[") or len(value) < 3:
                continue
            if value not in secrets:
                secrets.append(value)
    if not secrets:
        return None
    kinds = tuple(name for name, pattern in _KINDS if pattern.search(text)) or ("login",)
    return SecretsFound(kinds=kinds, secrets=tuple(secrets))


def redact(text: str, secrets: tuple[str, ...], marker: str = REDACTED) -> tuple[str, int]:
    """`text` with every occurrence of the secrets replaced; returns the text and how many were replaced."""
    count = 0
    for secret in sorted(secrets, key=len, reverse=True):
        occurrences = text.count(secret)
        if occurrences:
            text = text.replace(secret, marker)
            count += occurrences
    return text, count


def hide(text: str, secrets: tuple[str, ...]) -> str:
    """`text` as mail mailbot sends may show it: every secret masked."""
    return redact(text, secrets, HIDDEN)[0] if secrets else text


def text_of(payload: bytes, content_type: str) -> str | None:
    """The text of a text attachment (a log, a config file), where secrets may hide too; None for other files."""
    if not content_type.lower().startswith("text/") and content_type.lower() not in ("application/json", "application/xml"):
        return None
    return payload.decode("utf-8", "replace")


def find_in_mail(subject: str, text: str, attachments: tuple[tuple[bytes, str], ...] = ()) -> SecretsFound | None:
    """The credentials anywhere a customer may type them: the subject, the text, text attachments."""
    pieces = [subject, text, *(t for payload, ctype in attachments if (t := text_of(payload, ctype)) is not None)]
    return find("\n".join(pieces))
