#!/usr/bin/env bash
# Make sure promtool is installed (Debian package prometheus): the test suite checks the alerting rules with it.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-promtool: promtool is missing and this is not a Debian-like system; install prometheus by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-promtool: promtool is missing; run as root or install the prometheus package" >&2
        exit 1
    fi
fi
echo "install-promtool: installing prometheus for promtool (once)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# Only the promtool binary is used; the package's own service is not started by the tests.
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if ! command -v promtool >/dev/null 2>&1; then
    echo "install-promtool: prometheus installed but promtool is not on PATH" >&2
    exit 1
fi
