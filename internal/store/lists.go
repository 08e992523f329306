package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/verifier"
)

// List is an uploaded list and its progress.
type List struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	Total      int        `json:"total"`
	Processed  int        `json:"processed"`
	Counts     Counts     `json:"counts"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Header     []string   `json:"-"`
	Column     int        `json:"-"`
	Separator  string     `json:"-"`
	Batches    int        `json:"-"`
	Workspace  int64      `json:"-"`
}

// Counts are verdicts per status.
type Counts struct {
	Deliverable   int `json:"deliverable"`
	Undeliverable int `json:"undeliverable"`
	Risky         int `json:"risky"`
	Unknown       int `json:"unknown"`
}

func (c *Counts) add(status string, n int) {
	switch verifier.Status(status) {
	case verifier.Deliverable:
		c.Deliverable += n
	case verifier.Undeliverable:
		c.Undeliverable += n
	case verifier.Risky:
		c.Risky += n
	case verifier.Unknown:
		c.Unknown += n
	}
}

// IngestError is an upload refused as a whole; Code is stable for clients.
type IngestError struct {
	Code   string // too_many_rows, ragged_rows, bad_encoding
	Detail string
}

func (e *IngestError) Error() string { return "store: " + e.Detail }

// Ingest options.
type IngestOptions struct {
	MaxRows   int // default 1,000,000
	BatchSize int // rows per verification batch, default 250
	// Enqueue is called inside the upload's transaction once the rows are
	// stored, to insert one job per batch atomically with them.
	Enqueue func(ctx context.Context, tx pgx.Tx, listID int64, batches int) error
}

// Ingest streams a parsed list into the database with COPY, in one
// transaction: a failed or aborted upload leaves nothing behind. Rows whose
// address cannot be parsed get their verdict at once; the others are
// grouped by domain into batches for the verification jobs.
func (s *Store) Ingest(ctx context.Context, ws int64, name string, r *listfile.Reader, opts IngestOptions) (List, error) {
	if opts.MaxRows <= 0 {
		opts.MaxRows = 1_000_000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 250
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return List{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var l List
	err = tx.QueryRow(ctx, `
		INSERT INTO lists (workspace_id, name, status, header, email_column, separator)
		VALUES ($1, $2, 'queued', $3, $4, $5)
		RETURNING id, name, status, created_at`,
		ws, name, sanitizeAll(r.Header), r.Column, string(r.Comma)).Scan(&l.ID, &l.Name, &l.Status, &l.CreatedAt)
	if err != nil {
		return List{}, fmt.Errorf("store: create list: %w", err)
	}
	next, stop := iter.Pull(r.Rows())
	defer stop()
	src := &rowSource{next: next, listID: l.ID, maxRows: opts.MaxRows, batches: newBatcher(opts.BatchSize), now: time.Now()}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"list_rows"},
		[]string{"list_id", "row_num", "line", "fields", "email", "email_norm", "domain", "batch", "status", "reason", "verdict", "verified_at"},
		src); err != nil {
		if src.err != nil {
			return List{}, src.err
		}
		return List{}, fmt.Errorf("store: copy rows: %w", err)
	}
	if src.err != nil {
		return List{}, src.err
	}
	if err := r.Err(); err != nil {
		return List{}, err
	}
	// A file where most rows fail the same way is a file problem, not a
	// row problem: refuse it whole, with the reason.
	if src.n >= 10 && src.ragged*2 > src.n {
		return List{}, &IngestError{Code: "ragged_rows", Detail: fmt.Sprintf(
			"%d of %d rows do not have the %d cells of the header (first at line %d); check the separator (%q was detected) and the quoting",
			src.ragged, src.n, len(r.Header), src.firstRagged, string(r.Comma))}
	}
	if src.n >= 10 && src.badUTF8*2 > src.n {
		return List{}, &IngestError{Code: "bad_encoding", Detail: fmt.Sprintf(
			"%d of %d rows are not valid UTF-8 (first at line %d): save the file as UTF-8 CSV", src.badUTF8, src.n, src.firstBadUTF8)}
	}
	l.Total, l.Counts, l.Batches = src.n, src.counts, src.batches.count()
	l.Processed = src.verified
	if l.Processed == l.Total {
		l.Status = "done"
	}
	_, err = tx.Exec(ctx, `
		UPDATE lists SET total = $2, processed = $3, deliverable = $4, undeliverable = $5, risky = $6, unknown = $7,
			batches = $8, status = $9, finished_at = CASE WHEN $9 = 'done' THEN now() END
		WHERE id = $1`,
		l.ID, l.Total, l.Processed, l.Counts.Deliverable, l.Counts.Undeliverable, l.Counts.Risky, l.Counts.Unknown, l.Batches, l.Status)
	if err != nil {
		return List{}, err
	}
	if l.Batches > 0 && opts.Enqueue != nil {
		if err := opts.Enqueue(ctx, tx, l.ID, l.Batches); err != nil {
			return List{}, fmt.Errorf("store: enqueue verification: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return List{}, err
	}
	return l, nil
}

// rowSource feeds COPY from the CSV reader, one row at a time, so an upload
// of any size is never held in memory.
type rowSource struct {
	next    func() (listfile.Row, bool)
	listID  int64
	maxRows int
	batches *batcher
	now     time.Time

	n, verified           int
	counts                Counts
	ragged, firstRagged   int
	badUTF8, firstBadUTF8 int
	values                []any
	err                   error
}

func (s *rowSource) Next() bool {
	row, ok := s.next()
	if !ok {
		return false
	}
	s.n++
	if s.n > s.maxRows {
		s.err = &IngestError{Code: "too_many_rows", Detail: fmt.Sprintf("the list has more than %d rows; split it into several uploads", s.maxRows)}
		return false
	}
	var (
		emailNorm, domain, status, reason *string
		batch                             *int
		verdict                           []byte
		verifiedAt                        *time.Time
	)
	bad := row.Err
	if bad != nil {
		if strings.Contains(bad.Error(), "fields but the email column") || strings.Contains(bad.Error(), "malformed CSV") {
			s.ragged++
			if s.firstRagged == 0 {
				s.firstRagged = row.Line
			}
		}
		if strings.Contains(bad.Error(), "UTF-8") {
			s.badUTF8++
			if s.firstBadUTF8 == 0 {
				s.firstBadUTF8 = row.Line
			}
		}
	}
	var addr verifier.Address
	if bad == nil {
		var err error
		if addr, err = verifier.ParseAddress(row.Email); err != nil {
			bad = err
		}
	}
	if bad != nil {
		// The row's own verdict, decided now: it needs no probe.
		v := verifier.Verdict{Input: sanitize(row.Email), Status: verifier.Undeliverable, Reason: verifier.ReasonSyntax,
			Detail: syntaxDetail(bad), CatchAll: verifier.CatchAllNotChecked}
		verdict, _ = json.Marshal(v)
		st, rs := string(v.Status), string(v.Reason)
		status, reason, verifiedAt = &st, &rs, &s.now
		s.counts.add(st, 1)
		s.verified++
	} else {
		norm, d := addr.String(), addr.Domain
		b := s.batches.assign(d)
		emailNorm, domain, batch = &norm, &d, &b
	}
	s.values = append(s.values[:0], s.listID, s.n, row.Line, sanitizeAll(row.Fields), sanitize(row.Email),
		emailNorm, domain, batch, status, reason, verdict, verifiedAt)
	return true
}

func (s *rowSource) Values() ([]any, error) { return s.values, nil }
func (s *rowSource) Err() error             { return s.err }

func syntaxDetail(err error) string {
	var se *verifier.SyntaxError
	if errors.As(err, &se) {
		return se.Reason
	}
	return err.Error()
}

// sanitize makes a cell storable as PostgreSQL text: valid UTF-8, no NUL.
func sanitize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

func sanitizeAll(f []string) []string {
	out := make([]string, len(f))
	for i, s := range f {
		out[i] = sanitize(s)
	}
	return out
}

// batcher groups rows into verification batches by domain as they stream
// in: a domain's rows share a batch, so one job asks one MX host about many
// recipients in one session; small domains are packed together; a large
// domain is split into batches of at most size rows.
type batcher struct {
	size     int
	n        int // batches opened; IDs are 1..n
	open     int // the batch new domains join; 0 before the first
	byDomain map[string]int
	fill     map[int]int
}

func newBatcher(size int) *batcher {
	return &batcher{size: size, byDomain: map[string]int{}, fill: map[int]int{}}
}

func (b *batcher) assign(domain string) int {
	id, known := b.byDomain[domain]
	if known && b.fill[id] < b.size {
		b.fill[id]++
		return id
	}
	// A new domain joins the open batch while it has room; a domain whose
	// batch is full starts a fresh one, which new domains then join.
	if !known && b.open > 0 && b.fill[b.open] < b.size {
		id = b.open
	} else {
		b.n++
		id, b.open = b.n, b.n
	}
	b.byDomain[domain] = id
	b.fill[id]++
	return id
}

func (b *batcher) count() int { return b.n }

// GetList returns a list of the workspace.
func (s *Store) GetList(ctx context.Context, ws, id int64) (List, error) {
	var l List
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, status, total, processed, deliverable, undeliverable, risky, unknown,
			COALESCE(error, ''), created_at, finished_at, header, email_column, separator, batches, workspace_id
		FROM lists WHERE id = $1 AND workspace_id = $2`, id, ws).Scan(
		&l.ID, &l.Name, &l.Status, &l.Total, &l.Processed, &l.Counts.Deliverable, &l.Counts.Undeliverable,
		&l.Counts.Risky, &l.Counts.Unknown, &l.Error, &l.CreatedAt, &l.FinishedAt, &l.Header, &l.Column, &l.Separator, &l.Batches, &l.Workspace)
	if errors.Is(err, pgx.ErrNoRows) {
		return List{}, ErrNotFound
	}
	return l, err
}

