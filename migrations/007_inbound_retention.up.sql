-- Raw inbound messages are kept for a configurable time (serve
-- --inbound-retention); after it the raw bytes are dropped, while the
-- classification, rule, match and detail stay for the audit trail.
ALTER TABLE inbound_messages ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE inbound_messages ADD COLUMN raw_pruned_at timestamptz;
CREATE INDEX inbound_messages_raw_age ON inbound_messages (received_at) WHERE raw IS NOT NULL;
