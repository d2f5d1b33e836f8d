#!/usr/bin/env bash
# apt-install.sh NAME PACKAGE BINARY: make sure BINARY (a command on PATH or an absolute path) is there, installing
# the Debian PACKAGE quietly, once, when it is not; fail loudly when it cannot be had. Used by the install-*.sh scripts.
set -euo pipefail
name=$1 package=$2 binary=$3

present() { command -v "$binary" >/dev/null 2>&1 || [ -x "$binary" ]; }
if present; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-$name: $name is missing and this is not a Debian-like system; install $package by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-$name: $name is missing; run as root or install $package" >&2
        exit 1
    fi
fi
echo "install-$name: installing $package (once)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
if ! present; then
    echo "install-$name: $package installed but $binary is missing" >&2
    exit 1
fi
