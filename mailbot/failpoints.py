"""Crash points for the crash-safety tests: MAILBOT_CRASH_AT=name[:n] SIGKILLs the process the n-th time
it passes `name`. Unset (always, in production) this is one dictionary lookup."""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("MAILBOT_CRASH_AT", "")
_TARGET, _, _COUNT = _SPEC.partition(":")
_remaining = int(_COUNT or 1)


def reached(name: str) -> None:
    global _remaining
    if not _TARGET or name != _TARGET:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
