-- Jobs that reach a tenant's rows now carry the workspace, and the store
-- looks rows up by workspace and ID, never by ID alone (issue 13: no
-- wildcard workspace). Jobs queued before this migration get theirs.
UPDATE river_job j SET args = j.args || jsonb_build_object('workspace_id', w.workspace_id)
FROM webhooks w
WHERE j.kind = 'webhook' AND j.state NOT IN ('completed', 'cancelled', 'discarded')
    AND NOT j.args ? 'workspace_id' AND w.id = (j.args->>'webhook_id')::bigint;
UPDATE river_job j SET args = j.args || jsonb_build_object('workspace_id', m.workspace_id)
FROM mailboxes m
WHERE j.kind = 'poll_imap' AND j.state NOT IN ('completed', 'cancelled', 'discarded')
    AND NOT j.args ? 'workspace_id' AND m.id = (j.args->>'mailbox_id')::bigint;
