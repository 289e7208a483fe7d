"""Recordings: started and stopped by a meeting's hosts (API, room) and carried out by a recorder
service over NATS; listed, downloaded and deleted through the API; expired after a retention.
See docs/recording.md."""
