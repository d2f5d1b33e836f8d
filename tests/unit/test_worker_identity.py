"""A worker's identity in leases and heartbeats is its process: "<[workers] name>@<host>:<pid>" (store/source_leases),
read back to tell a dead local holder, whose lease may be taken at once, from a live one, which keeps it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from mailbot.store.models import OWNER_LENGTH
from mailbot.store.source_leases import host_and_pid, local_process_gone, worker_identity


def test_the_identity_keeps_the_configured_name_and_adds_host_and_pid() -> None:
    assert worker_identity("support-1", "mail1.example.com", 4242) == "support-1@mail1.example.com:4242"
    assert worker_identity("", "mail1", 4242) == "mail1:4242"  # no name: as before
    assert worker_identity("support-1", "mail1", 4242) != worker_identity("support-1", "mail1", 4243)


def test_the_longest_name_and_host_fit_the_column() -> None:
    longest = worker_identity("n" * 200, "h" * 255, 4_194_304)
    assert len(longest) <= OWNER_LENGTH and longest == "n" * 200 + "@" + "h" * 255 + ":4194304"
    # Were a host ever longer, the name gives way, never host:pid.
    squeezed = worker_identity("n" * 200, "h" * 400, 1)
    assert len(squeezed) == OWNER_LENGTH and squeezed.endswith("@" + "h" * 400 + ":1")


def test_host_and_pid_are_read_back() -> None:
    assert host_and_pid("support-1@mail1.example.com:4242") == ("mail1.example.com", 4242)
    assert host_and_pid("mail1:4242") == ("mail1", 4242)
    assert host_and_pid("odd:name@with@signs@mail1:7") == ("mail1", 7)
    assert host_and_pid("support-1") is None  # a bare name, as older versions wrote it
    assert host_and_pid("support-1@mail1:") is None
    assert host_and_pid(":42") is None


def test_only_a_local_process_that_has_ended_is_gone() -> None:
    host = socket.gethostname()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    assert local_process_gone(worker_identity("desk", host, int(ended.stdout)))
    assert local_process_gone(f"{host}:{int(ended.stdout)}")  # the default form too
    # Alive, same host, same name: never taken over.
    assert not local_process_gone(worker_identity("desk", host, os.getppid()))
    assert not local_process_gone(worker_identity("desk", host, os.getpid()))  # this very process
    assert not local_process_gone(worker_identity("desk", host + "-elsewhere", int(ended.stdout)))  # another host's
    assert not local_process_gone("desk")  # names no process: wait for the lease to run out
