package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The hot path of a touch. A send used to cost about twenty round trips
// to PostgreSQL (four reads, a claim transaction of seven statements and a
// completion transaction of seven), and on a two-core machine those round
// trips, not SMTP or DKIM, bounded the send rate. The statements below do
// the same work in three exchanges: one read, one claim
// statement, and a completion transaction of one statement and the next
// step's job.

// TouchContext is what a touch job needs to decide and compose: the
// enrollment with the touch of its step (Touches has at most that one),
// its cadence, its lead and the enrollment's mailbox.
type TouchContext struct {
	Enrollment Enrollment
	Cadence    Cadence
	Lead       Lead
	Mailbox    Mailbox
	HasMailbox bool // false when the enrollment's mailbox was deleted
	// BackingOff lists the providers the mailbox is backing off from
	// (see TakeProviderSlot); usually none.
	BackingOff []string
}

// touchContextSQL is one row: the enrollment, its cadence and lead, the
// touch of step $2 and the mailbox (NULLs when there is none), and the
// providers the mailbox backs off from. Each part keeps its own column
// list and scanner (columns reads them in turn).
var touchContextSQL = `
	SELECT en.*, c.*, l.*, t.*, m.*, ARRAY(SELECT provider FROM mailbox_backoffs
		WHERE mailbox_id = en.mailbox_id AND rejected_at > now() - $3::bigint * interval '1 microsecond')
	FROM (SELECT ` + enrollmentColumns + ` FROM enrollments WHERE id = $1) en
	CROSS JOIN LATERAL (SELECT ` + cadenceColumns + ` FROM cadences WHERE id = en.cadence_id) c
	CROSS JOIN LATERAL (SELECT ` + leadColumnsSQL + ` FROM leads WHERE id = en.lead_id) l
	LEFT JOIN LATERAL (SELECT ` + touchColumns + ` FROM touches WHERE enrollment_id = $1 AND step = $2) t ON true
	LEFT JOIN LATERAL (SELECT ` + mailboxColumns + ` FROM mailboxes WHERE id = en.mailbox_id) m ON true`

// TouchContext reads, in one statement, everything a touch of (enrollment,
// step) needs. ErrNotFound when the enrollment is gone.
func (s *Store) TouchContext(ctx context.Context, enrollmentID int64, step int) (TouchContext, error) {
	var tc TouchContext
	rows, err := s.pool.Query(ctx, touchContextSQL, enrollmentID, step, BackoffFor.Microseconds())
	if err != nil {
		return tc, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return tc, err
		}
		return tc, ErrNotFound // the enrollment, or its lead or cadence
	}
	row := &columns{rows: rows}
	en, err := scanEnrollment(row)
	if err != nil {
		return tc, err
	}
	if tc.Cadence, err = scanCadence(row); err != nil {
		return tc, err
	}
	if tc.Lead, err = scanLead(row); err != nil {
		return tc, err
	}
	en.Touches = []Touch{}
	t, err := scanTouch(row)
	switch {
	case err == nil:
		en.Touches = append(en.Touches, t)
	case !errors.Is(err, ErrNotFound):
		return tc, err
	}
	tc.Enrollment = en
	tc.Mailbox, err = scanMailbox(row)
	switch {
	case err == nil:
		tc.HasMailbox = true
	case !errors.Is(err, ErrNotFound):
		return tc, err
	}
	if err := row.Scan(&tc.BackingOff); err != nil {
		return tc, err
	}
	if n := len(rows.RawValues()); row.pos != n {
		return tc, fmt.Errorf("store: TouchContext read %d of %d columns", row.pos, n)
	}
	rows.Close()
	return tc, rows.Err()
}

// columns reads the current row of rows a part at a time: each Scan takes
// as many columns as it has destinations, so a table's scanner reads its
// own columns out of a join. A part whose columns are all NULL (a LEFT
// JOIN that matched nothing) answers pgx.ErrNoRows, as a missing row would.
type columns struct {
	rows pgx.Rows
	pos  int
}

func (c *columns) Scan(dest ...any) error {
	vals, fds := c.rows.RawValues(), c.rows.FieldDescriptions()
	end := c.pos + len(dest)
	if end > len(vals) {
		return fmt.Errorf("store: %d columns asked for, %d left", len(dest), len(vals)-c.pos)
	}
	vals, fds = vals[c.pos:end], fds[c.pos:end]
	c.pos = end
	if !slices.ContainsFunc(vals, func(v []byte) bool { return v != nil }) {
		return pgx.ErrNoRows
	}
	return pgx.ScanRow(c.rows.Conn().TypeMap(), fds, vals, dest...)
}

