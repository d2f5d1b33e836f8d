"""Cap glibc's malloc arenas: each busy thread (intake, filing, the worker's feeder) would otherwise get its own."""

from __future__ import annotations

import ctypes
import os
import sys

_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
ARENAS = 1  # Python allocates small objects itself under its own lock: one arena costs no speed measured


def cap_malloc_arenas(count: int = ARENAS) -> bool:
    """Limit glibc to `count` malloc arenas, unless the operator chose with MALLOC_ARENA_MAX. Each arena keeps
    freed memory for its thread; with one per thread a daemon's RSS grows by several MiB per thread for
    nothing. Returns whether the limit was set (False elsewhere than glibc)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no such knob
        return False
    return bool(mallopt(_M_ARENA_MAX, count))
