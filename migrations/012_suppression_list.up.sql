-- The suppression list becomes a do-not-contact list people manage: an ID
-- to show and delete an entry by, whether it holds one address or a whole
-- domain (stored as "@domain", hashed like an address, which is how the
-- verification gate and the claim already look domains up), and where it
-- came from: 'import' for entries added through the API, 'auto' for those
-- Touchline added (unsubscribes, hard bounces, complaints).
ALTER TABLE suppressions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE suppressions ADD COLUMN kind text NOT NULL DEFAULT 'email' CHECK (kind IN ('email', 'domain'));
ALTER TABLE suppressions ADD COLUMN source text NOT NULL DEFAULT 'auto' CHECK (source IN ('auto', 'import'));
UPDATE suppressions SET kind = 'domain' WHERE email LIKE '@%';
CREATE UNIQUE INDEX suppressions_id ON suppressions (id);
CREATE INDEX suppressions_workspace_id ON suppressions (workspace_id, id);
