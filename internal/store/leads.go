package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/verifier"
)

// Lead is a contact of a workspace.
type Lead struct {
	ID           int64             `json:"id"`
	Email        string            `json:"email"`
	FirstName    string            `json:"first_name"`
	LastName     string            `json:"last_name"`
	Company      string            `json:"company"`
	Title        string            `json:"title"`
	Timezone     string            `json:"timezone"`
	Custom       map[string]any    `json:"custom"`
	Stage        string            `json:"stage"`
	Verification *LeadVerification `json:"verification,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// LeadVerification is a lead's latest verdict.
type LeadVerification struct {
	Status     string            `json:"status"`
	Reason     string            `json:"reason"`
	VerifiedAt time.Time         `json:"verified_at"`
	Evidence   *verifier.Verdict `json:"evidence,omitempty"`
}

// LeadFilter selects leads.
type LeadFilter struct {
	Stage  string // lead, prospect, ...
	Status string // verification status
	Query  string // substring of email, name or company
	After  int64  // cursor: ID of the last lead of the previous page
	Limit  int    // default 50, at most 500
}

const leadColumnsSQL = `id, email, first_name, last_name, company, title, timezone, custom, stage,
	verification_status, verification_reason, verification, verified_at, created_at, updated_at`

func scanLead(row pgx.Row) (Lead, error) {
	var (
		l           Lead
		custom, vb  []byte
		status, rsn *string
		verified    *time.Time
	)
	if err := row.Scan(&l.ID, &l.Email, &l.FirstName, &l.LastName, &l.Company, &l.Title, &l.Timezone, &custom, &l.Stage,
		&status, &rsn, &vb, &verified, &l.CreatedAt, &l.UpdatedAt); err != nil {
		return l, err
	}
	json.Unmarshal(custom, &l.Custom)
	if status != nil && verified != nil {
		lv := &LeadVerification{Status: *status, VerifiedAt: *verified}
		if rsn != nil {
			lv.Reason = *rsn
		}
		if vb != nil {
			var v verifier.Verdict
			if json.Unmarshal(vb, &v) == nil {
				lv.Evidence = &v
			}
		}
		l.Verification = lv
	}
	return l, nil
}

// ListLeads returns a page of the workspace's leads in ID order, and the
// cursor of the next page (0 when there is none).
func (s *Store) ListLeads(ctx context.Context, ws int64, f LeadFilter) ([]Lead, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	q := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(f.Query) + "%"
	rows, err := s.pool.Query(ctx, `
		SELECT `+leadColumnsSQL+` FROM leads
		WHERE workspace_id = $1 AND id > $2
			AND ($3 = '' OR stage = $3)
			AND ($4 = '' OR verification_status = $4)
			AND ($5 = '%%' OR email ILIKE $5 OR first_name ILIKE $5 OR last_name ILIKE $5 OR company ILIKE $5)
		ORDER BY id LIMIT $6`, ws, f.After, f.Stage, f.Status, q, f.Limit+1)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Lead
	for rows.Next() {
		l, err := scanLead(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// GetLead returns one lead of the workspace.
func (s *Store) GetLead(ctx context.Context, ws, id int64) (Lead, error) {
	l, err := scanLead(s.pool.QueryRow(ctx, `SELECT `+leadColumnsSQL+` FROM leads WHERE id = $1 AND workspace_id = $2`, id, ws))
	if errors.Is(err, pgx.ErrNoRows) {
		return Lead{}, ErrNotFound
	}
	return l, err
}

// LeadEvent is one entry of a lead's history.
type LeadEvent struct {
	Type      string         `json:"type"`
	Data      map[string]any `json:"data"`
	CreatedAt time.Time      `json:"created_at"`
}

// LeadEvents returns a lead's history, oldest first, with its sent touches.
func (s *Store) LeadEvents(ctx context.Context, ws, id int64) ([]LeadEvent, error) {
	// Sent touches are events too, read from the touches themselves: the
	// send path writes no second copy of them.
	rows, err := s.pool.Query(ctx, `
		SELECT type, data, created_at FROM (
			SELECT id, type, data, created_at FROM lead_events WHERE lead_id = $1 AND workspace_id = $2
			UNION ALL
			SELECT NULL, 'touch_sent', jsonb_build_object('enrollment_id', t.enrollment_id, 'step', t.step,
				'message_id', t.message_id, 'mailbox_id', t.mailbox_id), t.sent_at
			FROM touches t JOIN enrollments e ON e.id = t.enrollment_id
			WHERE e.lead_id = $1 AND e.workspace_id = $2 AND t.sent_at IS NOT NULL
		) ev ORDER BY created_at, id`, id, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LeadEvent
	for rows.Next() {
		var e LeadEvent
		var b []byte
		if err := rows.Scan(&e.Type, &b, &e.CreatedAt); err != nil {
			return nil, err
		}
		json.Unmarshal(b, &e.Data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// EmailHash is how a suppressed address is kept after erasure.
func EmailHash(email string) []byte {
	s := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return s[:]
}

// DeleteLead erases a lead for a data-subject request (GDPR Art. 17): the
// lead, its history, and its address and cells in every uploaded list of
// the workspace. If the address is suppressed, the suppression stays, as
// a hash only, so the person is still never mailed.
func (s *Store) DeleteLead(ctx context.Context, ws, id int64) error {
	return retryDeadlock(ctx, func() error { return s.deleteLead(ctx, ws, id) })
}

func (s *Store) deleteLead(ctx context.Context, ws, id int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var email string
	err = tx.QueryRow(ctx, `DELETE FROM leads WHERE id = $1 AND workspace_id = $2 RETURNING email`, id, ws).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE suppressions SET email = NULL WHERE workspace_id = $1 AND email_hash = $2`, ws, EmailHash(email)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE list_rows r SET fields = '{}', email = '[erased]', email_norm = NULL, domain = NULL, verdict = NULL
		FROM lists l
		WHERE l.workspace_id = $1 AND r.list_id = l.id AND lower(r.email_norm) = lower($2)`, ws, email); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Suppress adds an address to the workspace's suppression list.
func (s *Store) Suppress(ctx context.Context, ws int64, email, reason string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO suppressions (workspace_id, email_hash, email, reason) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, email_hash) DO NOTHING`, ws, EmailHash(email), strings.ToLower(email), reason)
	return err
}

// IsSuppressed reports whether an address is suppressed in the workspace.
func (s *Store) IsSuppressed(ctx context.Context, ws int64, email string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suppressions WHERE workspace_id = $1 AND email_hash = $2)`, ws, EmailHash(email)).Scan(&ok)
	return ok, err
}

// domainFacts is the shared cache of recipient-domain facts.

// LoadDomain returns the cached facts of a domain, if fresh.
func (s *Store) LoadDomain(ctx context.Context, domain string) (verifier.DomainFacts, bool) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT facts FROM domain_facts WHERE domain = $1 AND expires_at > now()`, domain).Scan(&b)
	if err != nil {
		return verifier.DomainFacts{}, false
	}
	var f verifier.DomainFacts
	if json.Unmarshal(b, &f) != nil {
		return verifier.DomainFacts{}, false
	}
	return f, true
}

// StoreDomain caches the facts of a domain for ttl.
func (s *Store) StoreDomain(ctx context.Context, domain string, f verifier.DomainFacts, ttl time.Duration) {
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	s.pool.Exec(ctx, `
		INSERT INTO domain_facts (domain, facts, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (domain) DO UPDATE SET facts = EXCLUDED.facts, expires_at = EXCLUDED.expires_at`,
		domain, b, ttl.Seconds())
}
