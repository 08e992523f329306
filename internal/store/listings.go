package store

import (
	"context"
	"time"
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
