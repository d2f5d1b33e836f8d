"""Intake: copy new mail from IMAP folders and Maildirs into the inbound table, byte for byte."""
