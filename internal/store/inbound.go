package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// InboundRecord is a message that came back, as stored.
type InboundRecord struct {
	ID           int64          `json:"id"`
	Workspace    *int64         `json:"-"`
	Source       string         `json:"source"`
	ReceivedAt   time.Time      `json:"received_at"`
	EnvelopeFrom string         `json:"envelope_from"`
	EnvelopeTo   []string       `json:"envelope_to"`
	MessageID    string         `json:"message_id,omitempty"`
	Raw          []byte         `json:"-"`
	Truncated    bool           `json:"truncated"`
	Class        string         `json:"class"`
	Rule         string         `json:"rule"`
	MatchedBy    string         `json:"matched_by"`
	EnrollmentID *int64         `json:"enrollment_id,omitempty"`
	LeadID       *int64         `json:"lead_id,omitempty"`
	Step         *int           `json:"step,omitempty"`
	Detail       map[string]any `json:"detail"`
	// Unverified: matched to its lead only by the sender's address, with
	// no evidence that the sender wrote it (see package sequencer); its
	// effects wait for a person to confirm it. Kept in detail.
	Unverified bool `json:"unverified"`
	// Evidence is what tied the message to its lead: "verp",
	// "unsubscribe token", "message-id", "dmarc: ..." (the sender's domain
	// vouched for it), "confirmed by a person". Kept in detail.
	Evidence string `json:"evidence,omitempty"`
}

// fromDetail moves the fields kept in detail to their own.
func (r *InboundRecord) fromDetail() {
	if r.Detail == nil {
		return
	}
	r.Unverified, _ = r.Detail["unverified"].(bool)
	r.Evidence, _ = r.Detail["evidence"].(string)
	delete(r.Detail, "unverified")
	delete(r.Detail, "evidence")
}

