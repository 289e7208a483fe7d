"""Accounts: local users, roles, and the first admin."""
