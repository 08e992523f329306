-- Sender-side rejections (policy, authentication, reputation, blocklist:
-- the recipient's provider refused the sender, the address is fine), at
-- send time or in a DSN, per mailbox and recipient provider (the
-- registrable domain of the recipient's MX host, e.g. google.com).
CREATE TABLE sender_rejections (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    mailbox_id    bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    provider      text NOT NULL,
    enrollment_id bigint,
    step          int,
    at_send       boolean NOT NULL, -- refused in the SMTP transaction; false: reported by a DSN
    status        text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    diagnostic    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sender_rejections_mailbox ON sender_rejections (mailbox_id, created_at);

-- A mailbox's back-off from one provider: after each sender-side
-- rejection its level rises (1..6) and its sends to that provider are
-- spaced by 5 minutes << (level-1); a day without a rejection ends it.
CREATE TABLE mailbox_backoffs (
    mailbox_id  bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    provider    text NOT NULL,
    level       int NOT NULL CHECK (level BETWEEN 1 AND 6),
    next_at     timestamptz NOT NULL,
    rejected_at timestamptz NOT NULL,
    PRIMARY KEY (mailbox_id, provider)
);
