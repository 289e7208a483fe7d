"""Signed webhooks: meeting and participant events, and finished recordings, POSTed to configured
endpoints (the Standard Webhooks scheme), at least once, with a delivery log for admins."""
