package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// What the dashboard reads beyond the API's own queries. Its numbers come
// from the same methods as the API (Stats, ListLists, RecentOutcomes), so
// the two cannot disagree; the queries here only list, look up and join.

// APIKeyID returns the row ID of a live API key, so that a browser session
// can name the key it was opened with without holding the key.
func (s *Store) APIKeyID(ctx context.Context, key string) (int64, error) {
	sum := sha256.Sum256([]byte(key))
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM api_keys WHERE hash = $1 AND NOT operator AND revoked_at IS NULL`, sum[:]).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrUnauthorized
	}
	return id, err
}

// KeyWorkspace returns the workspace of the live API key with row ID id:
// ErrUnauthorized once the key is revoked or gone, which ends the browser
// sessions opened with it.
func (s *Store) KeyWorkspace(ctx context.Context, id int64) (Workspace, error) {
	var w Workspace
	err := s.pool.QueryRow(ctx, `
		SELECT w.id, w.name FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
		WHERE k.id = $1 AND k.revoked_at IS NULL`, id).Scan(&w.ID, &w.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, ErrUnauthorized
	}
	return w, err
}

// ListCadences returns the workspace's cadences, those that can still send
// first (active, paused, draft, then archived), newest first within each,
// at most limit.
func (s *Store) ListCadences(ctx context.Context, ws int64, limit int) ([]Cadence, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+cadenceColumns+` FROM cadences WHERE workspace_id = $1
		ORDER BY array_position(ARRAY['active', 'paused', 'draft', 'archived'], status), id DESC LIMIT $2`, ws, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Cadence{}
	for rows.Next() {
		c, err := scanCadence(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Totals are the days of Stats added up: what a range of sending did.
type Totals struct {
	Enrolled int `json:"enrolled"`
	Outcomes
	ProspectsCreated int `json:"prospects_created"`
}

// SumPeriods adds up days of Stats, with the rates taken over the sums (not
// averaged over days, which would weigh a day of 2 sends like a day of 200).
func SumPeriods(periods []PeriodStats) Totals {
	var t Totals
	for _, p := range periods {
		t.Enrolled += p.Enrolled
		t.ProspectsCreated += p.ProspectsCreated
		t.Sent += p.Sent
		t.HardBounces += p.HardBounces
		t.SoftBounces += p.SoftBounces
		t.SenderRejections += p.SenderRejections
		t.Replies += p.Replies
		t.AutoReplies += p.AutoReplies
		t.Unsubscribes += p.Unsubscribes
		t.Complaints += p.Complaints
		t.VerifierMisses += p.VerifierMisses
	}
	t.rates()
	return t
}

// RecentSends is what came back from a mailbox's latest sends: the window
// its sending guardrail judges.
type RecentSends struct {
	Sends            int
	HardBounces      int
	SenderRejections int
}

// MailboxRecent counts, for each of the workspace's mailboxes in ids, the
// hard bounces and sender-side rejections among its last n sends, with the
// guardrails' own query (RecentOutcomes) in one read-only transaction.
func (s *Store) MailboxRecent(ctx context.Context, ws int64, ids []int64, n int) (map[int64]RecentSends, error) {
	out := make(map[int64]RecentSends, len(ids))
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// RecentOutcomes looks a mailbox up by ID alone: keep to this
	// workspace's.
	rows, err := tx.Query(ctx, `SELECT id FROM mailboxes WHERE workspace_id = $1 AND id = ANY($2)`, ws, ids)
	if err != nil {
		return nil, err
	}
	own, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	for _, id := range own {
		var r RecentSends
		if r.Sends, r.HardBounces, err = s.RecentOutcomes(ctx, tx, ws, 0, id, n, "hard_bounce"); err != nil {
			return nil, err
		}
		if _, r.SenderRejections, err = s.RecentOutcomes(ctx, tx, ws, 0, id, n, "sender_rejection"); err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

// InboundSummary is a stored inbound message as a list shows it: its
// classification, the lead it was matched to, and the start of the raw
// message for the header From (the envelope sender of a bounce is empty,
// and a polled message has none).
type InboundSummary struct {
	ID           int64
	ReceivedAt   time.Time
	Source       string
	EnvelopeFrom string
	Class        string
	Rule         string
	MatchedBy    string
	LeadID       *int64
	LeadEmail    string
	Step         *int
	Snippet      string
	Colleague    string
	Unverified   bool // matched by sender address only: waits for a person (see InboundRecord)
	// The first recipient of a bounce: hard, soft or sender; its RFC 3463
	// status and the remote server's words.
	BounceKind, BounceStatus, BounceDiagnostic string
	ReturnDate                                 string // an out-of-office's, as stored (RFC 3339)
	Head                                       []byte // at most the first 16 KiB of the raw message
}

// LatestInbound returns the workspace's latest inbound messages, newest
// first, in the order and with the filter of ListInbound.
func (s *Store) LatestInbound(ctx context.Context, ws int64, limit int) ([]InboundSummary, error) {
	if limit <= 0 || limit > 500 {
		limit = 20
	}
	rows, err := s.pool.Query(ctx, `
		SELECT m.id, m.received_at, m.source, m.envelope_from, m.class, m.rule, m.matched_by, m.lead_id, COALESCE(l.email, ''), m.step,
			COALESCE(m.detail->>'snippet', ''), COALESCE(m.detail->>'colleague', ''),
			COALESCE(m.detail#>>'{recipients,0,Kind}', ''), COALESCE(m.detail#>>'{recipients,0,Status}', ''),
			COALESCE(m.detail#>>'{recipients,0,Diagnostic}', ''), COALESCE(m.detail->>'return_date', ''), substring(m.raw FROM 1 FOR 16384),
			COALESCE(m.detail->>'unverified' = 'true', false)
		FROM inbound_messages m LEFT JOIN leads l ON l.id = m.lead_id AND l.workspace_id = m.workspace_id
		WHERE m.workspace_id = $1 ORDER BY m.id DESC LIMIT $2`, ws, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []InboundSummary{}
	for rows.Next() {
		var m InboundSummary
		if err := rows.Scan(&m.ID, &m.ReceivedAt, &m.Source, &m.EnvelopeFrom, &m.Class, &m.Rule, &m.MatchedBy, &m.LeadID, &m.LeadEmail,
			&m.Step, &m.Snippet, &m.Colleague, &m.BounceKind, &m.BounceStatus, &m.BounceDiagnostic, &m.ReturnDate, &m.Head, &m.Unverified); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
