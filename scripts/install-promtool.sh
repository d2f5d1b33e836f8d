#!/usr/bin/env bash
# Make sure promtool is installed (Debian package prometheus): the test suite checks the alerting rules with it.
# Only the promtool binary is used; the package's own service is not started by the tests.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" promtool prometheus promtool
