"""Meetings: schedules and recurrence, settings, co-hosts, lifecycle, joining and commands."""
