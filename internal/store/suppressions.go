package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Suppression is one entry of a workspace's do-not-contact list: an
// address, or a whole domain (Value "@domain"). Value is empty when the
// address was erased (GDPR): only its hash is kept, and still holds.
type Suppression struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"` // "email" or "domain"
	Value     string    `json:"value"`
	Erased    bool      `json:"erased,omitempty"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"` // "import" (API) or "auto" (unsubscribe, bounce, complaint)
	CreatedAt time.Time `json:"created_at"`
}

// SuppressionInput is one entry to add: Value is a normalized address, or
// "@" and a normalized domain.
type SuppressionInput struct {
	Value  string
	Reason string
}

// AddSuppressions adds entries to the workspace's list in one statement;
// an entry already there keeps its reason and date. It returns how many
// were new.
func (s *Store) AddSuppressions(ctx context.Context, ws int64, in []SuppressionInput) (added int, err error) {
	if len(in) == 0 {
		return 0, nil
	}
	hashes := make([][]byte, len(in))
	values := make([]string, len(in))
	kinds := make([]string, len(in))
	reasons := make([]string, len(in))
	for i, e := range in {
		v := strings.ToLower(e.Value)
		hashes[i], values[i], reasons[i] = EmailHash(v), v, e.Reason
		kinds[i] = "email"
		if strings.HasPrefix(v, "@") {
			kinds[i] = "domain"
		}
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO suppressions (workspace_id, email_hash, email, reason, kind, source)
		SELECT $1, h, v, r, k, 'import' FROM unnest($2::bytea[], $3::text[], $4::text[], $5::text[]) AS t(h, v, r, k)
		ON CONFLICT (workspace_id, email_hash) DO NOTHING`, ws, hashes, values, reasons, kinds)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// SuppressionFilter selects entries of ListSuppressions.
type SuppressionFilter struct {
	Query string // part of the address or domain, case-insensitive
	Kind  string // "email", "domain" or "" for both
	After int64  // cursor: entries with a larger ID
	Limit int    // 0: no limit (the CSV export)
}

// ListSuppressions returns the workspace's entries in ID order from
// f.After, and the cursor of the next page (0 when this is the last).
func (s *Store) ListSuppressions(ctx context.Context, ws int64, f SuppressionFilter, each func(Suppression) error) (next int64, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, kind, COALESCE(email, ''), email IS NULL, reason, source, created_at FROM suppressions
		WHERE workspace_id = $1 AND id > $2 AND ($3 = '' OR kind = $3)
			AND ($4 = '' OR strpos(email, lower($4)) > 0)
		ORDER BY id
		LIMIT CASE WHEN $5::int < 0 THEN NULL ELSE $5::int + 1 END`, ws, f.After, f.Kind, f.Query, limit)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e Suppression
		if err := rows.Scan(&e.ID, &e.Kind, &e.Value, &e.Erased, &e.Reason, &e.Source, &e.CreatedAt); err != nil {
			return 0, err
		}
		if n++; limit > 0 && n > limit {
			return next, rows.Err()
		}
		if err := each(e); err != nil {
			return 0, err
		}
		next = e.ID
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return 0, nil
}

// DeleteSuppression removes an entry: the address or domain may be
// mailed again.
func (s *Store) DeleteSuppression(ctx context.Context, ws, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM suppressions WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return &NotFoundError{Resource: "suppression", ID: id}
	}
	return nil
}

// SuppressionCounts counts the workspace's entries by kind, and returns
// the latest few, newest first, for the dashboard.
func (s *Store) SuppressionCounts(ctx context.Context, ws int64, latest int) (emails, domains int, recent []Suppression, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE kind = 'email'), count(*) FILTER (WHERE kind = 'domain')
		FROM suppressions WHERE workspace_id = $1`, ws).Scan(&emails, &domains)
	if err != nil {
		return 0, 0, nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, kind, COALESCE(email, ''), email IS NULL, reason, source, created_at FROM suppressions
		WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2`, ws, latest)
	if err != nil {
		return 0, 0, nil, err
	}
	recent, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Suppression, error) {
		var e Suppression
		err := r.Scan(&e.ID, &e.Kind, &e.Value, &e.Erased, &e.Reason, &e.Source, &e.CreatedAt)
		return e, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return emails, domains, recent, err
}
