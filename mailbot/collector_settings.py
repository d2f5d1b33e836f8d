"""The garbage collector of a long-running command: young objects are collected in larger, rarer rounds."""

from __future__ import annotations

import gc

# Objects allocated (less those freed) before a young-generation collection: CPython's default is 700. Filing
# keeps a claim batch's messages and analyses alive while it works, so with the default a burst of mail ran
# about 550 collections for 5,000 messages, 4 % of the daemon's CPU (bench/intake.py); with this, 16. Cycles
# are still all collected, only in fewer, larger rounds; nothing is frozen, so what a reload drops is freed.
YOUNG_THRESHOLD = 10_000


def settle_collector() -> None:
    """Young collections run less often (call once, when a daemon or a poll has started)."""
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), older, oldest)
