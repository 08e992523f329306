-- Sending mailboxes: the team's own accounts, reached by SMTP submission.
-- Secrets are sealed with AES-GCM (internal/secret) before they get here.
CREATE TABLE mailboxes (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id         bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    from_address         text NOT NULL,
    from_name            text NOT NULL DEFAULT '',
    smtp_host            text NOT NULL,
    smtp_port            int NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_security        text NOT NULL CHECK (smtp_security IN ('starttls', 'tls', 'none')),
    smtp_username        text NOT NULL DEFAULT '',
    smtp_password_sealed text,
    daily_cap            int NOT NULL DEFAULT 50 CHECK (daily_cap > 0),
    min_spacing_seconds  int NOT NULL DEFAULT 90 CHECK (min_spacing_seconds >= 0),
    jitter_seconds       int NOT NULL DEFAULT 30 CHECK (jitter_seconds >= 0),
    ramp_start_cap       int,
    ramp_daily_increment int,
    timezone             text NOT NULL DEFAULT 'UTC',
    dkim_domain          text,
    dkim_selector        text,
    dkim_key_sealed      text,
    next_send_at         timestamptz NOT NULL DEFAULT 'epoch',
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mailboxes_address ON mailboxes (workspace_id, lower(from_address));

-- Sends per mailbox and local day: the daily cap is checked and counted in
-- the transaction that claims a send.
CREATE TABLE mailbox_days (
    mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    day        date NOT NULL,
    sent       int NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox_id, day)
);

CREATE TABLE cadences (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id   bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    name           text NOT NULL,
    status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'archived')),
    send_window    jsonb NOT NULL,
    risky_policy   text NOT NULL DEFAULT 'skip' CHECK (risky_policy IN ('skip', 'allow_catch_all')),
    mailbox_ids    bigint[] NOT NULL,
    steps          jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    launched_at    timestamptz
);
CREATE INDEX cadences_workspace ON cadences (workspace_id, id);

CREATE TABLE enrollments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    cadence_id       bigint NOT NULL REFERENCES cadences ON DELETE CASCADE,
    lead_id          bigint NOT NULL REFERENCES leads ON DELETE CASCADE,
    mailbox_id       bigint REFERENCES mailboxes ON DELETE SET NULL,
    state            text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'finished', 'stopped')),
    state_reason     text NOT NULL DEFAULT '',
    next_step        int NOT NULL DEFAULT 1,
    thread_message_id text,
    thread_subject   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cadence_id, lead_id)
);
CREATE INDEX enrollments_lead ON enrollments (lead_id);

-- One row per (enrollment, step): created when the step is scheduled, and
-- moved to 'sending' in the transaction that claims the send, before the
-- message is handed to SMTP. The primary key is the at-most-once guarantee.
CREATE TABLE touches (
    enrollment_id bigint NOT NULL REFERENCES enrollments ON DELETE CASCADE,
    step          int NOT NULL,
    workspace_id  bigint NOT NULL,
    channel       text NOT NULL,
    status        text NOT NULL CHECK (status IN ('scheduled', 'sending', 'sent', 'failed', 'uncertain', 'skipped', 'task_open', 'task_done')),
    due_at        timestamptz NOT NULL,
    mailbox_id    bigint,
    message_id    text,
    variant       text,
    outcome       text NOT NULL DEFAULT '',
    sent_at       timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enrollment_id, step)
);

CREATE TABLE tasks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    enrollment_id bigint NOT NULL REFERENCES enrollments ON DELETE CASCADE,
    step          int NOT NULL,
    channel       text NOT NULL,
    title         text NOT NULL,
    due_at        timestamptz NOT NULL,
    assignee      text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'skipped')),
    outcome       text NOT NULL DEFAULT '',
    completed_at  timestamptz,
    UNIQUE (enrollment_id, step)
);
CREATE INDEX tasks_due ON tasks (workspace_id, status, due_at);
