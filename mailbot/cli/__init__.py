"""The `mailbot` command line: one module per group of commands."""
