package sequencer

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/internal/rsasigner"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer/message"
	"github.com/touchline/touchline/sequencer/template"
	"github.com/touchline/touchline/verifier"
)

// QueueSend is the queue of touch jobs.
const QueueSend = "send"

// TouchArgs names one step of one enrollment, due at Due.
//
// Due is part of the job's unique key: a step queued again for a new time
// (a soft bounce's resend, a resume) gets a job of its own even while the
// job that last ran it is still 'running', which it is until River's
// completer catches up after a sent touch (see Work). Two jobs of one step
// are harmless: one claims the touch (ClaimTouch records which), and the
// other, finding it 'sending', leaves it to that job (see settleInterrupted).
type TouchArgs struct {
	EnrollmentID int64     `json:"enrollment_id"`
	Step         int       `json:"step"`
	Due          time.Time `json:"due,omitzero"`
}

// touchArgs is the job of step of enrollmentID due at due; the same instant
// always encodes the same way (River hashes the arguments).
func touchArgs(enrollmentID int64, step int, due time.Time) TouchArgs {
	return TouchArgs{EnrollmentID: enrollmentID, Step: step, Due: due.UTC().Truncate(time.Microsecond)}
}

// Kind implements river.JobArgs.
func (TouchArgs) Kind() string { return "touch" }

// InsertOpts: one pending job per (enrollment, step, due), whatever inserts it.
func (TouchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: 20, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled},
	}}
}

// Engine runs cadences. Its methods are safe for concurrent use.
type Engine struct {
	Store    *store.Store
	Verifier *verifier.Verifier // the verification gate; nil trusts stored verdicts only
	Sender   Sender
	Secrets  *secret.Box
	// HMAC keys for VERP return paths and unsubscribe links.
	VERPKey, UnsubscribeKey []byte
	// BounceDomain receives bounces at VERP addresses (b-TOKEN@BounceDomain).
	BounceDomain string
	// PublicURL is where recipients reach the unsubscribe endpoint.
	PublicURL string
	// FreshFor is how long a stored verdict stands (default 30 days).
	FreshFor time.Duration
	// SoftRetryAfter is when a touch whose message bounced softly (the
	// remote side gave up: a full mailbox) is sent again (default 24 h).
	SoftRetryAfter time.Duration
	// JobTimeout bounds one touch: a verification and a submission
	// (default 5 minutes).
	JobTimeout time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	// Outbound is where the engine may connect for a tenant: submission
	// and IMAP servers, webhook endpoints. Nil allows public addresses
	// only; the simulated world and tests allow loopback explicitly.
	Outbound *netpolicy.Policy

	keys     sync.Map // mailbox ID → cachedKey
	cadences sync.Map // cadence ID → cachedCadence
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

// Fields returns the fields a workspace's templates may use: the standard
// ones and every custom field its leads have.
func (e *Engine) Fields(ctx context.Context, ws int64) (template.FieldSet, error) {
	keys, err := e.Store.CustomFieldKeys(ctx, ws)
	if err != nil {
		return template.FieldSet{}, err
	}
	f := template.Standard()
	for _, k := range keys {
		f = f.With("custom." + k)
	}
	return f, nil
}

// LoadCadence compiles a stored cadence, once per version of it: every
// touch needs it, and compiling parses and lints every template.
func (e *Engine) LoadCadence(c store.Cadence) (*Cadence, error) {
	key := string(c.Window) + "\x00" + string(c.Steps) + "\x00" + c.RiskyPolicy + "\x00" + fmt.Sprint(c.MailboxIDs)
	if v, ok := e.cadences.Load(c.ID); ok && v.(cachedCadence).key == key {
		return v.(cachedCadence).c, nil
	}
	cc, err := Load(c.Name, c.Window, c.Steps, c.MailboxIDs, c.RiskyPolicy, template.Standard())
	if err != nil {
		return nil, err
	}
	cc.StopDomainOnReply = c.StopDomainOnReply
	e.cadences.Store(c.ID, cachedCadence{key, cc})
	return cc, nil
}

type cachedCadence struct {
	key string
	c   *Cadence
}

// nearDue is how close to its due time a touch job is made available at
// once; its worker then waits the rest. River's scheduler promotes
// scheduled jobs every 5 s, so a near touch would otherwise go out up to
// 5 s late (FIELD-NOTES).
const nearDue = 5 * time.Second

func touchOpts(due, now time.Time) river.InsertOpts {
	opts := TouchArgs{}.InsertOpts()
	if due.Sub(now) > nearDue {
		opts.ScheduledAt = due
	}
	return opts
}

func insertTouch(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, due, now time.Time) error {
	opts := touchOpts(due, now)
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, touchArgs(enrollmentID, step, due), &opts)
	return err
}

