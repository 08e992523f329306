package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Back-off from a recipient provider. Each sender-side rejection a
// mailbox gets from a provider raises its level there by one, up to
// BackoffMaxLevel, and its sends to that provider are then spaced by
// BackoffBase << (level-1): 5, 10, 20, 40, 80, 160 minutes, so at most 12,
// 6, 3, ... messages an hour. A provider that has refused nothing for
// BackoffFor is sent to normally again.
const (
	BackoffBase     = 5 * time.Minute
	BackoffMaxLevel = 6
	BackoffFor      = 24 * time.Hour
)

// SenderRejection is one refusal of the sender by a recipient's provider.
type SenderRejection struct {
	Workspace, MailboxID int64
	Provider             string
	EnrollmentID         int64
	Step                 int
	AtSend               bool // refused in the SMTP transaction; false: a DSN
	Status, Reason       string
	Diagnostic           string
}

// Backoff is a mailbox's state with one provider.
type Backoff struct {
	Provider   string    `json:"provider"`
	Level      int       `json:"level"`
	Spacing    string    `json:"spacing"` // between sends to the provider
	NextAt     time.Time `json:"next_at"`
	RejectedAt time.Time `json:"rejected_at"`
}

// RecordSenderRejection stores a rejection and raises the mailbox's
// back-off from the provider, in tx.
func (s *Store) RecordSenderRejection(ctx context.Context, tx pgx.Tx, r SenderRejection) (Backoff, error) {
	var enrollment *int64
	var step *int
	if r.EnrollmentID != 0 {
		enrollment, step = &r.EnrollmentID, &r.Step
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO sender_rejections (workspace_id, mailbox_id, provider, enrollment_id, step, at_send, status, reason, diagnostic)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.Workspace, r.MailboxID, r.Provider, enrollment, step, r.AtSend, r.Status, r.Reason, r.Diagnostic); err != nil {
		return Backoff{}, err
	}
	b := Backoff{Provider: r.Provider}
	err := tx.QueryRow(ctx, `
		INSERT INTO mailbox_backoffs AS b (mailbox_id, provider, level, next_at, rejected_at)
		VALUES ($1, $2, 1, now() + $3::bigint * interval '1 microsecond', now())
		ON CONFLICT (mailbox_id, provider) DO UPDATE SET
			level = CASE WHEN b.rejected_at > now() - $5::bigint * interval '1 microsecond' THEN least(b.level + 1, $4) ELSE 1 END,
			rejected_at = now(),
			next_at = now() + $3::bigint * interval '1 microsecond'
				* (1 << (CASE WHEN b.rejected_at > now() - $5::bigint * interval '1 microsecond' THEN least(b.level + 1, $4) ELSE 1 END - 1))
		RETURNING level, next_at, rejected_at`,
		r.MailboxID, r.Provider, BackoffBase.Microseconds(), BackoffMaxLevel, BackoffFor.Microseconds()).Scan(&b.Level, &b.NextAt, &b.RejectedAt)
	if err != nil {
		return Backoff{}, err
	}
	b.Spacing = backoffSpacing(b.Level).String()
	return b, nil
}

// backoffSpacing is the spacing of a back-off level; a level below 1 (a
// zero Backoff, say) has the base spacing rather than a negative shift.
func backoffSpacing(level int) time.Duration {
	if level < 1 {
		level = 1
	}
	return BackoffBase << (level - 1)
}

// TakeProviderSlot takes the mailbox's next send to a provider it is
// backing off from: true when there is no back-off or its spacing has
// passed (the next slot is then pushed by the spacing); otherwise false
// and when the next slot opens.
func (s *Store) TakeProviderSlot(ctx context.Context, mailboxID int64, provider string) (bool, time.Time, error) {
	var next *time.Time
	var taken bool
	err := s.pool.QueryRow(ctx, `
		WITH b AS (
			SELECT level, next_at FROM mailbox_backoffs
			WHERE mailbox_id = $1 AND provider = $2 AND rejected_at > now() - $4::bigint * interval '1 microsecond'
			FOR UPDATE
		), took AS (
			UPDATE mailbox_backoffs m SET next_at = now() + $3::bigint * interval '1 microsecond' * (1 << (b.level - 1))
			FROM b WHERE m.mailbox_id = $1 AND m.provider = $2 AND b.next_at <= now()
			RETURNING 1
		)
		SELECT (SELECT next_at FROM b), EXISTS (SELECT 1 FROM took)`,
		mailboxID, provider, BackoffBase.Microseconds(), BackoffFor.Microseconds()).Scan(&next, &taken)
	if err != nil || next == nil || taken {
		return true, time.Time{}, err
	}
	return false, *next, nil
}

// Backoffs lists a mailbox's current back-offs.
func (s *Store) Backoffs(ctx context.Context, mailboxID int64) ([]Backoff, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT provider, level, next_at, rejected_at FROM mailbox_backoffs
		WHERE mailbox_id = $1 AND rejected_at > now() - $2::bigint * interval '1 microsecond' ORDER BY provider`,
		mailboxID, BackoffFor.Microseconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Backoff, error) {
		var b Backoff
		err := r.Scan(&b.Provider, &b.Level, &b.NextAt, &b.RejectedAt)
		b.Spacing = backoffSpacing(b.Level).String()
		return b, err
	})
}

// SenderRejectionRate counts, over a mailbox's last n sends, the
// sender-side rejections: sent touches a DSN reported as such, plus the
// refusals at send time since the oldest of those sends (each of which
// was an attempt too).
func (s *Store) SenderRejectionRate(ctx context.Context, tx pgx.Tx, mailboxID int64, n int) (attempts, hits int, err error) {
	err = tx.QueryRow(ctx, `
		WITH last AS (
			SELECT outcome, sent_at FROM touches WHERE status = 'sent' AND mailbox_id = $1 ORDER BY sent_at DESC LIMIT $2
		), at_send AS (
			SELECT count(*) AS n FROM sender_rejections
			WHERE mailbox_id = $1 AND at_send AND created_at >= COALESCE((SELECT min(sent_at) FROM last), '-infinity')
		)
		SELECT (SELECT count(*) FROM last) + (SELECT n FROM at_send),
			(SELECT count(*) FROM last WHERE outcome = 'sender_rejection') + (SELECT n FROM at_send)`, mailboxID, n).Scan(&attempts, &hits)
	return attempts, hits, err
}

// WorkspaceBackoffs lists the current back-offs of every mailbox of a
// workspace.
func (s *Store) WorkspaceBackoffs(ctx context.Context, ws int64) (map[int64][]Backoff, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.mailbox_id, b.provider, b.level, b.next_at, b.rejected_at FROM mailbox_backoffs b JOIN mailboxes m ON m.id = b.mailbox_id
		WHERE m.workspace_id = $1 AND b.rejected_at > now() - $2::bigint * interval '1 microsecond' ORDER BY b.mailbox_id, b.provider`,
		ws, BackoffFor.Microseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]Backoff{}
	for rows.Next() {
		var id int64
		var b Backoff
		if err := rows.Scan(&id, &b.Provider, &b.Level, &b.NextAt, &b.RejectedAt); err != nil {
			return nil, err
		}
		b.Spacing = backoffSpacing(b.Level).String()
		out[id] = append(out[id], b)
	}
	return out, rows.Err()
}
