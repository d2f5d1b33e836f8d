#!/usr/bin/env bash
# Make sure the Dovecot IMAP server the integration tests start is installed (Debian package dovecot-imapd). Its
# post-install may start the system Dovecot; the tests run their own instance.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" dovecot dovecot-imapd /usr/sbin/dovecot
