-- Which client (address, or IPv6 /64) started each OpenID Connect sign-in, so that one client's
-- sign-ins in progress can be capped without refusing everybody else's.
ALTER TABLE oidc_states ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
CREATE INDEX oidc_states_client ON oidc_states (client_key, expires_at);
