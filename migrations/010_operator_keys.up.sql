-- Operator keys reach the operator surfaces (River UI, /metrics) and
-- nothing of any workspace; workspace keys reach their workspace's API and
-- never the operator surfaces. An operator key has no workspace, so the
-- API's lookup (a join on workspaces) cannot find it.
ALTER TABLE api_keys ALTER COLUMN workspace_id DROP NOT NULL;
ALTER TABLE api_keys ADD COLUMN operator boolean NOT NULL DEFAULT false;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_operator_has_no_workspace
    CHECK (operator = (workspace_id IS NULL));
CREATE INDEX api_keys_workspace ON api_keys (workspace_id) WHERE workspace_id IS NOT NULL;
