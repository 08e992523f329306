-- Workspaces are tenants: every row of user data carries one, and every
-- query of the API filters by the workspace of the caller's key.
CREATE TABLE workspaces (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API keys are shown once; only their SHA-256 is kept.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    prefix       text NOT NULL,
    hash         bytea NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE lists (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    name          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'failed')),
    header        text[] NOT NULL,
    email_column  int NOT NULL,
    separator     text NOT NULL DEFAULT ',',
    total         int NOT NULL DEFAULT 0,
    processed     int NOT NULL DEFAULT 0,
    deliverable   int NOT NULL DEFAULT 0,
    undeliverable int NOT NULL DEFAULT 0,
    risky         int NOT NULL DEFAULT 0,
    unknown       int NOT NULL DEFAULT 0,
    batches       int NOT NULL DEFAULT 0,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX lists_workspace ON lists (workspace_id, id DESC);

-- One row per data row of an upload, original cells kept. status is NULL
-- until the row has its verdict; verdicts are written only over NULL, so a
-- retried batch can never count a row twice.
CREATE TABLE list_rows (
    list_id     bigint NOT NULL REFERENCES lists ON DELETE CASCADE,
    row_num     int NOT NULL,
    line        int NOT NULL,
    fields      text[] NOT NULL,
    email       text NOT NULL,
    email_norm  text,
    domain      text,
    batch       int,
    status      text CHECK (status IN ('deliverable', 'undeliverable', 'risky', 'unknown')),
    reason      text,
    verdict     jsonb,
    verified_at timestamptz,
    PRIMARY KEY (list_id, row_num)
);
CREATE INDEX list_rows_pending ON list_rows (list_id, batch) WHERE status IS NULL;
CREATE INDEX list_rows_email ON list_rows (email_norm);

-- Leads are unique per workspace by normalized address; mailbox providers
-- treat local parts case-insensitively, so uniqueness ignores case.
CREATE TABLE leads (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id        bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    email               text NOT NULL,
    first_name          text NOT NULL DEFAULT '',
    last_name           text NOT NULL DEFAULT '',
    company             text NOT NULL DEFAULT '',
    title               text NOT NULL DEFAULT '',
    timezone            text NOT NULL DEFAULT '',
    custom              jsonb NOT NULL DEFAULT '{}',
    stage               text NOT NULL DEFAULT 'lead',
    verification_status text,
    verification_reason text,
    verification        jsonb,
    verified_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX leads_workspace_email ON leads (workspace_id, lower(email));
CREATE INDEX leads_stage ON leads (workspace_id, stage, id);
CREATE INDEX leads_status ON leads (workspace_id, verification_status, id);

-- Append-only history of what happened to a lead.
CREATE TABLE lead_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    lead_id      bigint NOT NULL REFERENCES leads ON DELETE CASCADE,
    type         text NOT NULL,
    data         jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);

-- Addresses never to be mailed. On erasure (GDPR) the address is removed
-- and only its SHA-256 stays, so the suppression still holds.
CREATE TABLE suppressions (
    workspace_id bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    email_hash   bytea NOT NULL,
    email        text,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, email_hash)
);

-- Public DNS and SMTP facts about recipient domains, shared by every
-- worker process and reused until they expire.
CREATE TABLE domain_facts (
    domain     text PRIMARY KEY,
    facts      jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
