package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Mailbox is a sending mailbox. Sealed fields hold ciphertext from
// internal/secret and never leave the server.
type Mailbox struct {
	ID                 int64     `json:"id"`
	FromAddress        string    `json:"from_address"`
	FromName           string    `json:"from_name"`
	SMTPHost           string    `json:"smtp_host"`
	SMTPPort           int       `json:"smtp_port"`
	SMTPSecurity       string    `json:"smtp_security"`
	SMTPUsername       string    `json:"smtp_username"`
	DailyCap           int       `json:"daily_cap"`
	MinSpacingSeconds  int       `json:"min_spacing_seconds"`
	JitterSeconds      int       `json:"jitter_seconds"`
	RampStartCap       *int      `json:"ramp_start_cap,omitempty"`
	RampDailyIncrement *int      `json:"ramp_daily_increment,omitempty"`
	Timezone           string    `json:"timezone"`
	DKIMDomain         string    `json:"dkim_domain,omitempty"`
	DKIMSelector       string    `json:"dkim_selector,omitempty"`
	PausedReason       string    `json:"paused_reason,omitempty"` // set by the guardrail on sender-side rejections
	HasPassword        bool      `json:"has_password"`
	HasDKIMKey         bool      `json:"has_dkim_key"`
	CreatedAt          time.Time `json:"created_at"`

	IMAPHost     string     `json:"imap_host,omitempty"`
	IMAPPort     int        `json:"imap_port,omitempty"`
	IMAPSecurity string     `json:"imap_security,omitempty"`
	IMAPUsername string     `json:"imap_username,omitempty"`
	IMAPFolder   string     `json:"imap_folder,omitempty"`
	IMAPPolledAt *time.Time `json:"imap_polled_at,omitempty"`
	IMAPError    string     `json:"imap_error,omitempty"`

	PasswordSealed     string `json:"-"`
	DKIMKeySealed      string `json:"-"`
	IMAPPasswordSealed string `json:"-"`
	IMAPUIDValidity    uint32 `json:"-"`
	IMAPLastUID        uint32 `json:"-"`
	Workspace          int64  `json:"-"`
}

// Sealed are a mailbox's secrets, sealed for its row.
type Sealed struct{ Password, DKIMKey, IMAPPassword string }

const mailboxColumns = `id, workspace_id, from_address, from_name, smtp_host, smtp_port, smtp_security, smtp_username,
	COALESCE(smtp_password_sealed, ''), daily_cap, min_spacing_seconds, jitter_seconds, ramp_start_cap, ramp_daily_increment,
	timezone, COALESCE(dkim_domain, ''), COALESCE(dkim_selector, ''), COALESCE(dkim_key_sealed, ''), created_at, COALESCE(paused_reason, ''),
	COALESCE(imap_host, ''), COALESCE(imap_port, 0), COALESCE(imap_security, ''), COALESCE(imap_username, ''), COALESCE(imap_folder, ''),
	imap_polled_at, COALESCE(imap_error, ''), COALESCE(imap_password_sealed, ''), imap_uidvalidity, imap_last_uid`

func scanMailbox(row pgx.Row) (Mailbox, error) {
	var m Mailbox
	var uidv, last int64
	err := row.Scan(&m.ID, &m.Workspace, &m.FromAddress, &m.FromName, &m.SMTPHost, &m.SMTPPort, &m.SMTPSecurity, &m.SMTPUsername,
		&m.PasswordSealed, &m.DailyCap, &m.MinSpacingSeconds, &m.JitterSeconds, &m.RampStartCap, &m.RampDailyIncrement,
		&m.Timezone, &m.DKIMDomain, &m.DKIMSelector, &m.DKIMKeySealed, &m.CreatedAt, &m.PausedReason,
		&m.IMAPHost, &m.IMAPPort, &m.IMAPSecurity, &m.IMAPUsername, &m.IMAPFolder, &m.IMAPPolledAt, &m.IMAPError,
		&m.IMAPPasswordSealed, &uidv, &last)
	m.IMAPUIDValidity, m.IMAPLastUID = uint32(uidv), uint32(last)
	m.HasPassword, m.HasDKIMKey = m.PasswordSealed != "", m.DKIMKeySealed != ""
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrNotFound
	}
	return m, err
}

