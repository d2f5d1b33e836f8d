"""Support may ask for server credentials; the customer is advised to send temporary ones. Whatever they send —
in the subject, the text, a text attachment — mailbot never repeats it in mail it sends, and once the
redaction time has come no copy remains anywhere it stores: every table row, and every file under the state
directory and of the SQLite database, read as bytes. The real daemon, Dovecot, SMTP, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from mailbot.store.db import make_engine
from tests.support.cli import run_mailbot
from tests.support.preset_desk import AGENT, DeskUnderTest, diafan, smtp, to  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

IN_SUBJECT, IN_TEXT, IN_FILE, IN_FOLLOW_UP = "Sub-7Kq2x", "Tmp-9f3kQ!", "Db-44zzQx", "Ftp-55pLm"
SECRETS = (IN_SUBJECT, IN_TEXT, IN_FILE, IN_FOLLOW_UP)


def message_with_credentials() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ирина <irina@site.example>"
    msg["To"] = "support@vendor.example"
    msg["Subject"] = f"Доступ к FTP, пароль: {IN_SUBJECT}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@site.example>"
    msg.set_content(f"Здравствуйте!\nВот доступы к хостингу:\nFTP: ftp.site.example\nлогин: irina\nпароль: {IN_TEXT}\nСпасибо!\n")
    msg.add_attachment(f"mysql://irina:{IN_FILE}@db.site.example/shop\n".encode(), maintype="text", subtype="plain", filename="access.txt")
    return bytes(msg)


def found_in(data: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in data or s.encode("utf-16-le") in data]


def every_row(db_url: str) -> bytes:
    """Every column of every row of every table, as bytes."""
    engine = make_engine(db_url)
    meta = MetaData()
    meta.reflect(engine)
    out = bytearray()
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    out += value if isinstance(value, bytes | memoryview) else str(value).encode()
                    out += b"\0"
    engine.dispose()
    return bytes(out)


def every_file(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()}


def test_credentials_are_masked_in_mail_and_leave_no_copy_after_redaction(diafan: DeskUnderTest) -> None:
    diafan.append(message_with_credentials())
    first = diafan.run("2026-11-06 12:00")  # a Friday: due Monday 12:00 MSK
    ack = to(first, "irina@site.example")[0]
    [note] = to(first, AGENT)
    assert "[password hidden]" in ack.header("Subject") and "[password hidden]" in note.text
    assert "The customer sent credentials: they are masked here" in note.text and "until Friday 20 November" in note.text
    assert "access.txt (text/plain" in note.text and "not attached: it holds credentials" in note.text
    assert note.message.get_content_maintype() != "multipart"  # the file stayed on the ticket

    breach = diafan.run("2026-11-09 13:00")  # nobody answered: the breach notice repeats the (masked) subject
    assert breach and all("[password hidden]" in m.header("Subject") for m in breach)

    quoted = "\n".join("> " + line for line in note.text.splitlines())
    diafan.agent_reply(note, f"Ирина, доступы получили, смотрим.\n\n{quoted}")
    diafan.run("2026-11-09 14:00")
    diafan.write(
        "irina@site.example", f"Re: [#1] Доступ к FTP, пароль: {IN_SUBJECT}",
        f"Забыла: второй FTP, пароль: {IN_FOLLOW_UP}\n\n> пароль: {IN_TEXT}",
    )
    follow_up = diafan.run("2026-11-10 10:00")

    sent = b"".join(m.data for m in diafan.smtp.handler.received)
    assert found_in(sent) == [] and all(found_in(m.text.encode()) == [] for m in diafan.smtp.handler.received)
    assert follow_up and "[password hidden]" in to(follow_up, AGENT)[0].text

    before = every_row(diafan.db_url)
    assert found_in(before) != []  # until the redaction time the ticket keeps them for the agents

    diafan.run("2026-11-25 12:00")  # 15 days after the follow-up: both messages are due

    assert found_in(every_row(diafan.db_url)) == []
    files = every_file(diafan.tmp_path / "state", *diafan.tmp_path.glob("mailbot.db*"))
    assert {name: found_in(data) for name, data in files.items() if found_in(data)} == {}
    assert any(name.endswith("mailbot.db") for name in files) or diafan.db_url.startswith("postgresql")
    assert found_in(diafan.logs.encode()) == []
    shown = run_mailbot(diafan.config, "tickets", "show", "1", "--full")
    assert shown.returncode == 0 and "[password removed]" in shown.stdout and found_in(shown.stdout.encode()) == []
    assert "логин: irina" in shown.stdout  # only the secrets go; the rest of the message stays
