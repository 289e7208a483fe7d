"""Helpers for tests that start real components: nats-server, our own processes, slapd, …"""