// CreateMailbox stores a mailbox. seal is called with the new row's ID to
// seal its secrets, bound to that row, inside the same transaction.
func (s *Store) CreateMailbox(ctx context.Context, ws int64, m Mailbox, seal func(id int64) (Sealed, error)) (Mailbox, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return m, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO mailboxes (workspace_id, from_address, from_name, smtp_host, smtp_port, smtp_security, smtp_username,
			daily_cap, min_spacing_seconds, jitter_seconds, ramp_start_cap, ramp_daily_increment, timezone, dkim_domain, dkim_selector)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, ''), NULLIF($15, ''))
		RETURNING id`,
		ws, m.FromAddress, m.FromName, m.SMTPHost, m.SMTPPort, m.SMTPSecurity, m.SMTPUsername, m.DailyCap, m.MinSpacingSeconds,
		m.JitterSeconds, m.RampStartCap, m.RampDailyIncrement, m.Timezone, m.DKIMDomain, m.DKIMSelector).Scan(&id)
	if isUniqueViolation(err) {
		return m, fmt.Errorf("%w: a mailbox for %s already exists", ErrConflict, m.FromAddress)
	}
	if err != nil {
		return m, err
	}
	sealed, err := seal(id)
	if err != nil {
		return m, err
	}
	if _, err := tx.Exec(ctx, `UPDATE mailboxes SET smtp_password_sealed = NULLIF($2, ''), dkim_key_sealed = NULLIF($3, ''),
		imap_host = NULLIF($4, ''), imap_port = NULLIF($5, 0), imap_security = NULLIF($6, ''), imap_username = NULLIF($7, ''),
		imap_password_sealed = NULLIF($8, ''), imap_folder = NULLIF($9, '') WHERE id = $1`,
		id, sealed.Password, sealed.DKIMKey, m.IMAPHost, m.IMAPPort, m.IMAPSecurity, m.IMAPUsername, sealed.IMAPPassword, m.IMAPFolder); err != nil {
		return m, err
	}
	if err := tx.Commit(ctx); err != nil {
		return m, err
	}
	return s.GetMailbox(ctx, ws, id)
}

// GetMailbox returns a mailbox of the workspace; ErrNotFound for another
// workspace's (there is no "any workspace": workers pass the workspace
// their job carries).
func (s *Store) GetMailbox(ctx context.Context, ws, id int64) (Mailbox, error) {
	return scanMailbox(s.pool.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE id = $1 AND workspace_id = $2`, id, ws))
}

// ListMailboxes returns the workspace's mailboxes.
func (s *Store) ListMailboxes(ctx context.Context, ws int64) ([]Mailbox, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE workspace_id = $1 ORDER BY id`, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Mailbox{}
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Cadence is a stored cadence; Window and Steps are the sequencer's JSON.
type Cadence struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Status      string          `json:"status"`
	Window      json.RawMessage `json:"window"`
	RiskyPolicy string          `json:"risky_policy"`
	MailboxIDs  []int64         `json:"mailbox_ids"`
	Steps       json.RawMessage `json:"steps"`
	CreatedAt   time.Time       `json:"created_at"`
	LaunchedAt  *time.Time      `json:"launched_at,omitempty"`
	// StopDomainOnReply: a reply from one lead stops the cadence for
	// every lead at the same domain.
	StopDomainOnReply bool   `json:"stop_domain_on_reply"`
	PausedReason      string `json:"paused_reason,omitempty"` // why a guardrail paused it
	Workspace         int64  `json:"-"`
}

const cadenceColumns = `id, workspace_id, name, status, send_window, risky_policy, mailbox_ids, steps, created_at, launched_at, stop_domain_on_reply, COALESCE(paused_reason, '')`

func scanCadence(row pgx.Row) (Cadence, error) {
	var c Cadence
	err := row.Scan(&c.ID, &c.Workspace, &c.Name, &c.Status, &c.Window, &c.RiskyPolicy, &c.MailboxIDs, &c.Steps, &c.CreatedAt, &c.LaunchedAt, &c.StopDomainOnReply, &c.PausedReason)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// CreateCadence stores a validated cadence as a draft.
func (s *Store) CreateCadence(ctx context.Context, ws int64, c Cadence) (Cadence, error) {
	var missing *int64
	if err := s.pool.QueryRow(ctx, `
		SELECT min(want) FROM unnest($2::bigint[]) want
		WHERE NOT EXISTS (SELECT 1 FROM mailboxes WHERE workspace_id = $1 AND id = want)`, ws, c.MailboxIDs).Scan(&missing); err != nil {
		return c, err
	}
	if missing != nil {
		return c, &NotFoundError{Resource: "mailbox", ID: *missing}
	}
	return scanCadence(s.pool.QueryRow(ctx, `
		INSERT INTO cadences (workspace_id, name, send_window, risky_policy, mailbox_ids, steps, stop_domain_on_reply)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+cadenceColumns,
		ws, c.Name, c.Window, c.RiskyPolicy, c.MailboxIDs, c.Steps, c.StopDomainOnReply))
}

