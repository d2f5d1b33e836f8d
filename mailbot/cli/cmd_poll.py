"""`mailbot poll --once`: fetch new mail from every source and file it meanwhile, exit; `--history-only`: import only what
folders seen for the first time hold, as history (cli/poll_history.py)."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from mailbot.app import App
from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.collector_settings import settle_collector
from mailbot.config import Config
from mailbot.process.analysis_worker import warm_up
from mailbot.process.runner import RunStats
from mailbot.store import source_leases

_IDLE_SECONDS = 0.05  # how long filing waits for intake to store more before it looks again


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        ending = threading.Event()
        # The analysis worker warms up (a new interpreter, imports, language models) on the other core while
        # this process loads the rules and connects, instead of after the first batch is stored.
        warming = threading.Thread(target=warm_up, args=(app.analyzer, ending.is_set), name="mailbot-warm-up", daemon=True)
        warming.start()
        try:
            return _poll(app, args)
        finally:
            ending.set()  # a warm-up still running (the rules were bad, say) stops at once
            warming.join()


def _poll(app: App, args: argparse.Namespace) -> int:
    app.policy  # bad rules stop here rather than after mail was fetched
    settle_collector()
    if args.history_only:
        from mailbot.cli.poll_history import import_history

        return import_history(app)
    stored, stats = poll_and_file(app)
    print(
        f"stored {stored} new message(s); filed {stats.done}, duplicates {stats.duplicates}, "
        f"retry later {stats.retried}, quarantined {stats.quarantined}"
    )
    for name, error in app.unreadable.items():
        print(f"mailbot: could not read source {name}: {error}", file=sys.stderr)
    holders = {lease.source: lease.owner for lease in source_leases.holders(app.sessions)}
    for src in app.sources:
        if src.name not in app.held:
            # Not an error: one worker reads a source at a time, and another (a running daemon) has it.
            print(f"source {src.name}: not read here, worker {holders.get(src.name, 'another worker')} holds its lease")
    return 1 if app.unreadable else 0


def poll_and_file(app: App) -> tuple[int, RunStats]:
    """Fetch from every source and file what was stored, both at once: filing starts with the first batch
    intake stores and goes on until fetching has ended and nothing is left. Returns (stored, what filing did)."""
    fetched = threading.Event()
    interrupted = threading.Event()  # fetching failed or was interrupted (Ctrl-C): filing stops at once too
    total = RunStats()
    failed: list[BaseException] = []

    def file_while_fetching() -> None:
        try:
            while True:
                last = fetched.is_set()  # a pass that starts after fetching ended sees everything stored
                stats = app.process(interrupted.is_set)
                total.add(stats)
                if last or interrupted.is_set():
                    return
                if not stats.handled:
                    fetched.wait(_IDLE_SECONDS)
        except BaseException as exc:
            failed.append(exc)

    filer = threading.Thread(target=file_while_fetching, name="mailbot-file", daemon=True)
    filer.start()
    try:
        stored = app.poll()
    except BaseException:
        interrupted.set()  # what was claimed and not filed goes back untouched
        raise
    finally:
        fetched.set()
        filer.join()
    if failed:
        raise failed[0]
    return stored, total


def register(sub: Any) -> None:
    p = sub.add_parser("poll", help=command_help("poll"))
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--once", action="store_true", help="fetch, process, exit (the daemon is `run`)")
    how.add_argument(
        "--history-only", action="store_true",
        help="import only what folders seen for the first time hold, as history (filed, never answered, no clock); "
        "report what was done",
    )
    p.set_defaults(handler=cmd_poll)
