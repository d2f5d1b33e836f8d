"""The contract every mail source keeps: store new mail in the inbound table, committed, and only then
acknowledge it on the server; optionally wake the daemon when mail arrives; say how it is doing.

A new kind of source (Microsoft Graph, the Gmail API, an LMTP or pipe delivery) is one module that implements
`MailSource`, plus its config model; the daemon, the CLI and the status views treat every source alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass
class FolderStats:
    folder: str
    fetched: int = 0
    stored: int = 0
    settled: int = 0  # messages flagged or moved after their bytes were committed
    rescanned: bool = False
    history: int = 0  # fetched messages marked as history (the folder held them when first seen)


@dataclass
class PollResult:
    """What one poll of one source did. `ok` is false when the source could not be read at all."""

    source: str
    ok: bool
    folders: list[FolderStats] = field(default_factory=list)
    error: str | None = None
    backing_off: bool = False  # not tried: waiting out the back-off after an earlier failure
    reused: bool = False  # read over the connection kept from the previous poll

    @property
    def fetched(self) -> int:
        return sum(f.fetched for f in self.folders)

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.folders)

    @property
    def history(self) -> int:
        return sum(f.history for f in self.folders)


@dataclass(frozen=True)
class SourceHealth:
    """The last outcome of a source, for `status` and metrics."""

    name: str
    kind: str
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @property
    def failing(self) -> bool:
        return self.last_error_at is not None and (self.last_success is None or self.last_error_at > self.last_success)


class HealthRecord:
    """Kept by each source: when it last polled successfully, and its last error."""

    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.last_success: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None

    def record(self, result: PollResult, at: datetime) -> PollResult:
        if result.ok:
            self.last_success = at
        elif result.backing_off:
            self.last_error_at = at  # still failing; the reason stays the last real one
        else:
            self.last_error, self.last_error_at = result.error, at
        return result

    def snapshot(self) -> SourceHealth:
        return SourceHealth(self.name, self.kind, self.last_success, self.last_error, self.last_error_at)


class PushWatcher(Protocol):
    """Something that calls back when new mail arrives (IMAP IDLE); polling stays the safety net."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class MailSource(Protocol):
    @property
    def name(self) -> str:
        """Unique among the configured sources; the `source` of every inbound row it stores."""
        ...

    def poll(self, should_stop: Callable[[], bool] = lambda: False, history_only: bool = False) -> PollResult:
        """Store every new message in the inbound table and commit, then acknowledge it on the server (flag,
        move, rename). Never raises for trouble with the server: it is logged, backed off and reported.

        What a folder holds when first seen is stored marked as history (intake/first_sight.py); with
        `history_only`, only that is read, and folders whose history is imported are left alone."""
        ...

    def watcher(self, wake: Callable[[], None]) -> PushWatcher | None:
        """A push watcher that calls `wake` when mail arrives, or None when the source has none."""
        ...

    def health(self) -> SourceHealth: ...

    def close(self) -> None: ...