// GetCadence returns a cadence of the workspace.
func (s *Store) GetCadence(ctx context.Context, ws, id int64) (Cadence, error) {
	return scanCadence(s.pool.QueryRow(ctx, `SELECT `+cadenceColumns+` FROM cadences WHERE id = $1 AND workspace_id = $2`, id, ws))
}

// SetCadenceStatus moves a cadence from one of from to to.
func (s *Store) SetCadenceStatus(ctx context.Context, ws, id int64, from []string, to string) (Cadence, error) {
	c, err := scanCadence(s.pool.QueryRow(ctx, `
		UPDATE cadences SET status = $4, launched_at = CASE WHEN $4 = 'active' THEN COALESCE(launched_at, now()) ELSE launched_at END,
			paused_reason = CASE WHEN $4 = 'active' THEN NULL ELSE paused_reason END
		WHERE id = $1 AND workspace_id = $2 AND status = ANY($3) RETURNING `+cadenceColumns, id, ws, from, to))
	if errors.Is(err, ErrNotFound) {
		cur, gerr := s.GetCadence(ctx, ws, id)
		if gerr != nil {
			return cur, gerr
		}
		return cur, fmt.Errorf("%w: cadence %d is %s", ErrConflict, id, cur.Status)
	}
	return c, err
}

// InTx runs fn in a transaction, committing when it returns nil.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// LeadInput is a lead given with an enrollment.
type LeadInput struct {
	Email     string            `json:"email"`
	FirstName string            `json:"first_name"`
	LastName  string            `json:"last_name"`
	Company   string            `json:"company"`
	Title     string            `json:"title"`
	Timezone  string            `json:"timezone"`
	Custom    map[string]string `json:"custom"`
}

// UpsertLead creates or merges a lead (non-empty fields win) and returns it.
func (s *Store) UpsertLead(ctx context.Context, tx pgx.Tx, ws int64, in LeadInput) (Lead, error) {
	leads, err := s.UpsertLeads(ctx, tx, ws, []LeadInput{in})
	if err != nil {
		return Lead{}, err
	}
	if len(leads) != 1 {
		return Lead{}, fmt.Errorf("store: upsert of %s returned %d leads", in.Email, len(leads))
	}
	return leads[0], nil
}

// LeadTx returns a lead of the workspace inside tx.
func (s *Store) LeadTx(ctx context.Context, tx pgx.Tx, ws, id int64) (Lead, error) {
	l, err := scanLead(tx.QueryRow(ctx, `SELECT `+leadColumnsSQL+` FROM leads WHERE id = $1 AND workspace_id = $2`, id, ws))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, ErrNotFound
	}
	return l, err
}

// SetLeadVerification records a verdict on a lead (the verification gate).
func (s *Store) SetLeadVerification(ctx context.Context, ws, leadID int64, status, reason string, verdict any) error {
	b, _ := json.Marshal(verdict)
	_, err := s.pool.Exec(ctx, `
		UPDATE leads SET verification_status = $3, verification_reason = $4, verification = $5, verified_at = now(), updated_at = now()
		WHERE id = $1 AND workspace_id = $2`, leadID, ws, status, reason, b)
	return err
}

// MailboxLoads counts active enrollments per mailbox, to spread new leads.
func (s *Store) MailboxLoads(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]int, error) {
	return countsBy[int64](tx.Query(ctx, `
		SELECT m, count(e.id) FROM unnest($1::bigint[]) AS m
		LEFT JOIN enrollments e ON e.mailbox_id = m AND e.state IN ('active', 'paused')
		GROUP BY m`, ids))
}

