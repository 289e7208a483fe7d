"""Sign-in: sessions, the current principal, and the ways to prove who you are (local, LDAP, OIDC)."""
