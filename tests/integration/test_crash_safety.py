"""SIGKILL at exact points between fetch, commit, server update and processing: after a restart every
message is stored exactly once, filed exactly once, and settled on the server exactly once."""

from __future__ import annotations

import signal
import ssl
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Inbound, TicketMessage
from tests.conftest import imap_section, write_config
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail
from tests.support.maildir import deliver_to_maildir

N = 10


def config_file(tmp_path: Path, db_url: str, **sections) -> Path:
    desk = {
        "state_dir": str(tmp_path / "state"),
        "database_url": db_url,
        "secret": "test-secret-0123456789abcdef",
        "support_address": "support@example.com",
    }
    # Retry at once, so a message whose processing was killed is taken again by the next run.
    processing = {"retry_base_seconds": 0, "batch_size": 3}
    return write_config(tmp_path / "mailbot.toml", {"mailbot": desk, "processing": processing, **sections})


def counts(db_url: str) -> tuple[int, int, int, set[str]]:
    engine = make_engine(db_url)
    with unit_of_work(session_factory(engine)) as s:
        inbound = s.scalar(select(func.count()).select_from(Inbound)) or 0
        distinct = s.scalar(select(func.count(func.distinct(Inbound.raw_sha256)))) or 0
        filed = s.scalar(select(func.count()).select_from(TicketMessage).where(TicketMessage.direction == "in")) or 0
        statuses = set(s.scalars(select(Inbound.status)).all())
    engine.dispose()
    return inbound, distinct, filed, statuses


def folder_sizes(dovecot: Dovecot, user: ImapUser) -> dict[str, int]:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as c:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        c.login(user.name, user.password)
        sizes = {}
        for folder in ("INBOX", "Processed"):
            sizes[folder] = c.select_folder(folder)[b"EXISTS"] if c.folder_exists(folder) else 0
        return sizes


def assert_killed(result) -> None:
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.mark.dovecot
@pytest.mark.slow
@pytest.mark.parametrize(
    "crash_at, stored_before",
    [
        ("intake.before_commit:2", 3),  # second batch fetched, not committed
        ("intake.after_commit:1", 3),  # first batch committed, not yet moved on the server
        ("intake.after_commit:3", 9),  # third batch committed, not yet moved
        # Filing runs while intake still fetches: a kill in filing may come before the last batch is stored.
        ("process.after_claim:4", None),  # attempt counted, message not processed
        ("process.before_commit:4", None),  # message processed, transaction not committed
    ],
)
def test_imap_move_survives_sigkill(
    dovecot: Dovecot, imap_user: ImapUser, tmp_path: Path, db_url: str, crash_at: str, stored_before: int | None,
) -> None:
    for i in range(N):
        dovecot.deliver(imap_user, customer_mail(f"c{i}@customer.example", f"question {i}"))
    cfg = config_file(tmp_path, db_url, imap=[imap_section(dovecot, imap_user, after_fetch="move", batch_size=3)])

    killed = run_mailbot(cfg, "poll", "--once", env={"MAILBOT_CRASH_AT": crash_at})
    assert_killed(killed)
    stored = counts(db_url)[0]
    if stored_before is not None:
        assert stored == stored_before
    else:
        assert 3 <= stored <= N  # at least the first batch (filing had begun), at most all
    # Whatever the instant: no message left the server's INBOX before it was stored, and none vanished.
    sizes = folder_sizes(dovecot, imap_user)
    assert sizes["INBOX"] + sizes["Processed"] == N
    assert sizes["Processed"] <= stored

    done = run_mailbot(cfg, "poll", "--once")
    assert done.returncode == 0, done.stderr
    inbound, distinct, filed, statuses = counts(db_url)
    assert (inbound, distinct, filed) == (N, N, N)
    assert statuses == {"filed"}
    assert folder_sizes(dovecot, imap_user) == {"INBOX": 0, "Processed": N}


@pytest.mark.dovecot
@pytest.mark.slow
def test_imap_flag_survives_sigkill_after_commit(dovecot: Dovecot, imap_user: ImapUser, tmp_path: Path, db_url: str) -> None:
    for i in range(4):
        dovecot.deliver(imap_user, customer_mail(f"c{i}@customer.example", f"question {i}"))
    cfg = config_file(tmp_path, db_url, imap=[imap_section(dovecot, imap_user, after_fetch="flag", batch_size=2)])
    assert_killed(run_mailbot(cfg, "poll", "--once", env={"MAILBOT_CRASH_AT": "intake.after_commit:1"}))
    assert run_mailbot(cfg, "poll", "--once").returncode == 0
    assert counts(db_url)[:3] == (4, 4, 4)
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as c:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        c.login(imap_user.name, imap_user.password)
        c.select_folder("INBOX", readonly=True)
        assert c.search(["UNKEYWORD", "$MailbotFiled"]) == []


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", ["intake.before_commit:1", "intake.after_commit:1", "process.before_commit:2"])
def test_maildir_survives_sigkill(tmp_path: Path, db_url: str, crash_at: str) -> None:
    maildir = tmp_path / "Maildir"
    for i in range(5):
        deliver_to_maildir(maildir, customer_mail(f"c{i}@customer.example", f"q{i}"), f"{i}.test.host")
    cfg = config_file(tmp_path, db_url, maildir=[{"name": "local", "path": str(maildir)}])
    assert_killed(run_mailbot(cfg, "poll", "--once", env={"MAILBOT_CRASH_AT": crash_at}))
    if crash_at.startswith("intake"):
        assert len(list((maildir / "new").iterdir())) == 5  # nothing leaves new/ before its commit
    assert run_mailbot(cfg, "poll", "--once").returncode == 0
    assert counts(db_url)[:3] == (5, 5, 5)
    assert list((maildir / "new").iterdir()) == []
    assert len(list((maildir / "cur").iterdir())) == 5