// InsertInbound stores a message once: false when the same Message-ID was
// already stored for the workspace (a retried delivery, a re-poll).
func (s *Store) InsertInbound(ctx context.Context, tx pgx.Tx, r InboundRecord) (int64, bool, error) {
	d := map[string]any{}
	for k, v := range r.Detail {
		d[k] = v
	}
	if r.Unverified {
		d["unverified"] = true
	}
	if r.Evidence != "" {
		d["evidence"] = r.Evidence
	}
	detail, _ := json.Marshal(d)
	var msgID *string
	if r.MessageID != "" {
		msgID = &r.MessageID
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO inbound_messages (workspace_id, source, envelope_from, envelope_to, message_id, raw, truncated, class, rule,
			matched_by, enrollment_id, lead_id, step, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (workspace_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
		RETURNING id`,
		r.Workspace, r.Source, r.EnvelopeFrom, r.EnvelopeTo, msgID, r.Raw, r.Truncated, r.Class, r.Rule,
		r.MatchedBy, r.EnrollmentID, r.LeadID, r.Step, detail).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// TouchMatch is the touch a message refers to.
type TouchMatch struct {
	Workspace    int64
	EnrollmentID int64
	Step         int
	LeadID       int64
	LeadEmail    string
	CadenceID    int64
	MailboxID    *int64
}

const touchMatchSQL = `SELECT e.workspace_id, e.id, t.step, e.lead_id, l.email, e.cadence_id, e.mailbox_id
	FROM touches t JOIN enrollments e ON e.id = t.enrollment_id JOIN leads l ON l.id = e.lead_id`

func scanTouchMatch(row pgx.Row) (TouchMatch, error) {
	var m TouchMatch
	err := row.Scan(&m.Workspace, &m.EnrollmentID, &m.Step, &m.LeadID, &m.LeadEmail, &m.CadenceID, &m.MailboxID)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrNotFound
	}
	return m, err
}

// EnrollmentTouch finds the touch of an enrollment of the workspace that a
// message about the whole enrollment (an unsubscribe) answers: the last
// one sent.
func (s *Store) EnrollmentTouch(ctx context.Context, ws, enrollmentID int64) (TouchMatch, error) {
	return scanTouchMatch(s.pool.QueryRow(ctx, touchMatchSQL+` WHERE e.workspace_id = $1 AND e.id = $2
		ORDER BY t.status IN ('sent', 'uncertain') DESC, t.step DESC LIMIT 1`, ws, enrollmentID))
}

// PromoteLead moves a lead from lead to stage, recording the change; false
// when the lead was already past lead (promotion is idempotent).
func (s *Store) PromoteLead(ctx context.Context, tx pgx.Tx, ws, leadID int64, stage, reason string) (bool, error) {
	var from string
	err := tx.QueryRow(ctx, `
		WITH old AS (SELECT stage FROM leads WHERE id = $1 AND workspace_id = $2 FOR UPDATE)
		UPDATE leads l SET stage = $3, updated_at = now() FROM old
		WHERE l.id = $1 AND old.stage = 'lead' RETURNING old.stage`, leadID, ws, stage).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO lead_stages (workspace_id, lead_id, from_stage, to_stage, reason) VALUES ($1, $2, $3, $4, $5)`,
		ws, leadID, from, stage, reason)
	return true, err
}

// PauseEnrollment pauses an active enrollment with a reason.
func (s *Store) PauseEnrollment(ctx context.Context, tx pgx.Tx, id int64, reason string) (bool, error) {
	return s.SetEnrollmentState(ctx, tx, id, []string{"active"}, "paused", reason)
}

// MarkBounced records a hard bounce on a lead: verdict undeliverable
// (bounced), suppressed. (The caller stops its enrollments, with
// StopEnrollments, and reports them.) It returns the verdict status the
// lead had before, to count verifier misses.
func (s *Store) MarkBounced(ctx context.Context, tx pgx.Tx, ws, leadID int64, email, detail string) (string, error) {
	var prev *string
	if err := tx.QueryRow(ctx, `SELECT verification_status FROM leads WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, leadID, ws).Scan(&prev); err != nil {
		return "", err
	}
	verdict, _ := json.Marshal(map[string]any{"status": "undeliverable", "reason": "bounced", "detail": detail})
	if _, err := tx.Exec(ctx, `UPDATE leads SET verification_status = 'undeliverable', verification_reason = 'bounced',
		verification = $3, verified_at = now(), updated_at = now() WHERE id = $1 AND workspace_id = $2`, leadID, ws, verdict); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO suppressions (workspace_id, email_hash, email, reason) VALUES ($1, $2, $3, 'bounced')
		ON CONFLICT (workspace_id, email_hash) DO NOTHING`, ws, EmailHash(email), strings.ToLower(email)); err != nil {
		return "", err
	}
	if prev == nil {
		return "", nil
	}
	return *prev, nil
}

// SuppressTx adds an address to the workspace's suppression list in tx.
func (s *Store) SuppressTx(ctx context.Context, tx pgx.Tx, ws int64, email, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO suppressions (workspace_id, email_hash, email, reason) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, email_hash) DO NOTHING`, ws, EmailHash(email), strings.ToLower(email), reason)
	return err
}

// ForgetDomain drops a domain's cached facts, after a bounce proved them
// wrong.
func (s *Store) ForgetDomain(ctx context.Context, tx pgx.Tx, domain string) error {
	_, err := tx.Exec(ctx, `DELETE FROM domain_facts WHERE domain = lower($1)`, domain)
	return err
}

// LeadStages returns a lead's stage history.
func (s *Store) LeadStages(ctx context.Context, ws, leadID int64) ([]map[string]any, error) {
	rows, err := s.pool.Query(ctx, `SELECT from_stage, to_stage, reason, created_at FROM lead_stages WHERE workspace_id = $1 AND lead_id = $2 ORDER BY id`, ws, leadID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var from, to, reason string
		var at time.Time
		if err := rows.Scan(&from, &to, &reason, &at); err != nil {
			return nil, err
		}
		out = append(out, map[string]any{"from": from, "to": to, "reason": reason, "at": at})
	}
	return out, rows.Err()
}

// SetTouchOutcome records what came back for a sent touch.
func (s *Store) SetTouchOutcome(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, outcome string) error {
	_, err := tx.Exec(ctx, `UPDATE touches SET outcome = $3, updated_at = now() WHERE enrollment_id = $1 AND step = $2`, enrollmentID, step, outcome)
	return err
}

// RecentOutcomes counts, among the workspace's last n sends of a cadence
// (or of a mailbox when cadenceID is 0), how many came back with outcome.
// A touch the recipient's server refused at send time as a hard bounce
// ('failed', outcome hard_bounce) was a send that bounced, and counts.
func (s *Store) RecentOutcomes(ctx context.Context, tx pgx.Tx, ws, cadenceID, mailboxID int64, n int, outcome string) (sends, hits int, err error) {
	err = tx.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE outcome = $4) FROM (
			SELECT t.outcome FROM touches t JOIN enrollments e ON e.id = t.enrollment_id
			WHERE e.workspace_id = $5 AND (t.status = 'sent' OR (t.status = 'failed' AND t.outcome = 'hard_bounce'))
				AND (($1 <> 0 AND e.cadence_id = $1) OR ($1 = 0 AND t.mailbox_id = $2))
			ORDER BY COALESCE(t.sent_at, t.updated_at) DESC LIMIT $3) last`, cadenceID, mailboxID, n, outcome, ws).Scan(&sends, &hits)
	return sends, hits, err
}

