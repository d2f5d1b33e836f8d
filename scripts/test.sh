#!/usr/bin/env bash
# Set up everything the test suite needs (virtualenv, Dovecot, promtool) and run it. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-dovecot.sh
bash scripts/install-promtool.sh
exec .venv/bin/python -m pytest "$@"