// TouchWorker is the River worker of touches.
type TouchWorker struct {
	river.WorkerDefaults[TouchArgs]
	Engine *Engine
}

// Timeout bounds one touch: a verification and an SMTP submission.
func (w *TouchWorker) Timeout(*river.Job[TouchArgs]) time.Duration {
	return cmpDur(w.Engine.JobTimeout, 5*time.Minute)
}

// Work runs one touch. The guarantee, per (enrollment, step): the touch
// row is moved to 'sending' and the mailbox's cap counted in one committed
// statement before the message is handed to SMTP; the row becomes 'sent',
// the enrollment moves to the next step and the next step's job is
// inserted in one transaction. This job is then completed by River's
// completer, in batches, rather than in that transaction (JobCompleteTx
// was a third of PostgreSQL's work per message): if the process dies
// before the completer runs, the job runs again, finds the enrollment past
// its step and does nothing. A touch found in 'sending' when its job runs
// again was claimed by a process that died before recording SMTP's answer:
// it is marked 'uncertain' and never sent again, and the chain goes on. So
// no touch is sent twice, and none is lost without a trace.
//
// A job on its last attempt that fails is not left for River to discard
// (see giveUp).
func (w *TouchWorker) Work(ctx context.Context, job *river.Job[TouchArgs]) error {
	err := w.Engine.touch(ctx, job)
	var (
		snooze *river.JobSnoozeError
		cancel *river.JobCancelError
	)
	if err == nil || job.Attempt < job.MaxAttempts || errors.As(err, &snooze) || errors.As(err, &cancel) {
		return err
	}
	if gerr := w.Engine.giveUp(ctx, job, err); gerr != nil {
		return errors.Join(err, gerr)
	}
	return nil
}

func isSecretError(err error) bool {
	for _, e := range []error{secret.ErrOpen, secret.ErrMalformed, secret.ErrNotSealed, secret.ErrUnknownVersion} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// secretsUnusable pauses a mailbox whose sealed secrets this process
// cannot open (TOUCHLINE_SECRET_KEY changed, or the row was tampered with):
// nothing it sends can work until a person fixes the key or the mailbox.
// The touch waits, checking again in an hour.
func (e *Engine) secretsUnusable(ctx context.Context, m store.Mailbox, cause error) error {
	reason := "secrets: " + cause.Error() + "; restore TOUCHLINE_SECRET_KEY or re-enter the mailbox's password and DKIM key"
	err := e.Store.InTx(ctx, func(tx pgx.Tx) error {
		paused, err := e.Store.PauseMailbox(ctx, tx, m.ID, reason)
		if err != nil || !paused {
			return err
		}
		e.log().Error("mailbox paused: its secrets cannot be opened", "mailbox", m.ID, "err", cause)
		return e.emit(ctx, tx, nil, m.Workspace, "mailbox.paused", map[string]any{"mailbox_id": m.ID, "reason": reason})
	})
	if err != nil {
		return err
	}
	return river.JobSnooze(time.Hour)
}

// enhancedCode formats a reply's RFC 3463 code, "" when it had none.
func enhancedCode(r *smtp.SMTPError) string {
	c := r.EnhancedCode
	if c[0] <= 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
}

// TaskDeadlineArgs moves a cadence on past a task left open.
type TaskDeadlineArgs struct {
	EnrollmentID int64 `json:"enrollment_id"`
	Step         int   `json:"step"`
}

// Kind implements river.JobArgs.
func (TaskDeadlineArgs) Kind() string { return "task_deadline" }

// InsertOpts puts deadlines on the send queue.
func (TaskDeadlineArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: 20}
}

// TaskDeadlineWorker skips a task still open at its deadline and schedules
// the next step, in the transaction that completes the job.
type TaskDeadlineWorker struct {
	river.WorkerDefaults[TaskDeadlineArgs]
	Engine *Engine
}

