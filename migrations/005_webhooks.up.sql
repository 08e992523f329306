-- Outgoing webhooks: each delivery is a River job, signed with the
-- endpoint's secret (HMAC-SHA256), retried until it is acknowledged.
CREATE TABLE webhooks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    url           text NOT NULL,
    secret_sealed text NOT NULL,
    events        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id);