// Claim is the answer of ClaimTouch.
type Claim struct {
	Claimed bool
	// Why it was not: "enrollment" (State and NextStep say how it moved
	// on), "touch" (TouchStatus is not 'scheduled'), "suppressed",
	// "spacing" (retry at RetryAt, Wait from now on the database's clock)
	// or "daily_cap".
	Why         string
	State       string
	NextStep    int
	TouchStatus string
	RetryAt     time.Time
	Wait        time.Duration
}

// ClaimRequest says which touch to claim on which mailbox, and under what
// limits.
type ClaimRequest struct {
	EnrollmentID int64
	Step         int
	Workspace    int64
	Email        string // checked against the suppressions, with its domain
	Domain       string
	MailboxID    int64
	CapToday     int
	Day          time.Time
	Spacing      time.Duration
	MessageID    string
	Variant      string
	JobID        int64 // the River job claiming it (see Touch.ClaimJobID)
}

// ClaimTouch takes a send slot for (enrollment, step), in one statement
// that commits on its own, before any byte goes to SMTP. Under row locks
// taken in a fixed order (enrollment, touch, mailbox), it checks that the
// enrollment is still active at this step, that the touch is still
// 'scheduled', that the address and its domain are not suppressed, that
// the mailbox's spacing has passed (on the database's clock) and that its
// count for the day is under the cap; then it counts the send, pushes the
// mailbox's next allowed send time and moves the touch to 'sending' with
// its Message-ID. A reply or unsubscribe committed before the claim stops
// it; one committed after it finds the touch already claimed.
//
// The day's counter is incremented by INSERT ... ON CONFLICT DO UPDATE
// WHERE sent < cap, which reads the row's latest version under its lock,
// so the cap holds even without the mailbox lock.
func (s *Store) ClaimTouch(ctx context.Context, r ClaimRequest) (Claim, error) {
	var (
		c                   Claim
		state, touchStatus  *string
		nextStep            *int
		suppressed, claimed bool
		nextSend, dbNow     *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		WITH en AS (
			SELECT state, next_step FROM enrollments WHERE id = $1 FOR UPDATE
		), t AS (
			SELECT t.status FROM touches t, en
			WHERE t.enrollment_id = $1 AND t.step = $2 AND en.state = 'active' AND en.next_step = $2
			FOR UPDATE OF t
		), sup AS (
			SELECT EXISTS (SELECT 1 FROM suppressions WHERE workspace_id = $3 AND email_hash = ANY($4)) AS yes
		), mb AS (
			SELECT m.next_send_at, clock_timestamp() AS db_now FROM mailboxes m, t, sup
			WHERE m.id = $5 AND t.status = 'scheduled' AND NOT sup.yes
			FOR NO KEY UPDATE OF m
		), ready AS (
			SELECT db_now FROM mb WHERE $8::bigint = 0 OR db_now >= next_send_at
		), day AS (
			INSERT INTO mailbox_days AS d (mailbox_id, day, sent)
			SELECT $5, $6, 1 FROM ready WHERE $7 > 0
			ON CONFLICT (mailbox_id, day) DO UPDATE SET sent = d.sent + 1 WHERE d.sent < $7
			RETURNING sent
		), spaced AS (
			UPDATE mailboxes SET next_send_at = (SELECT db_now FROM ready) + $8::bigint * interval '1 microsecond'
			WHERE id = $5 AND $8 > 0 AND EXISTS (SELECT 1 FROM day)
		), claimed AS (
			UPDATE touches SET status = 'sending', mailbox_id = $5, message_id = $9, variant = NULLIF($10, ''),
				claim_job_id = NULLIF($11::bigint, 0), updated_at = now()
			WHERE enrollment_id = $1 AND step = $2 AND EXISTS (SELECT 1 FROM day)
			RETURNING 1
		)
		SELECT (SELECT state FROM en), (SELECT next_step FROM en), (SELECT status FROM t), (SELECT yes FROM sup),
			(SELECT next_send_at FROM mb), (SELECT db_now FROM mb), EXISTS (SELECT 1 FROM claimed)`,
		r.EnrollmentID, r.Step, r.Workspace, [][]byte{EmailHash(r.Email), EmailHash("@" + r.Domain)},
		r.MailboxID, r.Day, r.CapToday, r.Spacing.Microseconds(), r.MessageID, r.Variant, r.JobID,
	).Scan(&state, &nextStep, &touchStatus, &suppressed, &nextSend, &dbNow, &claimed)
	if err != nil {
		return c, err
	}
	switch {
	case state == nil:
		return c, ErrNotFound
	case claimed:
		c.Claimed = true
	case *state != "active" || *nextStep != r.Step:
		c.Why = "enrollment"
	case touchStatus == nil:
		return c, ErrNotFound
	case *touchStatus != "scheduled":
		c.Why = "touch"
	case suppressed:
		c.Why = "suppressed"
	case nextSend == nil:
		return c, ErrNotFound // the mailbox is gone
	case r.Spacing > 0 && dbNow.Before(*nextSend):
		c.Why, c.RetryAt, c.Wait = "spacing", *nextSend, nextSend.Sub(*dbNow)
	default:
		c.Why = "daily_cap"
	}
	c.State, c.NextStep = *state, *nextStep
	if touchStatus != nil {
		c.TouchStatus = *touchStatus
	}
	return c, nil
}

// Sent is what RecordSent writes for a touch SMTP accepted.
type Sent struct {
	Workspace, EnrollmentID, LeadID int64
	Step                            int
	Outcome                         string
	// ThreadMessageID and ThreadSubject start the enrollment's thread
	// when it has none yet.
	ThreadMessageID, ThreadSubject string
	// Next is the step scheduled next (0: none), with its channel and due
	// time; with no next step and Finish, the enrollment is finished.
	Next        int
	NextChannel string
	NextDue     time.Time
	Finish      bool
}

// RecordSent records, in tx and in one statement, a touch accepted by
// SMTP: the touch 'sent' (the lead's history shows it as a touch_sent
// event, see LeadEvents), the enrollment's thread, and either the next
// step's touch row or the enrollment finished. The caller inserts the next
// step's job in tx.
func (s *Store) RecordSent(ctx context.Context, tx pgx.Tx, r Sent) error {
	_, err := tx.Exec(ctx, `WITH next AS (`+scheduleTouchSQL+`),
		sent AS (UPDATE touches SET status = 'sent', sent_at = now(), outcome = $7, updated_at = now()
			WHERE enrollment_id = $1 AND step = $6)
		UPDATE enrollments SET
			thread_message_id = COALESCE(thread_message_id, NULLIF($8, '')),
			thread_subject = COALESCE(thread_subject, NULLIF($9, '')),
			next_step = CASE WHEN $2 > 0 THEN $2 ELSE next_step END,
			state = CASE WHEN $10 AND state = 'active' THEN 'finished' ELSE state END,
			state_reason = CASE WHEN $10 AND state = 'active' THEN 'all steps done' ELSE state_reason END,
			updated_at = now()
		WHERE id = $1`,
		r.EnrollmentID, r.Next, r.Workspace, r.NextChannel, r.NextDue,
		r.Step, r.Outcome, r.ThreadMessageID, r.ThreadSubject, r.Finish)
	return err
}

// ReopenTouch schedules a sent touch to be sent again at due, after its
// message bounced softly: the enrollment (active and not yet past the next
// step's send, or finished with this as its last step) goes back to this
// step, and the next step's touch, still only scheduled, is dropped; the
// resend schedules it anew. False, changing nothing, when the enrollment
// moved on or stopped.
func (s *Store) ReopenTouch(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, due time.Time, outcome string) (bool, error) {
	en, err := s.EnrollmentForUpdate(ctx, tx, enrollmentID)
	if err != nil {
		return false, err
	}
	switch {
	case en.State == "active" && en.NextStep == step+1:
		next, err := s.TouchForUpdate(ctx, tx, enrollmentID, step+1)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, err
		}
		if err == nil && next.Status != "scheduled" {
			return false, nil // the thread went on; resending would reorder it
		}
		if _, err := tx.Exec(ctx, `DELETE FROM touches WHERE enrollment_id = $1 AND step = $2 AND status = 'scheduled'`, enrollmentID, step+1); err != nil {
			return false, err
		}
	case en.State == "finished" && en.NextStep == step:
	default:
		return false, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE touches SET status = 'scheduled', due_at = $3, outcome = $4, sent_at = NULL, updated_at = now()
		WHERE enrollment_id = $1 AND step = $2 AND status = 'sent'`, enrollmentID, step, due, outcome)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	_, err = tx.Exec(ctx, `UPDATE enrollments SET next_step = $2, state = 'active', state_reason = '', updated_at = now() WHERE id = $1`, enrollmentID, step)
	return err == nil, err
}
