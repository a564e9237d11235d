"""Accounts: the store protocol and one module per backend."""
