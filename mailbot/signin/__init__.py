"""Signing in to mail servers: passwords, OAuth2 access tokens, and the SASL strings that carry them."""
