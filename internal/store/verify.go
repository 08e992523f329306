package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/verifier"
)

// PendingRow is a row of a batch that still needs its verdict.
type PendingRow struct {
	RowNum    int
	Email     string // normalized
	Fields    []string
	LeadCache *verifier.Verdict // a fresh verdict of the same address, if known
}

// Batch is the work of one verification job.
type Batch struct {
	List List
	Rows []PendingRow
}

// PendingBatch returns the rows of a batch without a verdict, with the
// fresh verdicts the workspace already has for their addresses (newer than
// maxAge), so a list cleaned again costs little.
func (s *Store) PendingBatch(ctx context.Context, listID int64, batch int, maxAge time.Duration) (Batch, error) {
	var b Batch
	var ws int64
	if err := s.pool.QueryRow(ctx, `SELECT workspace_id FROM lists WHERE id = $1`, listID).Scan(&ws); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return b, ErrNotFound
		}
		return b, err
	}
	l, err := s.GetList(ctx, ws, listID)
	if err != nil {
		return b, err
	}
	b.List = l
	rows, err := s.pool.Query(ctx, `
		SELECT r.row_num, r.email_norm, r.fields, l.verification
		FROM list_rows r
		LEFT JOIN leads l ON l.workspace_id = $3 AND lower(l.email) = lower(r.email_norm)
			AND l.verified_at > now() - make_interval(secs => $4)
		WHERE r.list_id = $1 AND r.batch = $2 AND r.status IS NULL
		ORDER BY r.row_num`, listID, batch, ws, maxAge.Seconds())
	if err != nil {
		return b, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p  PendingRow
			vb []byte
		)
		if err := rows.Scan(&p.RowNum, &p.Email, &p.Fields, &vb); err != nil {
			return b, err
		}
		if vb != nil {
			var v verifier.Verdict
			if json.Unmarshal(vb, &v) == nil && v.Status != "" {
				p.LeadCache = &v
			}
		}
		b.Rows = append(b.Rows, p)
	}
	return b, rows.Err()
}