// PauseCadenceFor pauses an active cadence with a reason; false when it was
// not active.
func (s *Store) PauseCadenceFor(ctx context.Context, tx pgx.Tx, cadenceID int64, reason string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE cadences SET status = 'paused', paused_reason = $2 WHERE id = $1 AND status = 'active'`, cadenceID, reason)
	return tag.RowsAffected() == 1, err
}

// PauseMailbox stops a mailbox from sending until a person resumes it;
// false when it was already paused.
func (s *Store) PauseMailbox(ctx context.Context, tx pgx.Tx, mailboxID int64, reason string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE mailboxes SET paused_reason = $2 WHERE id = $1 AND paused_reason IS NULL`, mailboxID, reason)
	return tag.RowsAffected() == 1, err
}

// ResumeMailbox lets a paused mailbox send again.
func (s *Store) ResumeMailbox(ctx context.Context, ws, mailboxID int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE mailboxes SET paused_reason = NULL WHERE id = $1 AND workspace_id = $2`, mailboxID, ws)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// Disposition sets a lead's outcome - convert (stage opportunity),
// recycle or disqualify - with a reason, in the stage history; recycle and
// disqualify stop its enrollments. (With the sequencer running,
// sequencer.Operator.Disposition does the same and reports the stops.)
func (s *Store) Disposition(ctx context.Context, ws, leadID int64, disposition, reason string) (Lead, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.SetDisposition(ctx, tx, ws, leadID, disposition, reason); err != nil || disposition == "convert" {
			return err
		}
		_, err := s.StopEnrollments(ctx, tx, ws, StopWhich{LeadID: leadID}, disposition)
		return err
	})
	if err != nil {
		return Lead{}, err
	}
	return s.GetLead(ctx, ws, leadID)
}

// SetDisposition changes a lead's stage for a disposition, in tx, and
// records it in the stage history; it stops nothing.
func (s *Store) SetDisposition(ctx context.Context, tx pgx.Tx, ws, leadID int64, disposition, reason string) error {
	stage := map[string]string{"convert": "opportunity", "recycle": "recycled", "disqualify": "disqualified"}[disposition]
	if stage == "" {
		return fmt.Errorf("store: unknown disposition %q", disposition)
	}
	var from string
	err := tx.QueryRow(ctx, `SELECT stage FROM leads WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, leadID, ws).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE leads SET stage = $3, updated_at = now() WHERE id = $1 AND workspace_id = $2`, leadID, ws, stage); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO lead_stages (workspace_id, lead_id, from_stage, to_stage, reason) VALUES ($1, $2, $3, $4, $5)`,
		ws, leadID, from, stage, disposition+": "+reason)
	return err
}

