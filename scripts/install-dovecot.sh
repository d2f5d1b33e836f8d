#!/usr/bin/env bash
# Make sure the Dovecot IMAP server the integration tests start is installed (Debian package dovecot-imapd).
set -euo pipefail

if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-dovecot: dovecot is missing and this is not a Debian-like system; install dovecot-imapd by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-dovecot: dovecot is missing; run as root or install dovecot-imapd" >&2
        exit 1
    fi
fi
echo "install-dovecot: installing dovecot-imapd (once)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# The package's post-install tries to start the system Dovecot; tests run their own instance.
$SUDO apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
if ! [ -x /usr/sbin/dovecot ]; then
    echo "install-dovecot: dovecot-imapd installed but /usr/sbin/dovecot is missing" >&2
    exit 1
fi
