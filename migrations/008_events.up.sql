-- Every event Touchline emits (lead.promoted, enrollment.stopped,
-- mailbox.paused, cadence.paused, list.completed), kept whether or not a
-- webhook listens: the audit trail of automatic decisions, and a way for
-- an integration to catch up on what its endpoint missed.
CREATE TABLE events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    event_id     text NOT NULL UNIQUE, -- evt_..., as in the webhook deliveries
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_workspace ON events (workspace_id, id);
