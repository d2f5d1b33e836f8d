"""Every message of the shared real-world corpus goes through intake without stopping the poll:
each becomes a ticket message or a quarantined row with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Inbound, TicketMessage
from tests.conftest import CORPUS, DATA, imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.maildir import deliver_to_maildir

MESSAGES = sorted(CORPUS.rglob("*.eml")) + sorted(DATA.glob("*.eml"))


def test_corpus_is_present() -> None:
    # CI runs with ../shared beside the checkout; a missing corpus must fail, not pass vacuously.
    assert len(list(CORPUS.rglob("*.eml"))) >= 20, f"corpus not found under {CORPUS}"


def check_all_accounted(db_url: str, expected: int) -> None:
    engine = make_engine(db_url)
    with unit_of_work(session_factory(engine)) as s:
        rows = s.scalars(select(Inbound)).all()
        filed = set(s.scalars(select(TicketMessage.inbound_id).where(TicketMessage.direction == "in")).all())
        assert len(rows) == expected
        for row in rows:
            if row.status == "quarantined":
                assert row.last_error, f"inbound {row.id} quarantined without a reason"
            else:
                assert row.status in ("filed", "duplicate"), (row.id, row.status, row.last_error)
                assert row.status == "duplicate" or row.id in filed
    engine.dispose()


def desk(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {"state_dir": str(tmp_path / "state"), "database_url": db_url, "secret": "test-secret-0123456789abcdef"}


@pytest.mark.slow
def test_corpus_through_maildir(tmp_path: Path, db_url: str) -> None:
    maildir = tmp_path / "Maildir"
    for i, path in enumerate(MESSAGES):
        deliver_to_maildir(maildir, path.read_bytes(), f"{i}.{path.stem}.host")
    cfg = write_config(tmp_path / "m.toml", {"mailbot": desk(tmp_path, db_url), "maildir": [{"name": "local", "path": str(maildir)}]})
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 0, result.stderr
    check_all_accounted(db_url, len(MESSAGES))


@pytest.mark.slow
@pytest.mark.dovecot
def test_corpus_through_imap(dovecot: Dovecot, imap_user: ImapUser, tmp_path: Path, db_url: str) -> None:
    for path in MESSAGES:
        dovecot.deliver(imap_user, path.read_bytes())
    cfg = write_config(tmp_path / "m.toml", {"mailbot": desk(tmp_path, db_url), "imap": [imap_section(dovecot, imap_user)]})
    result = run_mailbot(cfg, "poll", "--once")
    assert result.returncode == 0, result.stderr
    check_all_accounted(db_url, len(MESSAGES))
