"""Whether the daemon's jobs make progress: per-job back-off after failures, and which jobs are stuck or overdue.

Pure bookkeeping on monotonic seconds passed in by the caller; the daemon pings the systemd watchdog only while
`stalled(now)` is empty, so a job hung in a thread gets the service restarted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class JobState:
    interval: float
    running_since: float | None = None
    last_progress: float | None = None  # the last time a running job said it was alive (between items)
    last_turn: float | None = None  # the last time the job ended a turn (ran, or was legitimately skipped)
    failures: int = 0  # consecutive failed turns
    next_try: float = 0.0  # no turn before this (back-off after failures)


class JobHealth:
    def __init__(self, started: float, stall_seconds: float, backoff_cap: float) -> None:
        self.started = started
        self.stall_seconds = stall_seconds
        self.backoff_cap = backoff_cap
        self.jobs: dict[str, JobState] = {}

    def add(self, name: str, interval: float) -> None:
        self.jobs[name] = JobState(interval)

    def may_run(self, name: str, now: float) -> bool:
        """False while the job waits out its back-off (a legitimate wait: it counts as a turn)."""
        job = self.jobs[name]
        if now < job.next_try:
            job.last_turn = now
            return False
        return True

    def begin(self, name: str, now: float) -> None:
        job = self.jobs[name]
        job.running_since = job.last_progress = now

    def progress(self, name: str, now: float) -> None:
        job = self.jobs.get(name)  # `run --once` runs jobs without tracking them
        if job is not None:
            job.last_progress = now

    def end(self, name: str, now: float, ok: bool) -> float:
        """Record the end of a turn; returns the back-off in seconds before the next one (0 after success)."""
        job = self.jobs[name]
        job.running_since, job.last_turn = None, now
        if ok:
            job.failures, job.next_try = 0, 0.0
            return 0.0
        job.failures += 1
        delay = min(job.interval * 2.0 ** (job.failures - 1), max(self.backoff_cap, job.interval))
        job.next_try = now + delay
        return delay

    def waited(self, name: str, now: float) -> None:
        """The job's turn came and it rightly did nothing (the database is down and being probed)."""
        self.jobs[name].last_turn = now

    def stalled(self, now: float) -> list[tuple[str, float]]:
        """Jobs hung inside a turn (no progress for stall_seconds) or whose turns stopped coming, with how long."""
        found = []
        for name, job in self.jobs.items():
            if job.running_since is not None:
                quiet = now - (job.last_progress or job.running_since)
                if quiet > self.stall_seconds:
                    found.append((name, quiet))
            else:
                since = now - (job.last_turn if job.last_turn is not None else self.started)
                if since > job.interval + self.stall_seconds:
                    found.append((name, since))
        return found
