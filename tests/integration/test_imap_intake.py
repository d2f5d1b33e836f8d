"""IMAP intake against a real Dovecot: TLS modes, folders, batches, flag/move, UIDVALIDITY, reconnects."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.config import Config
from mailbot.intake.imap import ImapSource
from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Inbound, InboundRaw, MailboxCursor
from mailbot.time_source import FixedClock
from tests.conftest import data, imap_section
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]  # starts processes


@pytest.fixture
def db(make_config) -> Iterator[sessionmaker[Session]]:
    config: Config = make_config()
    engine = make_engine(config.database_url)
    yield session_factory(engine)
    engine.dispose()


def source_for(make_config, dovecot: Dovecot, user: ImapUser, sessions, clock, **extra) -> ImapSource:
    config: Config = make_config(imap=[imap_section(dovecot, user, **extra)])
    return ImapSource(config.settings.imap[0], sessions, clock)


def client_for(dovecot: Dovecot, user: ImapUser) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10)
    c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
    c.login(user.name, user.password)
    return c


def stored(sessions) -> list[Inbound]:
    with unit_of_work(sessions) as s:
        return list(s.scalars(select(Inbound).order_by(Inbound.id)).all())


def append(dovecot: Dovecot, user: ImapUser, *raws: bytes, folder: str = "INBOX") -> None:
    with client_for(dovecot, user) as c:
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for raw in raws:
            c.append(folder, raw)


def test_starttls_fetch_in_batches_leaves_mail_unseen(dovecot, imap_user, db, make_config, clock: FixedClock) -> None:
    raws = [customer_mail(f"c{i}@customer.example", f"question {i}") for i in range(7)]
    append(dovecot, imap_user, *raws)
    src = source_for(make_config, dovecot, imap_user, db, clock, batch_size=3)
    result = src.poll()
    src.close()
    assert result.ok and result.stored == 7
    rows = stored(db)
    assert [r.uid for r in rows] == list(range(1, 8))
    # Bytes are kept exactly as the server sent them (CRLF).
    with unit_of_work(db) as s:
        first = s.get_one(InboundRaw, rows[0].id).raw
    assert first.endswith(b"\r\n") and first.replace(b"\r\n", b"\n") == raws[0].replace(b"\r\n", b"\n")
    with unit_of_work(db) as s:
        cursor = s.scalars(select(MailboxCursor)).one()
        assert cursor.last_uid == 7
    with client_for(dovecot, imap_user) as c:
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags(list(range(1, 8)))
        assert all(b"\\Seen" not in f for f in flags.values())  # humans may share this mailbox
    # Polling again fetches nothing new; a new message is fetched alone.
    src = source_for(make_config, dovecot, imap_user, db, clock, batch_size=3)
    assert src.poll().stored == 0
    append(dovecot, imap_user, customer_mail("late@customer.example", "late"))
    assert src.poll().stored == 1
    src.close()


def test_implicit_tls(dovecot, imap_user, db, make_config, clock) -> None:
    append(dovecot, imap_user, data("plain.eml"))
    src = source_for(make_config, dovecot, imap_user, db, clock, security="tls", port=dovecot.tls_port)
    assert src.poll().stored == 1
    src.close()


def test_certificate_is_verified(dovecot, imap_user, db, make_config, clock) -> None:
    append(dovecot, imap_user, data("plain.eml"))
    # Without the test CA the throw-away certificate is not trusted: no login, nothing stored.
    config = make_config(imap=[imap_section(dovecot, imap_user, security="tls", port=dovecot.tls_port, ca_file=None)])
    src = ImapSource(config.settings.imap[0], db, clock)
    result = src.poll()
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert stored(db) == []


@pytest.fixture(scope="module")
def plain_dovecot() -> Iterator[Dovecot]:
    server = Dovecot(tls=False).start()
    yield server
    server.destroy()


def test_starttls_missing_is_refused_not_downgraded(plain_dovecot: Dovecot, db, make_config, clock) -> None:
    user = plain_dovecot.add_user()
    plain_dovecot.deliver(user, data("plain.eml"))
    config = make_config(imap=[imap_section(plain_dovecot, user)])
    src = ImapSource(config.settings.imap[0], db, clock)
    result = src.poll()
    assert not result.ok and "does not offer STARTTLS" in (result.error or "")
    assert stored(db) == []
    # Only an explicit opt-in allows plaintext.
    config = make_config(imap=[imap_section(plain_dovecot, user, security="plain", allow_plaintext=True)])
    src = ImapSource(config.settings.imap[0], db, clock)
    assert src.poll().stored == 1
    src.close()


def test_several_folders(dovecot, imap_user, db, make_config, clock) -> None:
    append(dovecot, imap_user, customer_mail("a@customer.example", "inbox"))
    append(dovecot, imap_user, customer_mail("b@customer.example", "billing"), folder="Billing")
    src = source_for(make_config, dovecot, imap_user, db, clock, folders=["INBOX", "Billing"])
    result = src.poll()
    src.close()
    assert [(f.folder, f.stored) for f in result.folders] == [("INBOX", 1), ("Billing", 1)]
    assert sorted(r.folder for r in stored(db)) == ["Billing", "INBOX"]


def test_flag_after_commit(dovecot, imap_user, db, make_config, clock) -> None:
    append(dovecot, imap_user, customer_mail("a@customer.example", "one"), customer_mail("b@customer.example", "two"))
    src = source_for(make_config, dovecot, imap_user, db, clock, after_fetch="flag")
    assert src.poll().stored == 2
    src.close()
    with client_for(dovecot, imap_user) as c:
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags([1, 2])
        assert all(b"$MailbotFiled" in f and b"\\Seen" not in f for f in flags.values())


def test_move_after_commit(dovecot, imap_user, db, make_config, clock) -> None:
    append(dovecot, imap_user, *[customer_mail(f"c{i}@customer.example", f"q{i}") for i in range(5)])
    src = source_for(make_config, dovecot, imap_user, db, clock, after_fetch="move", batch_size=2)
    result = src.poll()
    src.close()
    assert result.stored == 5 and result.folders[0].settled == 5
    with client_for(dovecot, imap_user) as c:
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
        assert c.select_folder("Processed")[b"EXISTS"] == 5


def test_uidvalidity_change_rescans_without_duplicates(dovecot, imap_user, db, make_config, clock) -> None:
    raws = [customer_mail(f"c{i}@customer.example", f"q{i}") for i in range(3)]
    append(dovecot, imap_user, *raws, folder="Queue")
    src = source_for(make_config, dovecot, imap_user, db, clock, folders=["Queue"])
    assert src.poll().stored == 3
    # The folder is recreated (a server migration, a restore): new UIDVALIDITY, the same mail plus one new.
    with client_for(dovecot, imap_user) as c:
        old = c.select_folder("Queue")[b"UIDVALIDITY"]
        c.close_folder()
        c.delete_folder("Queue")
    append(dovecot, imap_user, *raws, customer_mail("new@customer.example", "new"), folder="Queue")
    with client_for(dovecot, imap_user) as c:
        assert c.select_folder("Queue")[b"UIDVALIDITY"] != old
    result = src.poll()
    src.close()
    assert result.folders[0].rescanned
    assert result.stored == 1
    assert len(stored(db)) == 4


def test_connection_loss_backs_off_and_keeps_the_cursor(db, make_config, clock: FixedClock, tmp_path: Path) -> None:
    server = Dovecot().start()
    try:
        user = server.add_user()
        server.deliver(user, customer_mail("a@customer.example", "before"))
        src = source_for(make_config, server, user, db, clock)
        assert src.poll().stored == 1
        server.stop()  # the server goes away, with the session our source holds open
        failed = src.poll()
        assert not failed.ok and failed.error
        # Backing off: a poll within the delay does not even try.
        assert src.poll().error == "waiting to reconnect"
        server.start()
        server.deliver(user, customer_mail("b@customer.example", "after"))
        clock.advance(timedelta(seconds=2))
        result = src.poll()
        assert result.ok and result.stored == 1
        with unit_of_work(db) as s:
            assert s.scalar(select(func.count()).select_from(Inbound)) == 2
            assert s.scalars(select(MailboxCursor.last_uid)).one() == 2
        src.close()
    finally:
        server.destroy()
