-- Mail that came back: bounces, complaints, auto-replies and replies, kept
-- raw (size-capped) with the rule that classified it, so a classification
-- can be audited and corrected.
CREATE TABLE inbound_messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint REFERENCES workspaces ON DELETE CASCADE,
    source        text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    envelope_from text NOT NULL DEFAULT '',
    envelope_to   text[] NOT NULL DEFAULT '{}',
    message_id    text,
    raw           bytea NOT NULL,
    truncated     bool NOT NULL DEFAULT false,
    class         text NOT NULL,
    rule          text NOT NULL,
    matched_by    text NOT NULL DEFAULT '',
    enrollment_id bigint REFERENCES enrollments ON DELETE SET NULL,
    lead_id       bigint REFERENCES leads ON DELETE SET NULL,
    step          int,
    detail        jsonb NOT NULL DEFAULT '{}'
);
-- The same message seen twice (a retried SMTP delivery, an IMAP re-poll)
-- is stored and acted on once.
CREATE UNIQUE INDEX inbound_messages_dedupe ON inbound_messages (workspace_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX inbound_messages_lead ON inbound_messages (lead_id, id);

-- Where each touch's Message-ID is, for matching replies by In-Reply-To.
CREATE INDEX touches_message_id ON touches (message_id) WHERE message_id IS NOT NULL;

-- Stage changes of a lead, append-only.
CREATE TABLE lead_stages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    lead_id      bigint NOT NULL REFERENCES leads ON DELETE CASCADE,
    from_stage   text NOT NULL,
    to_stage     text NOT NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_stages_lead ON lead_stages (lead_id, id);

ALTER TABLE mailboxes ADD COLUMN paused_reason text;
ALTER TABLE cadences ADD COLUMN paused_reason text;
ALTER TABLE cadences ADD COLUMN stop_domain_on_reply bool NOT NULL DEFAULT false;
