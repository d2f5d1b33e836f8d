"""A long-running command collects young objects in larger rounds than CPython's default."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mailbot.collector_settings import YOUNG_THRESHOLD, settle_collector


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_young_collections_run_less_often_and_the_older_generations_are_untouched(thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)
    settle_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    gc.set_threshold(50_000, 5, 7)  # an operator's (or a library's) larger choice stands
    settle_collector()
    assert gc.get_threshold() == (50_000, 5, 7)
