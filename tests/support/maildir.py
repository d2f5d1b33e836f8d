"""Put mail into a Maildir the way an MTA does, for tests of the Maildir source."""

from __future__ import annotations

import os
from pathlib import Path

from mailbot.intake.maildir import ensure_maildir


def deliver_to_maildir(path: Path, raw: bytes, name: str) -> Path:
    """Deliver `raw` into the Maildir the way an MTA does: write to tmp/, then rename into new/."""
    ensure_maildir(path)
    tmp = path / "tmp" / name
    with open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    final = path / "new" / name
    os.rename(tmp, final)
    return final
