-- Replies land in the reps' own mailboxes: Touchline polls them over IMAP,
-- read-only, remembering where it stopped.
ALTER TABLE mailboxes
    ADD COLUMN imap_host text,
    ADD COLUMN imap_port int,
    ADD COLUMN imap_security text CHECK (imap_security IN ('tls', 'starttls', 'none')),
    ADD COLUMN imap_username text,
    ADD COLUMN imap_password_sealed text,
    ADD COLUMN imap_folder text,
    ADD COLUMN imap_uidvalidity bigint NOT NULL DEFAULT 0,
    ADD COLUMN imap_last_uid bigint NOT NULL DEFAULT 0,
    ADD COLUMN imap_polled_at timestamptz,
    ADD COLUMN imap_error text;
