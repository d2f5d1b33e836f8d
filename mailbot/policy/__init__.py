"""Policy: named conditions and actions in Python, ordered and configured by TOML rules files."""
