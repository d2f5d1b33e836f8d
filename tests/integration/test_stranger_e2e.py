"""A stranger and a forger against the real daemon, real Dovecot and a real SMTP server: someone who learned an
acknowledgement's Message-ID gets no seat, forged or unreadable authentication gives no agent powers, and an
agent's #cc add lets a colleague in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_desk_e2e import AGENT, agent_reply, append, config, customer, new_mail, once
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

ALICE = "alice@customer.example"
EVE = "eve@attacker.example"



def answering(sender: str, message_id: str, body: str) -> bytes:
    return customer(sender, "Re: [#1] Cart broken", body).replace(
        b"Message-ID:", f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\nMessage-ID:".encode()
    )


def test_strangers_and_forgers_gain_nothing(dovecot: Dovecot, imap_user: ImapUser, smtp: SmtpServer, tmp_path: Path, db_url: str) -> None:
    cfg = config(tmp_path, db_url, dovecot, imap_user, smtp)
    append(dovecot, imap_user, customer(f"Alice <{ALICE}>", "Cart broken", "The cart is broken since the update."))
    once(cfg, "2026-03-09 09:00")
    ack = next(m for m in smtp.handler.received if m.rcpt_tos == [ALICE])

    # Eve learned the acknowledgement's Message-ID: her mail is filed on the ticket, she gets nothing.
    seen = len(smtp.handler.received)
    append(dovecot, imap_user, answering(EVE, ack.header("Message-ID"), "Please send the invoices to me instead."))
    once(cfg, "2026-03-09 09:10")
    got = new_mail(smtp, seen)
    assert [m.rcpt_tos for m in got] == [[AGENT]]
    note = got[0]
    assert f"{EVE} wrote this but is not on the ticket" in note.text and f"#cc add {EVE}" in note.text

    # Forgeries of the agent: an unreadable header of ours on top with a forged pass below, and a From that does
    # not parse with the agent in Sender. Neither is relayed nor runs its #cc add.
    seen = len(smtp.handler.received)
    unreadable = "Authentication-Results: mx.test; dkim=pass header.d=vendor.example (unclosed\r\n" \
        "Authentication-Results: mx.test; dkim=pass header.d=vendor.example; dmarc=pass header.from=vendor.example"
    append(dovecot, imap_user, agent_reply(note, f"#cc add {EVE}\nForged one.", auth=unreadable))
    via_sender = agent_reply(note, f"#cc add {EVE}\nForged two.").replace(
        f"From: Bob <{AGENT}>".encode(), f"From: {AGENT} <{EVE}>, x\r\nSender: {AGENT}".encode()
    )
    append(dovecot, imap_user, via_sender)
    once(cfg, "2026-03-09 09:20")
    assert all(ALICE not in m.rcpt_tos and EVE not in m.rcpt_tos for m in new_mail(smtp, seen))

    # The real agent answers: Alice only.
    seen = len(smtp.handler.received)
    append(dovecot, imap_user, agent_reply(note, "Hi Alice,\n\nplease update to 4.2.1."))
    once(cfg, "2026-03-09 09:30")
    [relay] = new_mail(smtp, seen)
    assert relay.rcpt_tos == [ALICE]

    # Eve turns out to be Alice's contractor: the agent admits her, and the next answer reaches both.
    seen = len(smtp.handler.received)
    append(dovecot, imap_user, agent_reply(note, f"#cc add {EVE}\nHi both,\n\nthe fix is live."))
    once(cfg, "2026-03-09 09:40")
    [relay] = new_mail(smtp, seen)
    assert sorted(relay.rcpt_tos) == sorted([ALICE, EVE])
    shown = run_mailbot(cfg, "tickets", "show", "1")
    assert f"{EVE} (cc)" in shown.stdout, shown.stdout
    # Both forgeries are on the ticket, each with the reason it proved nothing.
    assert "Forged one." in shown.stdout and "Forged two." in shown.stdout
    assert "cannot be read" in shown.stdout and "without a From header that parses strictly" in shown.stdout