// MarkRunning moves a queued list to running.
func (s *Store) MarkRunning(ctx context.Context, listID int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE lists SET status = 'running', updated_at = now() WHERE id = $1 AND status = 'queued'`, listID)
	return err
}

// ListStatus returns a list's status, for workers to notice cancellation.
func (s *Store) ListStatus(ctx context.Context, listID int64) (string, error) {
	var st string
	err := s.pool.QueryRow(ctx, `SELECT status FROM lists WHERE id = $1`, listID).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return st, err
}

// RowVerdict is a verdict for one row.
type RowVerdict struct {
	RowNum  int
	Fields  []string
	Verdict verifier.Verdict
}

// SaveVerdicts writes verdicts in one transaction: each row only if it has
// none yet, the list's counts by the rows actually written, and the leads
// of those rows (created or merged, with their latest verification and a
// history event). A batch retried after a crash therefore never counts a
// row twice. then, when not nil, runs in the same transaction (River's
// JobCompleteTx).
func (s *Store) SaveVerdicts(ctx context.Context, l List, verdicts []RowVerdict, then func(pgx.Tx) error) error {
	return retryDeadlock(ctx, func() error { return s.saveVerdicts(ctx, l, verdicts, then) })
}

func (s *Store) saveVerdicts(ctx context.Context, l List, verdicts []RowVerdict, then func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The list first: chunks of one list serialize on it anyway (they all
	// update its counters), and DeleteList locks in the same order.
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM lists WHERE id = $1 FOR NO KEY UPDATE`, l.ID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		if then != nil {
			if err := then(tx); err != nil {
				return err
			}
		}
		return tx.Commit(ctx) // deleted meanwhile: nothing to write
	}
	if err != nil {
		return err
	}
	if len(verdicts) > 0 {
		nums := make([]int32, len(verdicts))
		statuses := make([]string, len(verdicts))
		reasons := make([]string, len(verdicts))
		docs := make([]string, len(verdicts))
		for i, v := range verdicts {
			b, _ := json.Marshal(v.Verdict)
			nums[i], statuses[i], reasons[i], docs[i] = int32(v.RowNum), string(v.Verdict.Status), string(v.Verdict.Reason), string(b)
		}
		rows, err := tx.Query(ctx, `
			UPDATE list_rows r SET status = u.status, reason = u.reason, verdict = u.verdict::jsonb, verified_at = now()
			FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) AS u(row_num, status, reason, verdict)
			WHERE r.list_id = $1 AND r.row_num = u.row_num AND r.status IS NULL
			RETURNING r.row_num, r.status`, l.ID, nums, statuses, reasons, docs)
		if err != nil {
			return err
		}
		written := map[int32]bool{}
		var c Counts
		n := 0
		for rows.Next() {
			var num int32
			var st string
			if err := rows.Scan(&num, &st); err != nil {
				rows.Close()
				return err
			}
			written[num] = true
			c.add(st, 1)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n > 0 {
			var finished bool
			if err := tx.QueryRow(ctx, `
				UPDATE lists SET processed = processed + $2, deliverable = deliverable + $3, undeliverable = undeliverable + $4,
					risky = risky + $5, unknown = unknown + $6, updated_at = now(),
					status = CASE WHEN status IN ('queued', 'running') THEN
						CASE WHEN processed + $2 >= total THEN 'done' ELSE 'running' END ELSE status END,
					finished_at = CASE WHEN status IN ('queued', 'running') AND processed + $2 >= total THEN now() ELSE finished_at END
				WHERE id = $1
				RETURNING status = 'done' AND finished_at = now()`, l.ID, n, c.Deliverable, c.Undeliverable, c.Risky, c.Unknown).Scan(&finished); err != nil {
				return err
			}
			// Exactly one transaction finishes a list: the one whose update
			// set finished_at (now() is its own start time).
			if finished && s.OnListDone != nil {
				if err := s.OnListDone(ctx, tx, l); err != nil {
					return err
				}
			}
			var fresh []RowVerdict
			for _, v := range verdicts {
				if written[int32(v.RowNum)] {
					fresh = append(fresh, v)
				}
			}
			if err := upsertLeads(ctx, tx, l, fresh); err != nil {
				return err
			}
		}
	}
	if then != nil {
		if err := then(tx); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// leadColumns maps normalized header names to lead fields; other columns
// become custom fields.
var leadColumns = map[string]string{
	"firstname": "first_name", "first": "first_name", "givenname": "first_name", "forename": "first_name",
	"lastname": "last_name", "last": "last_name", "surname": "last_name", "familyname": "last_name",
	"company": "company", "companyname": "company", "organization": "company", "organisation": "company", "account": "company", "accountname": "company",
	"title": "title", "jobtitle": "title", "position": "title", "role": "title",
	"timezone": "timezone", "tz": "timezone", "timezonename": "timezone",
}

func normColumn(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.NewReplacer(" ", "", "_", "", "-", "", ".", "").Replace(h)
}

// upsertLeads creates or merges the leads of verified rows: non-empty
// uploaded fields win, custom fields merge, the verification is replaced.
func upsertLeads(ctx context.Context, tx pgx.Tx, l List, rows []RowVerdict) error {
	type leadRow struct {
		email                           string
		first, last, company, title, tz string
		custom                          map[string]string
		status, reason, verdict         string
	}
	byEmail := map[string]int{}
	var leads []leadRow
	for _, r := range rows {
		email := r.Verdict.Address
		if email == "" {
			continue
		}
		lr := leadRow{email: email, custom: map[string]string{}, status: string(r.Verdict.Status), reason: string(r.Verdict.Reason)}
		b, _ := json.Marshal(r.Verdict)
		lr.verdict = string(b)
		for i, h := range l.Header {
			if i == l.Column || i >= len(r.Fields) {
				continue
			}
			v := strings.TrimSpace(r.Fields[i])
			if v == "" {
				continue
			}
			switch leadColumns[normColumn(h)] {
			case "first_name":
				lr.first = v
			case "last_name":
				lr.last = v
			case "company":
				lr.company = v
			case "title":
				lr.title = v
			case "timezone":
				lr.tz = v
			default:
				lr.custom[h] = v
			}
		}
		// One statement may not touch a row twice: the last row of an
		// address in the batch wins, as a re-upload would.
		key := strings.ToLower(email)
		if i, ok := byEmail[key]; ok {
			leads[i] = lr
			continue
		}
		byEmail[key] = len(leads)
		leads = append(leads, lr)
	}
	if len(leads) == 0 {
		return nil
	}
	n := len(leads)
	emails, firsts, lasts, companies, titles, tzs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	customs, statuses, reasons, verdicts := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, lr := range leads {
		cb, _ := json.Marshal(lr.custom)
		emails[i], firsts[i], lasts[i], companies[i], titles[i], tzs[i] = lr.email, lr.first, lr.last, lr.company, lr.title, lr.tz
		customs[i], statuses[i], reasons[i], verdicts[i] = string(cb), lr.status, lr.reason, lr.verdict
	}
	_, err := tx.Exec(ctx, `
		WITH up AS (
			INSERT INTO leads AS l (workspace_id, email, first_name, last_name, company, title, timezone, custom,
				verification_status, verification_reason, verification, verified_at)
			SELECT $1, u.email, u.fn, u.ln, u.co, u.ti, u.tz, u.cu::jsonb, u.st, u.rs, u.vd::jsonb, now()
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
				AS u(email, fn, ln, co, ti, tz, cu, st, rs, vd)
			ON CONFLICT (workspace_id, lower(email)) DO UPDATE SET
				first_name = COALESCE(NULLIF(EXCLUDED.first_name, ''), l.first_name),
				last_name = COALESCE(NULLIF(EXCLUDED.last_name, ''), l.last_name),
				company = COALESCE(NULLIF(EXCLUDED.company, ''), l.company),
				title = COALESCE(NULLIF(EXCLUDED.title, ''), l.title),
				timezone = COALESCE(NULLIF(EXCLUDED.timezone, ''), l.timezone),
				custom = l.custom || EXCLUDED.custom,
				verification_status = EXCLUDED.verification_status,
				verification_reason = EXCLUDED.verification_reason,
				verification = EXCLUDED.verification,
				verified_at = EXCLUDED.verified_at,
				updated_at = now()
			RETURNING l.id, l.verification_status, l.verification_reason, (xmax = 0) AS created
		)
		INSERT INTO lead_events (workspace_id, lead_id, type, data)
		SELECT $1, up.id, 'verified', jsonb_build_object('list_id', $12::bigint, 'status', up.verification_status,
			'reason', up.verification_reason, 'created', up.created)
		FROM up`,
		l.Workspace, emails, firsts, lasts, companies, titles, tzs, customs, statuses, reasons, verdicts, l.ID)
	return err
}

// CountVerifiedEvents counts the lead events a list's verification wrote:
// one per row verified by a job, so a batch applied twice would show.
func (s *Store) CountVerifiedEvents(ctx context.Context, listID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM lead_events WHERE type = 'verified' AND (data->>'list_id')::bigint = $1`, listID).Scan(&n)
	return n, err
}