// InsertEnrollment enrolls a lead and schedules its first step. created is
// false when the lead was already enrolled in the cadence.
func (s *Store) InsertEnrollment(ctx context.Context, tx pgx.Tx, ws, cadenceID, leadID, mailboxID int64, channel string, due time.Time) (id int64, created bool, err error) {
	err = tx.QueryRow(ctx, `
		INSERT INTO enrollments (workspace_id, cadence_id, lead_id, mailbox_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (cadence_id, lead_id) DO NOTHING RETURNING id`, ws, cadenceID, leadID, mailboxID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return id, true, s.ScheduleTouch(ctx, tx, ws, id, 1, channel, due)
}

// scheduleTouchSQL creates (enrollment $1, step $2, workspace $3, channel
// $4) due at $5, or moves its due time while it is still only scheduled;
// nothing when $2 is 0 (RecordSent of a last step).
const scheduleTouchSQL = `
	INSERT INTO touches (enrollment_id, step, workspace_id, channel, status, due_at)
	SELECT $1, $2, $3, $4, 'scheduled', $5 WHERE $2::int > 0
	ON CONFLICT (enrollment_id, step) DO UPDATE SET due_at = EXCLUDED.due_at, updated_at = now()
	WHERE touches.status = 'scheduled'`

// ScheduleTouch records that step is due at due.
func (s *Store) ScheduleTouch(ctx context.Context, tx pgx.Tx, ws, enrollmentID int64, step int, channel string, due time.Time) error {
	_, err := tx.Exec(ctx, scheduleTouchSQL, enrollmentID, step, ws, channel, due)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE enrollments SET next_step = $2, updated_at = now() WHERE id = $1`, enrollmentID, step)
	return err
}

// Enrollment is a lead's run through a cadence.
type Enrollment struct {
	ID              int64     `json:"id"`
	CadenceID       int64     `json:"cadence_id"`
	LeadID          int64     `json:"lead_id"`
	MailboxID       *int64    `json:"mailbox_id"`
	State           string    `json:"state"`
	StateReason     string    `json:"state_reason,omitempty"`
	NextStep        int       `json:"next_step"`
	ThreadMessageID string    `json:"-"`
	ThreadSubject   string    `json:"-"`
	CreatedAt       time.Time `json:"created_at"`
	Touches         []Touch   `json:"touches"`
	Workspace       int64     `json:"-"`
}

// Touch is one step of an enrollment.
type Touch struct {
	Step      int        `json:"step"`
	Channel   string     `json:"channel"`
	Status    string     `json:"status"`
	DueAt     time.Time  `json:"due_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	MailboxID *int64     `json:"mailbox_id,omitempty"`
	MessageID string     `json:"message_id,omitempty"`
	Variant   string     `json:"variant,omitempty"`
	Outcome   string     `json:"outcome,omitempty"`
	// ClaimJobID is the River job that claimed the touch (0: none yet).
	ClaimJobID int64 `json:"-"`
}

const enrollmentColumns = `id, workspace_id, cadence_id, lead_id, mailbox_id, state, state_reason, next_step,
	COALESCE(thread_message_id, ''), COALESCE(thread_subject, ''), created_at`

func scanEnrollment(row pgx.Row) (Enrollment, error) {
	var e Enrollment
	err := row.Scan(&e.ID, &e.Workspace, &e.CadenceID, &e.LeadID, &e.MailboxID, &e.State, &e.StateReason, &e.NextStep,
		&e.ThreadMessageID, &e.ThreadSubject, &e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	return e, err
}

// GetEnrollment returns an enrollment of the workspace with every touch.
func (s *Store) GetEnrollment(ctx context.Context, ws, id int64) (Enrollment, error) {
	e, err := scanEnrollment(s.pool.QueryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = $1 AND workspace_id = $2`, id, ws))
	if err != nil {
		return e, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+touchColumns+` FROM touches WHERE enrollment_id = $1 ORDER BY step`, id)
	if err != nil {
		return e, err
	}
	e.Touches, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Touch, error) { return scanTouch(r) })
	return e, err
}

const touchColumns = `step, channel, status, due_at, sent_at, mailbox_id, COALESCE(message_id, ''), COALESCE(variant, ''), outcome,
	COALESCE(claim_job_id, 0)`

// scanTouch reads touchColumns; ErrNotFound for no row.
func scanTouch(row pgx.Row) (Touch, error) {
	var t Touch
	err := row.Scan(&t.Step, &t.Channel, &t.Status, &t.DueAt, &t.SentAt, &t.MailboxID, &t.MessageID, &t.Variant, &t.Outcome, &t.ClaimJobID)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// EnrollmentForUpdate locks an enrollment in tx.
func (s *Store) EnrollmentForUpdate(ctx context.Context, tx pgx.Tx, id int64) (Enrollment, error) {
	return scanEnrollment(tx.QueryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = $1 FOR UPDATE`, id))
}

// SetEnrollmentState changes an enrollment's state, only from one of from.
func (s *Store) SetEnrollmentState(ctx context.Context, tx pgx.Tx, id int64, from []string, to, reason string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE enrollments SET state = $3, state_reason = $4, updated_at = now() WHERE id = $1 AND state = ANY($2)`, id, from, to, reason)
	return tag.RowsAffected() == 1, err
}

// TouchForUpdate locks the touch row of (enrollment, step).
func (s *Store) TouchForUpdate(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int) (Touch, error) {
	return scanTouch(tx.QueryRow(ctx, `SELECT `+touchColumns+` FROM touches WHERE enrollment_id = $1 AND step = $2 FOR UPDATE`, enrollmentID, step))
}

// SetTouch records a touch's status and outcome.
func (s *Store) SetTouch(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, status, outcome string) error {
	_, err := tx.Exec(ctx, `UPDATE touches SET status = $3, outcome = $4, updated_at = now() WHERE enrollment_id = $1 AND step = $2`,
		enrollmentID, step, status, outcome)
	return err
}

// ReleaseSend gives back a claimed slot after a send failed before SMTP
// accepted it, so the touch can be tried again.
//
// It locks in ClaimTouch's order (touch, mailbox, day counter): a claim
// holds the mailbox row while it waits for the counter, so taking the
// counter first could deadlock with it.
func (s *Store) ReleaseSend(ctx context.Context, tx pgx.Tx, mailboxID int64, day time.Time, enrollmentID int64, step int, outcome string) error {
	_, err := tx.Exec(ctx, `WITH t AS (
			UPDATE touches SET status = 'scheduled', outcome = $3, claim_job_id = NULL, updated_at = now()
			WHERE enrollment_id = $1 AND step = $2 RETURNING 1
		), m AS (
			SELECT id FROM mailboxes WHERE id = $4 AND EXISTS (SELECT 1 FROM t) FOR NO KEY UPDATE
		)
		UPDATE mailbox_days SET sent = greatest(sent - 1, 0) WHERE mailbox_id = (SELECT id FROM m) AND day = $5`,
		enrollmentID, step, outcome, mailboxID, day)
	return err
}

// Task is a step done by a person: a call, a LinkedIn touch, a to-do.
type Task struct {
	ID           int64      `json:"id"`
	EnrollmentID int64      `json:"enrollment_id"`
	Step         int        `json:"step"`
	Channel      string     `json:"channel"`
	Title        string     `json:"title"`
	DueAt        time.Time  `json:"due_at"`
	Assignee     string     `json:"assignee"`
	Status       string     `json:"status"`
	Outcome      string     `json:"outcome,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	LeadID       int64      `json:"lead_id"`
	LeadEmail    string     `json:"lead_email"`
	Workspace    int64      `json:"-"`
}

// CreateTask opens the task of a step.
func (s *Store) CreateTask(ctx context.Context, tx pgx.Tx, ws, enrollmentID int64, step int, channel, title, assignee string, due time.Time) error {
	if _, err := tx.Exec(ctx, `
		INSERT INTO tasks (workspace_id, enrollment_id, step, channel, title, due_at, assignee) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (enrollment_id, step) DO NOTHING`, ws, enrollmentID, step, channel, title, due, assignee); err != nil {
		return err
	}
	// Only a scheduled touch opens: a task done or skipped stays so when
	// its job runs again.
	_, err := tx.Exec(ctx, `UPDATE touches SET status = 'task_open', updated_at = now()
		WHERE enrollment_id = $1 AND step = $2 AND status = 'scheduled'`, enrollmentID, step)
	return err
}

// RescheduleTouch moves a scheduled touch's due time.
func (s *Store) RescheduleTouch(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, due time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE touches SET due_at = $3, updated_at = now() WHERE enrollment_id = $1 AND step = $2 AND status = 'scheduled'`,
		enrollmentID, step, due)
	return err
}

const taskColumns = `t.id, t.workspace_id, t.enrollment_id, t.step, t.channel, t.title, t.due_at, t.assignee, t.status, t.outcome, t.completed_at, e.lead_id, l.email`

func scanTask(row pgx.Row) (Task, error) {
	var t Task
	err := row.Scan(&t.ID, &t.Workspace, &t.EnrollmentID, &t.Step, &t.Channel, &t.Title, &t.DueAt, &t.Assignee, &t.Status, &t.Outcome, &t.CompletedAt, &t.LeadID, &t.LeadEmail)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// ListTasks returns open tasks due before dueBefore (zero: any), for an
// assignee ("" : all), soonest first.
func (s *Store) ListTasks(ctx context.Context, ws int64, dueBefore time.Time, assignee string) ([]Task, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+taskColumns+` FROM tasks t JOIN enrollments e ON e.id = t.enrollment_id JOIN leads l ON l.id = e.lead_id
		WHERE t.workspace_id = $1 AND t.status = 'open' AND ($2::timestamptz IS NULL OR t.due_at < $2) AND ($3 = '' OR t.assignee = $3)
		ORDER BY t.due_at, t.id LIMIT 500`, ws, nullTime(dueBefore), assignee)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CompleteTask closes an open task in tx and returns it.
func (s *Store) CompleteTask(ctx context.Context, tx pgx.Tx, ws, id int64, outcome string) (Task, error) {
	t, err := scanTask(tx.QueryRow(ctx, `
		WITH done AS (
			UPDATE tasks SET status = 'done', outcome = $3, completed_at = now()
			WHERE id = $1 AND workspace_id = $2 AND status = 'open' RETURNING *
		)
		SELECT `+taskColumns+` FROM done t JOIN enrollments e ON e.id = t.enrollment_id JOIN leads l ON l.id = e.lead_id`, id, ws, outcome))
	if errors.Is(err, ErrNotFound) {
		var status string
		if e := tx.QueryRow(ctx, `SELECT status FROM tasks WHERE id = $1 AND workspace_id = $2`, id, ws).Scan(&status); e == nil {
			return t, fmt.Errorf("%w: task %d is already %s", ErrConflict, id, status)
		}
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	return t, s.SetTouch(ctx, tx, t.EnrollmentID, t.Step, "task_done", outcome)
}

// SuppressedTx reports whether an address or its domain is suppressed; q
// is the transaction the caller holds (or nil for the pool), so a caller
// in a transaction never needs a second connection.
func (s *Store) SuppressedTx(ctx context.Context, q pgx.Tx, ws int64, email, domain string) (bool, error) {
	var row pgx.Row
	query := `SELECT EXISTS (SELECT 1 FROM suppressions WHERE workspace_id = $1 AND email_hash = ANY($2))`
	args := []any{ws, [][]byte{EmailHash(email), EmailHash("@" + domain)}}
	if q != nil {
		row = q.QueryRow(ctx, query, args...)
	} else {
		row = s.pool.QueryRow(ctx, query, args...)
	}
	var ok bool
	err := row.Scan(&ok)
	return ok, err
}

// CustomFieldKeys lists the custom field names the workspace's leads use.
func (s *Store) CustomFieldKeys(ctx context.Context, ws int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT jsonb_object_keys(custom) FROM leads WHERE workspace_id = $1 ORDER BY 1 LIMIT 1000`, ws)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LeadEvent appends to a lead's history in tx.
func (s *Store) LeadEvent(ctx context.Context, tx pgx.Tx, ws, leadID int64, typ string, data map[string]any) error {
	b, _ := json.Marshal(data)
	_, err := tx.Exec(ctx, `INSERT INTO lead_events (workspace_id, lead_id, type, data) VALUES ($1, $2, $3, $4)`, ws, leadID, typ, b)
	return err
}

// DueTouch is a scheduled touch waiting for its job.
type DueTouch struct {
	EnrollmentID int64
	Step         int
	DueAt        time.Time
}

// NextScheduledTouches locks, in tx, the scheduled touch at the next step
// of every active enrollment of a cadence (steps 1..maxStep), for
// (re)inserting their jobs when the cadence is launched or resumed.
func (s *Store) NextScheduledTouches(ctx context.Context, tx pgx.Tx, cadenceID int64, maxStep int) ([]DueTouch, error) {
	rows, err := tx.Query(ctx, `
		SELECT t.enrollment_id, t.step, t.due_at
		FROM enrollments e JOIN touches t ON t.enrollment_id = e.id AND t.step = e.next_step
		WHERE e.cadence_id = $1 AND e.state = 'active' AND e.next_step BETWEEN 1 AND $2 AND t.status = 'scheduled'
		ORDER BY t.due_at, t.enrollment_id
		FOR UPDATE OF t`, cadenceID, maxStep)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DueTouch, error) {
		var d DueTouch
		err := r.Scan(&d.EnrollmentID, &d.Step, &d.DueAt)
		return d, err
	})
}