// CancelList stops a list: rows without a verdict keep none, and pending
// batches are skipped by the workers.
func (s *Store) CancelList(ctx context.Context, ws, id int64) (List, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE lists SET status = 'cancelled', updated_at = now(), finished_at = now()
		WHERE id = $1 AND workspace_id = $2 AND status IN ('queued', 'running')`, id, ws)
	if err != nil {
		return List{}, err
	}
	l, err := s.GetList(ctx, ws, id)
	if err == nil && tag.RowsAffected() == 0 && l.Status != "cancelled" {
		return l, fmt.Errorf("%w: list %d is already %s", ErrConflict, id, l.Status)
	}
	return l, err
}

// DeleteList erases a list and all its rows. The list row is locked first,
// the order SaveVerdicts uses too, so deleting a list that workers are
// writing to waits for them instead of deadlocking.
func (s *Store) DeleteList(ctx context.Context, ws, id int64) error {
	return retryDeadlock(ctx, func() error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM lists WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, id, ws).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM list_rows WHERE list_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM lists WHERE id = $1`, id); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// ResultRow is one row of a list with its verdict, if it has one yet.
type ResultRow struct {
	RowNum  int
	Line    int
	Fields  []string
	Verdict *verifier.Verdict
}

// Results streams the rows of a list in upload order to fn; status, when
// not empty, keeps only rows with that verdict status.
func (s *Store) Results(ctx context.Context, ws, id int64, status string, fn func(ResultRow) error) error {
	if _, err := s.GetList(ctx, ws, id); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT r.row_num, r.line, r.fields, r.verdict
		FROM list_rows r
		WHERE r.list_id = $1 AND ($2 = '' OR r.status = $2)
		ORDER BY r.row_num`, id, status)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r  ResultRow
			vb []byte
		)
		if err := rows.Scan(&r.RowNum, &r.Line, &r.Fields, &vb); err != nil {
			return err
		}
		if vb != nil {
			var v verifier.Verdict
			if err := json.Unmarshal(vb, &v); err != nil {
				return fmt.Errorf("store: row %d verdict: %w", r.RowNum, err)
			}
			r.Verdict = &v
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListLists returns the workspace's lists, newest first (at most 200).
func (s *Store) ListLists(ctx context.Context, ws int64) ([]List, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, name, status, total, processed, deliverable, undeliverable, risky, unknown,
			COALESCE(error, ''), created_at, finished_at
		FROM lists WHERE workspace_id = $1 ORDER BY id DESC LIMIT 200`, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []List{}
	for rows.Next() {
		var l List
		if err := rows.Scan(&l.ID, &l.Name, &l.Status, &l.Total, &l.Processed, &l.Counts.Deliverable, &l.Counts.Undeliverable,
			&l.Counts.Risky, &l.Counts.Unknown, &l.Error, &l.CreatedAt, &l.FinishedAt); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