// Work implements river.Worker.
func (w *TaskDeadlineWorker) Work(ctx context.Context, job *river.Job[TaskDeadlineArgs]) error {
	e := w.Engine
	return e.Store.InTx(ctx, func(tx pgx.Tx) error {
		complete := func() error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		}
		en, err := e.Store.EnrollmentForUpdate(ctx, tx, job.Args.EnrollmentID)
		if errors.Is(err, store.ErrNotFound) {
			return complete()
		}
		if err != nil {
			return err
		}
		skipped, err := e.Store.SkipTask(ctx, tx, en.ID, job.Args.Step, "due day passed")
		if err != nil {
			return err
		}
		if !skipped || en.State != "active" || en.NextStep != job.Args.Step {
			return complete() // done, or the enrollment moved on meanwhile
		}
		sc, err := e.Store.GetCadence(ctx, en.Workspace, en.CadenceID)
		if err != nil {
			return err
		}
		c, err := e.LoadCadence(sc)
		if err != nil {
			return err
		}
		lead, err := e.Store.LeadTx(ctx, tx, en.Workspace, en.LeadID)
		if err != nil {
			return err
		}
		if err := e.scheduleNext(ctx, tx, en, c, job.Args.Step, c.location(lead.Timezone), e.now()); err != nil {
			return err
		}
		return complete()
	})
}

// requeueNext queues the job of a resumed enrollment's waiting step: a step
// still in the future keeps its time; one that fell due while paused goes
// out at the next opening, not in a burst. A step that is not scheduled (a
// task waiting for a person, or settled) needs nothing. client may be nil
// inside a worker.
func (e *Engine) requeueNext(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], enrollmentID int64, step int) error {
	t, err := e.Store.TouchForUpdate(ctx, tx, enrollmentID, step)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || t.Status != "scheduled" {
		return err
	}
	now := e.now()
	due := t.DueAt
	if due.Before(now) {
		due = now
		if err := e.Store.RescheduleTouch(ctx, tx, enrollmentID, step, due); err != nil {
			return err
		}
	}
	if c, err := river.ClientFromContextSafely[pgx.Tx](ctx); err == nil {
		client = c
	}
	if client == nil {
		return errors.New("sequencer: no River client to queue the touch")
	}
	opts := touchOpts(due, now)
	_, err = client.InsertTx(ctx, tx, touchArgs(enrollmentID, step, due), &opts)
	return err
}

// scheduleNext schedules the step after step, or finishes the enrollment
// (a paused one too: nothing is left for a resume to do).
func (e *Engine) scheduleNext(ctx context.Context, tx pgx.Tx, en store.Enrollment, c *Cadence, step int, loc *time.Location, now time.Time) error {
	if step >= c.StepCount() {
		_, err := e.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"active", "paused"}, "finished", "all steps done")
		return err
	}
	next := step + 1
	due := c.due(next, now, loc)
	if err := e.Store.ScheduleTouch(ctx, tx, en.Workspace, en.ID, next, c.steps[next-1].Channel, due); err != nil {
		return err
	}
	return insertTouch(ctx, tx, en.ID, next, due, now)
}

// verdictGate is the verification gate: undeliverable is never sent,
// risky only as the cadence allows, suppressed never.
func (e *Engine) verdictGate(ctx context.Context, en store.Enrollment, lead store.Lead, c *Cadence) (string, bool) {
	addr, err := verifier.ParseAddress(lead.Email)
	if err != nil {
		return "undeliverable: syntax", false
	}
	// Suppressions are checked again, atomically, by the claim; here only
	// to spare a suppressed address a verification probe.
	fresh := cmpDur(e.FreshFor, 30*24*time.Hour)
	status, reason := "", ""
	if v := lead.Verification; v != nil && e.now().Sub(v.VerifiedAt) < fresh {
		status, reason = v.Status, v.Reason
	} else if sup, err := e.Store.SuppressedTx(ctx, nil, en.Workspace, addr.String(), addr.Domain); err == nil && sup {
		return "suppressed", false
	} else if e.Verifier != nil {
		vd := e.Verifier.Verify(ctx, lead.Email)
		status, reason = string(vd.Status), string(vd.Reason)
		e.Store.SetLeadVerification(ctx, en.Workspace, lead.ID, status, reason, vd)
	}
	return gateVerdict(status, reason, c.RiskyPolicy)
}

func gateVerdict(status, reason, policy string) (string, bool) {
	switch verifier.Status(status) {
	case verifier.Deliverable, "":
		return "", true
	case verifier.Undeliverable:
		return "undeliverable: " + reason, false
	case verifier.Risky:
		if policy == "allow_catch_all" && reason == string(verifier.ReasonCatchAll) {
			return "", true
		}
		return "risky_policy: " + reason, false
	default:
		// Unknown (blocked, greylisted, timeouts): not known to bounce,
		// not known to land; treated like risky.
		return "risky_policy: unknown " + reason, false
	}
}