// StopWhich selects the enrollments StopEnrollments stops, within one
// workspace: one enrollment, every enrollment of a lead, or every
// enrollment of a cadence whose lead is at a domain (a reply from one
// person at a company stops the others, when the cadence says so).
type StopWhich struct {
	EnrollmentID int64
	LeadID       int64
	CadenceID    int64
	Domain       string // with CadenceID
}

// StoppedEnrollment is an enrollment StopEnrollments stopped.
type StoppedEnrollment struct {
	ID        int64
	LeadID    int64
	CadenceID int64
	Email     string
}

// StopEnrollments stops, in tx, the active or paused enrollments of the
// workspace that which selects, with reason, and returns those it stopped
// (in ID order). Enrollments already stopped or finished are left alone
// and not returned. The sequencer reports each one (enrollment.stopped).
func (s *Store) StopEnrollments(ctx context.Context, tx pgx.Tx, ws int64, which StopWhich, reason string) ([]StoppedEnrollment, error) {
	if which.EnrollmentID == 0 && which.LeadID == 0 && (which.CadenceID == 0 || which.Domain == "") {
		return nil, errors.New("store: StopEnrollments needs an enrollment, a lead, or a cadence and a domain")
	}
	rows, err := tx.Query(ctx, `
		UPDATE enrollments e SET state = 'stopped', state_reason = $6, updated_at = now()
		FROM leads l WHERE l.id = e.lead_id AND e.workspace_id = $1 AND e.state IN ('active', 'paused')
			AND ($2 = 0 OR e.id = $2) AND ($3 = 0 OR e.lead_id = $3) AND ($4 = 0 OR e.cadence_id = $4)
			AND ($5 = '' OR lower(split_part(l.email, '@', 2)) = lower($5))
		RETURNING e.id, e.lead_id, e.cadence_id, l.email`, ws, which.EnrollmentID, which.LeadID, which.CadenceID, which.Domain, reason)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoppedEnrollment, error) {
		var st StoppedEnrollment
		err := r.Scan(&st.ID, &st.LeadID, &st.CadenceID, &st.Email)
		return st, err
	})
	slices.SortFunc(out, func(a, b StoppedEnrollment) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// CountOpenTouches counts a cadence's touches not yet settled (scheduled
// or sending), for tests and monitoring.
func (s *Store) CountOpenTouches(ctx context.Context, cadenceID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM touches t JOIN enrollments e ON e.id = t.enrollment_id
		WHERE e.cadence_id = $1 AND t.status IN ('scheduled', 'sending')`, cadenceID).Scan(&n)
	return n, err
}

// TouchStatusCounts counts a cadence's touches by status.
func (s *Store) TouchStatusCounts(ctx context.Context, cadenceID int64) (map[string]int, error) {
	return countsBy[string](s.pool.Query(ctx, `SELECT t.status, count(*) FROM touches t JOIN enrollments e ON e.id = t.enrollment_id
		WHERE e.cadence_id = $1 GROUP BY t.status`, cadenceID))
}

// MailboxSentToday returns each mailbox's sends on its current local day.
func (s *Store) MailboxSentToday(ctx context.Context, ws int64) (map[int64]int, error) {
	return countsBy[int64](s.pool.Query(ctx, `
		SELECT m.id, COALESCE(d.sent, 0) FROM mailboxes m
		LEFT JOIN mailbox_days d ON d.mailbox_id = m.id AND d.day = (now() AT TIME ZONE m.timezone)::date
		WHERE m.workspace_id = $1`, ws))
}

// countsBy collects (key, count) rows into a map.
func countsBy[K comparable](rows pgx.Rows, err error) (map[K]int, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[K]int{}
	for rows.Next() {
		var k K
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// SkipTask closes an open task as skipped; false when it was no longer open.
func (s *Store) SkipTask(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, outcome string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE tasks SET status = 'skipped', outcome = $3, completed_at = now()
		WHERE enrollment_id = $1 AND step = $2 AND status = 'open'`, enrollmentID, step, outcome)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	return true, s.SetTouch(ctx, tx, enrollmentID, step, "skipped", outcome)
}

