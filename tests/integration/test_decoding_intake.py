"""Every decoding sample through real intake (Maildir → `poll --once` → database), on SQLite and PostgreSQL:
each is filed with the expected subject, sender and text; a reused Message-ID files a second message with an
event; a copy of the same message is a duplicate; a repaired sender is answered; very large and many-part
mail is filed with a note."""

from __future__ import annotations

import base64
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Attachment, Event, Inbound, Outbox, TicketMessage
from tests.conftest import ACK_ALL, DATA, write_config
from tests.support.cli import run_mailbot
from tests.support.maildir import deliver_to_maildir

SAMPLES = DATA / "decoding"
EXPECTED = {e["file"]: e for e in tomllib.loads((SAMPLES / "expected.toml").read_text(encoding="utf-8"))["message"]}
# The samples of one desk language; the others are filed by a desk of theirs below.
WESTERN = [name for name, e in EXPECTED.items() if e.get("language", "en") in ("en", "de")]


def poll(tmp_path: Path, db_url: str, files: list[tuple[str, bytes]], language: str = "en", **intake: Any) -> None:
    maildir = tmp_path / "Maildir"
    for i, (name, raw) in enumerate(files):
        deliver_to_maildir(maildir, raw, f"{i}.{name}.host")
    sections: dict[str, Any] = {
        "mailbot": {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"},
        "maildir": [{"name": "local", "path": str(maildir)}],
        "rules": {"dir": str(ACK_ALL)},
        "replies": {"default_language": language},
    }
    if intake:
        sections["intake"] = intake
    cfg = write_config(tmp_path / "m.toml", sections)
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 0, result.stdout + result.stderr


def rows(db_url: str) -> tuple[list[Inbound], list[TicketMessage], list[Event], list[Outbox], list[Attachment]]:
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            return (
                list(s.scalars(select(Inbound).order_by(Inbound.id))),
                list(s.scalars(select(TicketMessage).where(TicketMessage.direction == "in").order_by(TicketMessage.id))),
                list(s.scalars(select(Event).order_by(Event.id))),
                list(s.scalars(select(Outbox).order_by(Outbox.id))),
                list(s.scalars(select(Attachment).order_by(Attachment.id))),
            )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_every_sample_is_filed_as_expected(tmp_path: Path, db_url: str) -> None:
    # reused-id-copy.eml: reused-id-1.eml again, through a second mailbox, with its white space changed
    poll(tmp_path, db_url, [(n, (SAMPLES / n).read_bytes()) for n in [*WESTERN, "reused-id-copy.eml"]])
    inbound, messages, events, outbox, attachments = rows(db_url)
    assert all(r.status in ("filed", "duplicate") for r in inbound), [(r.id, r.status, r.last_error) for r in inbound]
    by_mid = {m.message_id: m for m in messages}
    for name in WESTERN:
        exp = EXPECTED[name]
        raw = (SAMPLES / name).read_bytes()
        mid = raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()
        stored = [m for m in messages if m.message_id == mid]
        assert stored, name
        m = stored[0] if "reused" not in name else by_mid[mid]
        assert m.subject == exp["subject"], name
        assert m.sender == exp["sender"] and m.sender_name == exp["sender_name"], name
        if "reused" not in name:
            assert m.text.strip() == exp["body"], name
    # Classes 1: a reused Message-ID with new content is a second message; the copy is a duplicate.
    alerts = [m for m in messages if m.message_id == "alert-4711@monitor.example"]
    assert sorted(m.text.strip() for m in alerts) == ["Disk /var on web-1 is 91% full.", "Disk /var on web-2 is 97% full."]
    assert len({m.content_hash for m in alerts}) == 2
    kinds = [e.kind for e in events]
    assert kinds.count("message.id_reused") == 1 and kinds.count("message.duplicate") == 1
    assert sorted(r.status for r in inbound if r.message_id == "alert-4711@monitor.example") == ["duplicate", "filed", "filed"]
    # Class 7: the uuencoded file is an attachment; class 10: so is the file after an early closing boundary.
    assert sorted(a.filename for a in attachments) == ["photo.png", "server-log.bin"]
    # Class 9: repaired senders are answered, and the message says what was repaired.
    acked = {r for o in outbox if o.kind == "ack" for r in o.recipients}
    for addr in ("nina@kunde.example", "test@kunde.example", "john.doe@kunde.example"):
        assert addr in acked, (addr, acked)
    root_dot = next(m for m in messages if m.sender == "nina@kunde.example")
    assert root_dot.decoding and any("root dot" in note for note in root_dot.decoding)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ru", "ja"])
def test_desk_language_chooses_the_fallback_charsets(tmp_path: Path, db_url: str, language: str) -> None:
    names = [n for n, e in EXPECTED.items() if e.get("language") == language]
    poll(tmp_path, db_url, [(n, (SAMPLES / n).read_bytes()) for n in names], language=language)
    _, messages, _, _, _ = rows(db_url)
    assert len(messages) == len(names)
    for m in messages:
        exp = next(e for e in EXPECTED.values() if e["sender"] == m.sender)
        assert (m.subject, m.text.strip()) == (exp["subject"], exp["body"])
        assert "\ufffd" not in m.subject + m.text


@pytest.mark.slow
def test_large_and_many_part_mail_is_filed_with_a_note(tmp_path: Path, db_url: str) -> None:
    blob = os.urandom(300_000)
    big = (
        b"From: Big <big@kunde.example>\nTo: support@example.com\nSubject: big one\nMessage-ID: <big-1@kunde.example>\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n"
        + b"word " * 40_000 + b"\n--XX\nContent-Type: application/octet-stream; name=blob.bin\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(blob) + b"--XX--\n"
    )
    parts = b"".join(b"--P\nContent-Type: text/plain\n\npart %d\n" % i for i in range(3000))
    many = b"From: Many <many@kunde.example>\nSubject: many parts\nMessage-ID: <many-1@kunde.example>\nContent-Type: multipart/mixed; boundary=P\n\n" + parts + b"--P--\n"
    poll(tmp_path, db_url, [("big", big), ("many", many)], max_message_bytes=256 * 1024, max_text_chars=50_000, max_parts=100)
    inbound, messages, events, _, attachments = rows(db_url)
    assert [r.status for r in inbound] == ["filed", "filed"]
    big_msg = next(m for m in messages if m.message_id == "big-1@kunde.example")
    assert len(big_msg.text) < 50_300 and "the text is cut at 50,000" in big_msg.text
    [att] = [a for a in attachments if a.ticket_message_id == big_msg.id]
    assert att.filename == "blob.bin" and att.size == len(blob)
    many_msg = next(m for m in messages if m.message_id == "many-1@kunde.example")
    assert "part 99" in many_msg.text and "part 100\n" not in many_msg.text
    received = [e.detail for e in events if e.kind == "message.received"]
    assert any("only the first 100 were read" in d for detail in received for d in detail["defects"])
    assert any("over max_message_bytes" in d for detail in received for d in detail["defects"])


@pytest.mark.slow
def test_tickets_show_full_says_how_a_message_was_decoded(tmp_path: Path, db_url: str) -> None:
    poll(tmp_path, db_url, [("short-cp1251-body.eml", (SAMPLES / "short-cp1251-body.eml").read_bytes())], language="ru")
    result = run_mailbot(tmp_path / "m.toml", "tickets", "show", "1", "--full")
    assert result.returncode == 0, result.stderr
    assert "Спасибо за помощь" in result.stdout
    assert "decoded: text part 1: cp1251 (declared unknown-8bit did not fit; fallback charset)" in result.stdout


@pytest.mark.slow
def test_an_outlook_msg_file_is_quarantined_with_the_reason(tmp_path: Path, db_url: str) -> None:
    raw = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8
    poll(tmp_path, db_url, [("outlook", raw)])
    [row], messages, _, _, _ = rows(db_url)
    assert row.status == "quarantined" and "Outlook .msg" in (row.last_error or "")
    assert messages == []
