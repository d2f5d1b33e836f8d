"""The App a command works with: built from the config and `--now`, schema brought up to date, closed after."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from mailbot.app import App
from mailbot.config import Config


@contextmanager
def opened_app(config: Config, args: argparse.Namespace, migrate: bool = True) -> Iterator[App]:
    app = App(config, args.clock)
    try:
        if migrate:
            app.ensure_schema()
        yield app
    finally:
        app.close()
