"""Customers and what they bought: imported from CSV or a billing database, looked up by sender address."""
