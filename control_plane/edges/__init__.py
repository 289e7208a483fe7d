"""The live edge registry (from heartbeats on NATS) and its HTTP view."""
