-- End-to-end encryption, opt-in per meeting: browsers encrypt media with a key from a passphrase the
-- server never sees; such a meeting cannot be recorded (docs/security.md, End-to-end encryption).
ALTER TABLE meetings ADD COLUMN e2ee INTEGER NOT NULL DEFAULT 0;
