"""Join tokens: Ed25519 signing keys, the JWKS that publishes them, and token issuing."""
