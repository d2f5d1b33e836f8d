"""sd_notify for Type=notify units: READY, RELOADING, STOPPING, STATUS and the watchdog, over $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time


def notify(*states: str) -> bool:
    """Send `states` (e.g. "READY=1") to systemd; a no-op returning False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract socket namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall("\n".join(states).encode())
        except OSError:
            return False
    return True


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd expects a ping within, in seconds, if the unit sets WatchdogSec."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


def reloading() -> bool:
    """Tell systemd a reload has begun (Type=notify-reload wants the monotonic time with it); READY=1 ends it."""
    return notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")


def enabled() -> bool:
    return bool(os.environ.get("NOTIFY_SOCKET"))
