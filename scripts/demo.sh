#!/usr/bin/env bash
# Set up mailbot and run it once on the embedded default: SQLite and a local Maildir in ./mailbot-state.
# Nothing to configure. Run it again and nothing is filed twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

state=mailbot-state
mkdir -p "$state/maildir/new" "$state/maildir/cur" "$state/maildir/tmp"

mailbot() { .venv/bin/mailbot "$@"; }

# Connect to the mailbox first: whatever it already holds is history, filed but never answered. Only the
# mail delivered after this is new mail.
echo "== mailbot poll --history-only: connect to the mailbox (empty here; old mail would be filed unanswered)"
mailbot poll --history-only
echo
now=$(date -R)
for f in demo/mail/*.eml; do
    name="demo-$(basename "$f" .eml).$(hostname)"
    # What an MTA does: write to tmp/, rename into new/. The samples are dated as sent just now (mail
    # older than [intake] max_ack_age_hours by its own Date is not acknowledged).
    if [ ! -e "$state/maildir/cur/$name:2," ]; then
        LC_ALL=C sed "s/^Date: .*/Date: $now/" "$f" > "$state/maildir/tmp/$name" && mv "$state/maildir/tmp/$name" "$state/maildir/new/$name"
    fi
done

# Two customers of the default rules' plans: Alice's support period was paid ten days ago; Ivan's license
# is older than a year. Everyone else is a presales contact.
paid=$(date -u -d "10 days ago" +%F)
licensed=$(date -u -d "400 days ago" +%F)
printf 'customer,name,email,product,plan,paid\nC1,Alice Martin,alice@customer.example,Shop,standard,%s\nC2,Ivan Petrov,ivan@client.example,CMS,commercial,%s\n' \
    "$paid" "$licensed" > "$state/customers.csv"
echo "== mailbot customers import $state/customers.csv"
mailbot customers import "$state/customers.csv"
echo
echo "== mailbot run --once: fetch the Maildir, file every message, answer, send"
mailbot run --once
echo
echo "== mailbot tickets list"
mailbot tickets list
echo
echo "== mailbot tickets show 1"
mailbot tickets show 1
echo
echo "== mailbot explain 1 (how the deadline was computed)"
mailbot explain 1
echo
echo "== mailbot outbox list (with no [smtp] configured, mail goes to $state/outgoing/new, one file each)"
mailbot outbox list
first=$(ls "$state/outgoing/new" | head -n 1)
if [ -n "$first" ]; then
    echo
    echo "== $state/outgoing/new/$first"
    cat "$state/outgoing/new/$first"
fi
