"""Fault points for the crash-safety and watchdog tests: MAILBOT_CRASH_AT=name[:n] SIGKILLs the process the n-th
time it passes `name`; MAILBOT_HANG_AT=name[:n] blocks that thread there for good (a job stuck in a thread).
Unset (always, in production) each is one dictionary lookup."""

from __future__ import annotations

import os
import signal
import threading


def _parse(variable: str) -> tuple[str, int]:
    target, _, count = os.environ.get(variable, "").partition(":")
    return target, int(count or 1)


_TARGET, _remaining = _parse("MAILBOT_CRASH_AT")
_HANG_TARGET, _hang_remaining = _parse("MAILBOT_HANG_AT")


def reached(name: str) -> None:
    global _remaining, _hang_remaining
    if _HANG_TARGET and name == _HANG_TARGET:
        _hang_remaining -= 1
        if _hang_remaining <= 0:
            threading.Event().wait()  # never set
    if not _TARGET or name != _TARGET:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
