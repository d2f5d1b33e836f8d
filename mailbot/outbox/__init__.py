"""The outbox: finished outgoing mail written with the decision that caused it, sent by a separate job."""
