"""`tickets show --full` keeps a customer message whole and marks what reply stripping folds, with the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.support.cli import run_mailbot
from tests.support.maildir import deliver_to_maildir

REPLY = """\
From: Tom Baker <tom.baker@brightwater.example>
To: support@example.com
Subject: Re: Licence activation
Message-ID: <reply-1@brightwater.example>
Date: Mon, 09 Mar 2026 11:00:00 +0000
Content-Type: text/plain; charset=utf-8

Thanks, the licence is active now.

Sent from my iPhone

On Mon, 9 Mar 2026 at 10:00, Support <support@example.com> wrote:

> Please deactivate the old workstation first.
"""


@pytest.mark.slow
def test_full_view_marks_folded_history_with_its_rule(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    deliver_to_maildir(maildir, REPLY.encode(), "1.h")
    cfg = write_config(
        tmp_path / "m.toml",
        {
            "mailbot": {"state_dir": str(tmp_path / "s"), "secret": "test-secret-0123456789abcdef"},
            "maildir": [{"name": "local", "path": str(maildir)}],
        },
    )
    assert run_mailbot(cfg, "poll", "--once").returncode == 0

    shown = run_mailbot(cfg, "tickets", "show", "1", "--full")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "    Thanks, the licence is active now." in out
    assert "[folded, 1 line, rule client-footer: a mail client's footer ('Sent from my iPhone')]" in out
    assert "[folded, 3 lines, rule attribution: an attribution line ('On … wrote:') and the history below it]" in out
    assert "| > Please deactivate the old workstation first." in out  # the stored text is all there

    short = run_mailbot(cfg, "tickets", "show", "1")
    assert "> Please deactivate the old workstation first." in short.stdout and "[folded" not in short.stdout
