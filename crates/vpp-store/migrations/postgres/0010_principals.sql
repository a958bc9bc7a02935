-- Sessions that were logged out: their access tokens stop working.
CREATE TABLE revoked_sessions (
    family_id  TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL
);

-- Four eyes compares principals, not names: each bid records the party
-- accountable for it (a user, or the user who owns the API key that
-- submitted it), and each API key its owner's user id.
ALTER TABLE bids ADD COLUMN submitted_party TEXT;
ALTER TABLE bids ADD COLUMN approved_party TEXT;
ALTER TABLE api_keys ADD COLUMN owner_id TEXT;
UPDATE api_keys SET owner_id = (SELECT u.id FROM users u WHERE u.username = api_keys.created_by);