// CountLeadEvents counts a lead's events of a type.
func (s *Store) CountLeadEvents(ctx context.Context, tx pgx.Tx, ws, leadID int64, typ string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM lead_events WHERE workspace_id = $1 AND lead_id = $2 AND type = $3`, ws, leadID, typ).Scan(&n)
	return n, err
}

// ListInbound returns the workspace's latest inbound messages (no raw).
func (s *Store) ListInbound(ctx context.Context, ws int64, class string, leadID int64, limit int) ([]InboundRecord, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, source, received_at, envelope_from, envelope_to, COALESCE(message_id, ''), truncated, class, rule, matched_by,
			enrollment_id, lead_id, step, detail
		FROM inbound_messages WHERE workspace_id = $1 AND ($2 = '' OR class = $2) AND ($3 = 0 OR lead_id = $3)
		ORDER BY id DESC LIMIT $4`, ws, class, leadID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []InboundRecord{}
	for rows.Next() {
		var r InboundRecord
		var detail []byte
		if err := rows.Scan(&r.ID, &r.Source, &r.ReceivedAt, &r.EnvelopeFrom, &r.EnvelopeTo, &r.MessageID, &r.Truncated, &r.Class, &r.Rule,
			&r.MatchedBy, &r.EnrollmentID, &r.LeadID, &r.Step, &detail); err != nil {
			return nil, err
		}
		json.Unmarshal(detail, &r.Detail)
		r.fromDetail()
		out = append(out, r)
	}
	return out, rows.Err()
}

// InboundForUpdate locks one stored message of the workspace.
func (s *Store) InboundForUpdate(ctx context.Context, tx pgx.Tx, ws, id int64) (InboundRecord, error) {
	var r InboundRecord
	var detail []byte
	err := tx.QueryRow(ctx, `SELECT id, class, rule, enrollment_id, lead_id, step, detail FROM inbound_messages WHERE id = $1 AND workspace_id = $2 FOR UPDATE`,
		id, ws).Scan(&r.ID, &r.Class, &r.Rule, &r.EnrollmentID, &r.LeadID, &r.Step, &detail)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	json.Unmarshal(detail, &r.Detail)
	r.fromDetail()
	return r, err
}

// ConfirmInbound records that a person confirmed an unverified message,
// with evidence saying so.
func (s *Store) ConfirmInbound(ctx context.Context, tx pgx.Tx, id int64, evidence string) error {
	_, err := tx.Exec(ctx, `UPDATE inbound_messages SET detail = (detail - 'unverified') || jsonb_build_object('evidence', $2::text) WHERE id = $1`, id, evidence)
	return err
}

// SetInboundClass records a corrected classification.
func (s *Store) SetInboundClass(ctx context.Context, tx pgx.Tx, id int64, class, rule string) error {
	_, err := tx.Exec(ctx, `UPDATE inbound_messages SET class = $2, rule = $3 WHERE id = $1`, id, class, rule)
	return err
}

// PruneInboundRaw drops the raw bytes of up to limit inbound messages
// received before cutoff, keeping their classification; it returns how
// many it pruned.
func (s *Store) PruneInboundRaw(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE inbound_messages SET raw = NULL, raw_pruned_at = now()
		WHERE id IN (SELECT id FROM inbound_messages WHERE raw IS NOT NULL AND received_at < $1 ORDER BY received_at LIMIT $2)`,
		cutoff, limit)
	return tag.RowsAffected(), err
}

// InboundRaw returns a stored message's raw bytes, whether they were cut
// at the size cap, and when they were pruned (nil while kept).
func (s *Store) InboundRaw(ctx context.Context, ws, id int64) (raw []byte, truncated bool, prunedAt *time.Time, err error) {
	err = s.pool.QueryRow(ctx, `SELECT raw, truncated, raw_pruned_at FROM inbound_messages WHERE id = $1 AND workspace_id = $2`, id, ws).
		Scan(&raw, &truncated, &prunedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	return raw, truncated, prunedAt, err
}
