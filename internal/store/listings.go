package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CadenceEnrollment is one enrollment as a cadence's list shows it.
type CadenceEnrollment struct {
	ID          int64     `json:"id"`
	LeadID      int64     `json:"lead_id"`
	Email       string    `json:"email"`
	MailboxID   *int64    `json:"mailbox_id"`
	State       string    `json:"state"`
	StateReason string    `json:"state_reason,omitempty"`
	NextStep    int       `json:"next_step"`
	CreatedAt   time.Time `json:"created_at"`
}

// CadenceEnrollments pages through a cadence's enrollments in ID order
// after after, optionally in one state; next is 0 on the last page. A
// cadence the workspace does not have is a *NotFoundError.
func (s *Store) CadenceEnrollments(ctx context.Context, ws, cadenceID int64, state string, after int64, limit int) (out []CadenceEnrollment, next int64, err error) {
	if _, err := s.GetCadence(ctx, ws, cadenceID); err != nil {
		if err == ErrNotFound {
			return nil, 0, &NotFoundError{Resource: "cadence", ID: cadenceID}
		}
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.lead_id, l.email, e.mailbox_id, e.state, e.state_reason, e.next_step, e.created_at
		FROM enrollments e JOIN leads l ON l.id = e.lead_id
		WHERE e.workspace_id = $1 AND e.cadence_id = $2 AND e.id > $3 AND ($4 = '' OR e.state = $4)
		ORDER BY e.id LIMIT $5`, ws, cadenceID, after, state, limit+1)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out = []CadenceEnrollment{}
	for rows.Next() {
		var e CadenceEnrollment
		if err := rows.Scan(&e.ID, &e.LeadID, &e.Email, &e.MailboxID, &e.State, &e.StateReason, &e.NextStep, &e.CreatedAt); err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// DeleteWebhook removes an endpoint; deliveries already queued find it
// gone and stop.
func (s *Store) DeleteWebhook(ctx context.Context, ws, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return &NotFoundError{Resource: "webhook", ID: id}
	}
	return nil
}

// MailboxPatch changes a mailbox's limits or pauses it; nil leaves a field
// as it is.
type MailboxPatch struct {
	DailyCap          *int
	MinSpacingSeconds *int
	JitterSeconds     *int
	PausedReason      *string // "" resumes
}

// UpdateMailbox applies p to a mailbox of the workspace. The claim reads
// caps and spacing at every send, so the change holds from the next one.
func (s *Store) UpdateMailbox(ctx context.Context, ws, id int64, p MailboxPatch) (Mailbox, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE mailboxes SET daily_cap = COALESCE($3, daily_cap), min_spacing_seconds = COALESCE($4, min_spacing_seconds),
			jitter_seconds = COALESCE($5, jitter_seconds),
			paused_reason = CASE WHEN $6::text IS NULL THEN paused_reason ELSE NULLIF($6, '') END
		WHERE workspace_id = $1 AND id = $2`, ws, id, p.DailyCap, p.MinSpacingSeconds, p.JitterSeconds, p.PausedReason)
	if err != nil {
		return Mailbox{}, err
	}
	if tag.RowsAffected() == 0 {
		return Mailbox{}, &NotFoundError{Resource: "mailbox", ID: id}
	}
	return s.GetMailbox(ctx, ws, id)
}

// DeleteMailbox removes a mailbox of the workspace. Its enrollments that
// are still running stop with the reason "mailbox_deleted" and their
// scheduled touches are skipped, so nothing waits for a mailbox that is
// gone; cadences stop naming it. A mailbox that is the last of a cadence
// not archived is refused (ErrConflict): that cadence could send nothing.
// It returns how many enrollments stopped.
func (s *Store) DeleteMailbox(ctx context.Context, ws, id int64) (stopped int, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE workspace_id = $1 AND id = $2 FOR UPDATE)`, ws, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return &NotFoundError{Resource: "mailbox", ID: id}
		}
		var only *int64
		if err := tx.QueryRow(ctx, `SELECT min(id) FROM cadences WHERE workspace_id = $1 AND status <> 'archived' AND mailbox_ids = ARRAY[$2::bigint]`, ws, id).Scan(&only); err != nil {
			return err
		}
		if only != nil {
			return fmt.Errorf("%w: mailbox %d is the only mailbox of cadence %d; give the cadence another mailbox or archive it first", ErrConflict, id, *only)
		}
		rows, err := tx.Query(ctx, `
			UPDATE enrollments SET state = 'stopped', state_reason = 'mailbox_deleted', updated_at = now()
			WHERE workspace_id = $1 AND mailbox_id = $2 AND state IN ('active', 'paused') RETURNING id`, ws, id)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		stopped = len(ids)
		if _, err := tx.Exec(ctx, `UPDATE touches SET status = 'skipped', outcome = 'mailbox deleted', updated_at = now()
			WHERE enrollment_id = ANY($1) AND status = 'scheduled'`, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE cadences SET mailbox_ids = array_remove(mailbox_ids, $2) WHERE workspace_id = $1 AND $2 = ANY(mailbox_ids)`, ws, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM mailboxes WHERE workspace_id = $1 AND id = $2`, ws, id)
		return err
	})
	return stopped, err
}