// compose renders and signs the message of an email step.
func (e *Engine) compose(lead store.Lead, en store.Enrollment, m store.Mailbox, c *Cadence, step *compiledStep, n int, now time.Time) (raw []byte, msgID, variant, subject string, err error) {
	v := step.variant(en.ID)
	values := leadValues(lead, m, en)
	if subject, err = v.subject.Render(values); err != nil {
		return
	}
	body, err := v.body.Render(values)
	if err != nil {
		return
	}
	msg := &message.Message{
		MessageID:  message.NewMessageID(m.FromAddress[strings.LastIndexByte(m.FromAddress, '@')+1:]),
		From:       mail.Address{Name: m.FromName, Address: m.FromAddress},
		To:         mail.Address{Name: strings.TrimSpace(lead.FirstName + " " + lead.LastName), Address: lead.Email},
		Subject:    subject,
		Text:       body,
		Date:       now,
		FeedbackID: fmt.Sprintf("%d:%d:cadence:touchline", en.CadenceID, n),
	}
	if step.Thread && en.ThreadMessageID != "" {
		msg.Subject = message.ThreadSubject(en.ThreadSubject)
		subject = msg.Subject
		msg.InReplyTo = en.ThreadMessageID
		msg.References = []string{en.ThreadMessageID}
	}
	if e.PublicURL != "" {
		tok := message.UnsubscribeToken(e.UnsubscribeKey, en.Workspace, lead.ID, en.ID)
		msg.ListUnsubscribeURL = strings.TrimSuffix(e.PublicURL, "/") + "/u/" + tok
	}
	if e.BounceDomain != "" {
		msg.ListUnsubscribeMailto = "unsubscribe+" + message.UnsubscribeToken(e.UnsubscribeKey, en.Workspace, lead.ID, en.ID) + "@" + e.BounceDomain
	}
	if raw, err = msg.Build(); err != nil {
		return
	}
	msgID = msg.MessageID
	if m.DKIMKeySealed != "" {
		var key crypto.Signer
		if key, err = e.dkimKey(m); err != nil {
			return
		}
		if raw, err = message.Sign(raw, message.DKIM{Domain: m.DKIMDomain, Selector: m.DKIMSelector, Signer: key}); err != nil {
			return
		}
	}
	return raw, msgID, v.name, subject, nil
}

// touchDue is when step of en was due.
func touchDue(en store.Enrollment, step int) time.Time {
	for _, t := range en.Touches {
		if t.Step == step {
			return t.DueAt
		}
	}
	return time.Time{}
}

// leadValues are the template fields of a lead, its mailbox and thread.
func leadValues(lead store.Lead, m store.Mailbox, en store.Enrollment) map[string]string {
	values := map[string]string{
		"first_name": lead.FirstName, "last_name": lead.LastName, "company": lead.Company, "title": lead.Title,
		"email": lead.Email, "timezone": lead.Timezone, "sender_name": m.FromName, "sender_email": m.FromAddress,
		"sender_first_name": firstWord(m.FromName), "thread_subject": en.ThreadSubject,
	}
	for k, val := range lead.Custom {
		values["custom."+k] = fmt.Sprint(val)
	}
	return values
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

type cachedKey struct {
	sealed string
	signer crypto.Signer
}

// dkimKey opens and parses a mailbox's DKIM key once per sealed value.
func (e *Engine) dkimKey(m store.Mailbox) (crypto.Signer, error) {
	if v, ok := e.keys.Load(m.ID); ok && v.(cachedKey).sealed == m.DKIMKeySealed {
		return v.(cachedKey).signer, nil
	}
	pem, err := e.Secrets.Open(m.DKIMKeySealed, fmt.Sprintf("mailbox:%d:dkim_key", m.ID))
	if err != nil {
		return nil, fmt.Errorf("mailbox %d DKIM key: %w", m.ID, err)
	}
	key, err := dkimkey.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	if rk, ok := key.(*rsa.PrivateKey); ok {
		key = rsasigner.New(rk) // OpenSSL when it is there: a third of the CPU
	}
	e.keys.Store(m.ID, cachedKey{m.DKIMKeySealed, key})
	return key, nil
}

// capToday is the mailbox's cap, ramped up from its start for a new mailbox.
func capToday(m store.Mailbox, now time.Time) int {
	if m.RampStartCap == nil || m.RampDailyIncrement == nil {
		return m.DailyCap
	}
	days := int(now.Sub(m.CreatedAt).Hours() / 24)
	return min(m.DailyCap, *m.RampStartCap+days**m.RampDailyIncrement)
}

func civilDay(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func nextDayStart(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func cmpDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