// UpsertLeads creates or merges many leads in one statement (the last of
// one address wins) and returns them, one per distinct address.
func (s *Store) UpsertLeads(ctx context.Context, tx pgx.Tx, ws int64, in []LeadInput) ([]Lead, error) {
	byKey := map[string]int{}
	var uniq []LeadInput
	for _, l := range in {
		k := strings.ToLower(l.Email)
		if i, ok := byKey[k]; ok {
			uniq[i] = l
			continue
		}
		byKey[k] = len(uniq)
		uniq = append(uniq, l)
	}
	n := len(uniq)
	if n == 0 {
		return nil, nil
	}
	emails, fns, lns, cos, tis, tzs, cus := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, l := range uniq {
		c, _ := json.Marshal(l.Custom)
		if l.Custom == nil {
			c = []byte("{}")
		}
		emails[i], fns[i], lns[i], cos[i], tis[i], tzs[i], cus[i] = l.Email, l.FirstName, l.LastName, l.Company, l.Title, l.Timezone, string(c)
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO leads AS l (workspace_id, email, first_name, last_name, company, title, timezone, custom)
		SELECT $1, u.email, u.fn, u.ln, u.co, u.ti, u.tz, u.cu::jsonb
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(email, fn, ln, co, ti, tz, cu)
		ON CONFLICT (workspace_id, lower(email)) DO UPDATE SET
			first_name = COALESCE(NULLIF(EXCLUDED.first_name, ''), l.first_name),
			last_name = COALESCE(NULLIF(EXCLUDED.last_name, ''), l.last_name),
			company = COALESCE(NULLIF(EXCLUDED.company, ''), l.company),
			title = COALESCE(NULLIF(EXCLUDED.title, ''), l.title),
			timezone = COALESCE(NULLIF(EXCLUDED.timezone, ''), l.timezone),
			custom = l.custom || EXCLUDED.custom, updated_at = now()
		RETURNING `+leadColumnsSQL, ws, emails, fns, lns, cos, tis, tzs, cus)
	if err != nil {
		return nil, err
	}
	return collectLeads(rows)
}

func collectLeads(rows pgx.Rows) ([]Lead, error) {
	defer rows.Close()
	var out []Lead
	for rows.Next() {
		l, err := scanLead(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// LeadsByIDs returns the workspace's leads among ids.
func (s *Store) LeadsByIDs(ctx context.Context, tx pgx.Tx, ws int64, ids []int64) ([]Lead, error) {
	rows, err := tx.Query(ctx, `SELECT `+leadColumnsSQL+` FROM leads WHERE workspace_id = $1 AND id = ANY($2)`, ws, ids)
	if err != nil {
		return nil, err
	}
	return collectLeads(rows)
}

// SuppressedAmong returns which of the given addresses are suppressed,
// by address or by domain, in one query.
func (s *Store) SuppressedAmong(ctx context.Context, tx pgx.Tx, ws int64, emails []string) (map[string]bool, error) {
	var hashes [][]byte
	for _, e := range emails {
		hashes = append(hashes, EmailHash(e), EmailHash("@"+e[strings.LastIndexByte(e, '@')+1:]))
	}
	rows, err := tx.Query(ctx, `SELECT email_hash FROM suppressions WHERE workspace_id = $1 AND email_hash = ANY($2)`, ws, hashes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hit := map[string]bool{}
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		hit[string(h)] = true
	}
	out := map[string]bool{}
	for _, e := range emails {
		if hit[string(EmailHash(e))] || hit[string(EmailHash("@"+e[strings.LastIndexByte(e, '@')+1:]))] {
			out[strings.ToLower(e)] = true
		}
	}
	return out, rows.Err()
}

// NewEnrollment is one enrollment to create.
type NewEnrollment struct {
	LeadID, MailboxID int64
	Channel           string
	Due               time.Time
}

// InsertEnrollments enrolls many leads and schedules their first steps in
// two statements; it returns the new enrollment of each lead, leads
// already enrolled absent.
func (s *Store) InsertEnrollments(ctx context.Context, tx pgx.Tx, ws, cadenceID int64, in []NewEnrollment) (map[int64]int64, error) {
	n := len(in)
	leads, boxes, chans, dues := make([]int64, n), make([]int64, n), make([]string, n), make([]time.Time, n)
	for i, e := range in {
		leads[i], boxes[i], chans[i], dues[i] = e.LeadID, e.MailboxID, e.Channel, e.Due
	}
	rows, err := tx.Query(ctx, `
		WITH ins AS (
			INSERT INTO enrollments (workspace_id, cadence_id, lead_id, mailbox_id)
			SELECT $1, $2, u.lead, u.box FROM unnest($3::bigint[], $4::bigint[]) AS u(lead, box)
			ON CONFLICT (cadence_id, lead_id) DO NOTHING
			RETURNING id, lead_id
		), t AS (
			INSERT INTO touches (enrollment_id, step, workspace_id, channel, status, due_at)
			SELECT ins.id, 1, $1, u.ch, 'scheduled', u.due
			FROM ins JOIN unnest($3::bigint[], $5::text[], $6::timestamptz[]) AS u(lead, ch, due) ON u.lead = ins.lead_id
		)
		SELECT id, lead_id FROM ins`, ws, cadenceID, leads, boxes, chans, dues)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, lead int64
		if err := rows.Scan(&id, &lead); err != nil {
			return nil, err
		}
		out[lead] = id
	}
	return out, rows.Err()
}

// MailboxRef names a mailbox with its workspace, for the jobs that work on
// it.
type MailboxRef struct {
	Workspace, ID int64
}

// IMAPMailboxes lists the mailboxes, of every workspace, whose replies are
// polled over IMAP: the periodic job's schedule (IDs only; each poll reads
// its mailbox by workspace and ID).
func (s *Store) IMAPMailboxes(ctx context.Context) ([]MailboxRef, error) {
	rows, err := s.pool.Query(ctx, `SELECT workspace_id, id FROM mailboxes WHERE imap_host IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[MailboxRef])
}

// SaveIMAPState records where polling a mailbox stopped.
func (s *Store) SaveIMAPState(ctx context.Context, id int64, uidValidity, lastUID uint32) error {
	_, err := s.pool.Exec(ctx, `UPDATE mailboxes SET imap_uidvalidity = $2, imap_last_uid = $3 WHERE id = $1`, id, int64(uidValidity), int64(lastUID))
	return err
}

// SetIMAPResult records the outcome of a poll ("" for success).
func (s *Store) SetIMAPResult(ctx context.Context, id int64, errText string) error {
	_, err := s.pool.Exec(ctx, `UPDATE mailboxes SET imap_polled_at = now(), imap_error = NULLIF($2, '') WHERE id = $1`, id, errText)
	return err
}
