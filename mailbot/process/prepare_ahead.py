"""Parse and analyse a claim batch ahead of filing: the worker process uses the second core while this one files.

With the analysis worker (`[processing] isolate = true`), a thread of the daemon hands the batch's messages to
the worker (several ahead, so it never waits between messages) and queues the results, so parsing the next
messages overlaps filing this one. The thread mostly waits on the worker's pipe, so it takes little CPU from
the filing thread; the time limit, the dying worker and the daemon stopping are handled by the analyzer
exactly as for one message. Memory stays bounded by the claim batch: its raw bytes are already in memory, and
its analyses wait to be filed. The runner claims the next batches while it files this one (runner.py:
AHEAD_BATCHES); each batch's thread takes the worker over once the batch before it has handed over all of its
messages, so the worker works through them in order and waits neither for the end of a batch nor for filing.

In-process (`isolate = false`) there is no second core to use: `take` analyses the next messages itself,
before the caller opens its transaction, so no lock is held while thinking either way.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence

from mailbot.process.analysis_worker import Analyzer, Attempt


_POLL_SECONDS = 0.05


class PrepareAhead:
    def __init__(self, analyzer: Analyzer, raws: Sequence[bytes], should_stop: Callable[[], bool], after: PrepareAhead | None = None) -> None:
        self._analyzer = analyzer
        self._raws = raws
        self._should_stop = should_stop
        self._after: PrepareAhead | None = None  # the batch before this one, until the worker has all of its messages
        self._taken = 0
        self._abandoned = threading.Event()
        self._fed = threading.Event()  # every message of this batch is with the worker or answered, or it was given up
        self._ready: queue.Queue[Attempt] = queue.Queue()  # at most the batch: the worker never waits for filing
        self._thread: threading.Thread | None = None
        if analyzer.parallel and len(raws) > 1:
            self._after = after
            self._thread = threading.Thread(target=self._feed, name="mailbot-prepare", daemon=True)
            self._thread.start()
        else:  # `take` analyses its message itself (holding no batch before it); the batch after it need not wait
            self._fed.set()

    @property
    def left(self) -> int:
        """How many messages of the batch have not been taken yet."""
        return len(self._raws) - self._taken

    def _feed(self) -> None:
        try:
            self._feed_in_turn()
        finally:
            self._fed.set()

    def _stopped(self) -> bool:
        return self._should_stop() or self._abandoned.is_set()

    def _feed_in_turn(self) -> None:
        stop = self._stopped
        while self._after is not None and not self._after._fed.wait(_POLL_SECONDS):
            if stop():
                return
        self._after = None  # nothing more to wait for; the batch before may be freed
        fed = 0
        while fed < len(self._raws):
            attempts = self._analyzer.prepare_all(self._raws[fed:], stop)
            try:
                for attempt in attempts:
                    if not self._put(attempt) or attempt.interrupted:
                        return
                    fed += 1
            except Exception as exc:  # the analyzer reports failures as attempts; this is its own bug
                if not self._put(Attempt(failure=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")):
                    return
                fed += 1
            finally:
                attempts.close()

    def _put(self, attempt: Attempt) -> bool:
        """Queue a result; False when the batch was abandoned."""
        if self._abandoned.is_set():
            return False
        self._ready.put(attempt)
        return True

    def take(self, most: int, linger: float) -> list[Attempt]:
        """The next prepared messages in batch order: the first one (waited for), then those ready within
        `linger` seconds, at most `most`. Empty when the batch is used up. An interrupted attempt ends the list."""
        if self.left <= 0:
            return []
        if self._thread is None:
            return self._take_here(most)
        out = [self._ready.get()]
        deadline = time.monotonic() + linger
        while len(out) < min(most, self.left) and not out[-1].interrupted:
            try:
                out.append(self._ready.get(timeout=max(deadline - time.monotonic(), 0.0)))
            except queue.Empty:
                break
        self._taken += len(out)
        return out

    def _take_here(self, most: int) -> list[Attempt]:
        out: list[Attempt] = []
        while len(out) < most and self._taken < len(self._raws):
            out.append(self._analyzer.prepare(self._raws[self._taken], self._should_stop))
            self._taken += 1
            if out[-1].interrupted:
                break
        return out

    def close(self) -> None:
        """Stop handing out messages. With messages still at the worker, the worker is stopped and replaced
        on the next use (their answers would belong to no one); the claims are the caller's to give back."""
        self._abandoned.set()
        if self._thread is not None:
            self._thread.join()
