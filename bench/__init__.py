"""Benchmarks (run as scripts, e.g. `python bench/intake.py`); not part of the test suite."""
