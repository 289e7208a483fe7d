"""Breakout rooms: a live meeting split into rooms (each a meeting of its own) and brought back."""
