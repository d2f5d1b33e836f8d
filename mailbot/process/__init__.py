"""Processing: one pending inbound row at a time, in its own transaction, into a ticket."""
