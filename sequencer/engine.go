package sequencer

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/metrics"
	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/internal/rsasigner"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer/calendar"
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
// other, finding it 'sending', leaves it to that job (see unclaimable).
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
func (w *TouchWorker) Work(ctx context.Context, job *river.Job[TouchArgs]) error {
	return w.Engine.touch(ctx, job)
}

func (e *Engine) touch(ctx context.Context, job *river.Job[TouchArgs]) error {
	args := job.Args
	now := e.now()
	tc, err := e.Store.TouchContext(ctx, args.EnrollmentID, args.Step)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	en := tc.Enrollment
	// Paused or stopped enrollments, and stale jobs, do nothing: resume
	// schedules the step again.
	if en.State != "active" || en.NextStep != args.Step {
		return nil
	}
	// Early: wait out a short remainder here, snooze a long one.
	for _, t := range en.Touches {
		if t.Step != args.Step || !t.DueAt.After(now) {
			continue
		}
		wait := t.DueAt.Sub(now)
		if wait > 2*nearDue {
			return river.JobSnooze(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		now = e.now()
	}
	sc := tc.Cadence
	if sc.Status != "active" {
		return nil
	}
	c, err := e.LoadCadence(sc)
	if err != nil {
		return fmt.Errorf("cadence %d: %w", sc.ID, err)
	}
	if args.Step < 1 || args.Step > c.StepCount() {
		return nil
	}
	step := &c.steps[args.Step-1]
	lead := tc.Lead
	loc := c.location(lead.Timezone)
	complete := func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	}

	if step.Channel != ChannelEmail {
		// A person does it: open the task; the cadence moves on when it
		// is completed.
		return e.Store.InTx(ctx, func(tx pgx.Tx) error {
			title, err := step.title.Render(leadValues(lead, store.Mailbox{}, en))
			if err != nil {
				// A person reads it: the raw template beats no task.
				title = step.Title
			}
			if err := e.Store.CreateTask(ctx, tx, en.Workspace, en.ID, args.Step, step.Channel, strings.TrimSpace(title), "", now); err != nil {
				return err
			}
			if step.AutoAdvance {
				deadline := nextDayStart(now, loc)
				if step.advanceAfter > 0 {
					deadline = now.Add(step.advanceAfter)
				}
				opts := TaskDeadlineArgs{}.InsertOpts()
				opts.ScheduledAt = deadline
				if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, TaskDeadlineArgs{EnrollmentID: en.ID, Step: args.Step}, &opts); err != nil {
					return err
				}
			}
			return complete(tx)
		})
	}
	if !c.window.Contains(now, loc) {
		return river.JobSnooze(c.window.NextOpen(now, loc).Sub(now))
	}
	stop := func(status, reason string) error {
		return e.Store.InTx(ctx, func(tx pgx.Tx) error {
			if err := e.Store.SetTouch(ctx, tx, en.ID, args.Step, status, reason); err != nil {
				return err
			}
			if _, err := e.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"active"}, "stopped", reason); err != nil {
				return err
			}
			return complete(tx)
		})
	}
	if reason, ok := e.gate(ctx, en, lead, c); !ok {
		return stop("skipped", reason)
	}
	if !tc.HasMailbox {
		return stop("skipped", "mailbox_removed")
	}
	m := tc.Mailbox
	if m.PausedReason != "" {
		// The sender is in trouble; the touch waits for a person to resume
		// the mailbox, and checks again in an hour.
		return river.JobSnooze(time.Hour)
	}
	raw, msgID, variant, subject, err := e.compose(lead, en, m, c, step, args.Step, now)
	var mfe *template.MissingFieldError
	switch {
	case errors.As(err, &mfe):
		return stop("skipped", "missing_field: "+mfe.Field)
	case errors.Is(err, message.ErrInvalid), errors.Is(err, message.ErrHeaderInjection):
		// This lead cannot be mailed as it stands (e.g. a non-ASCII local
		// part without SMTPUTF8): retrying will not change it.
		return stop("skipped", "invalid_message: "+err.Error())
	case err != nil && isSecretError(err):
		return e.secretsUnusable(ctx, m, err)
	case err != nil:
		return err
	}
	// The SMTP password, opened before the claim: a touch claimed and
	// then not sent would be marked uncertain for nothing.
	pw := ""
	if m.PasswordSealed != "" {
		b, err := e.Secrets.Open(m.PasswordSealed, fmt.Sprintf("mailbox:%d:smtp_password", m.ID))
		if err != nil {
			return e.secretsUnusable(ctx, m, fmt.Errorf("mailbox %d SMTP password: %w", m.ID, err))
		}
		pw = string(b)
	}

	// Backing off from the lead's provider after it refused this sender:
	// its sends go out spaced (see store.TakeProviderSlot).
	if len(tc.BackingOff) > 0 {
		if p := providerOf(lead); slices.Contains(tc.BackingOff, p) {
			ok, next, err := e.Store.TakeProviderSlot(ctx, m.ID, p)
			if err != nil {
				return err
			}
			if !ok {
				return river.JobSnooze(max(next.Sub(e.now()), time.Second))
			}
		}
	}

	// Claim the send: cap, spacing and the touch row, committed before SMTP.
	mloc, _ := calendar.LoadLocation(m.Timezone)
	if mloc == nil {
		mloc = time.UTC
	}
	day := civilDay(now, mloc)
	spacing := time.Duration(m.MinSpacingSeconds) * time.Second
	if m.JitterSeconds > 0 {
		spacing += time.Duration(rand.IntN(m.JitterSeconds+1)) * time.Second
	}
	addr, _ := verifier.ParseAddress(lead.Email) // parsed by the gate
	claim, err := e.Store.ClaimTouch(ctx, store.ClaimRequest{
		EnrollmentID: en.ID, Step: args.Step, Workspace: en.Workspace, Email: addr.String(), Domain: addr.Domain,
		MailboxID: m.ID, CapToday: capToday(m, now), Day: day, Spacing: spacing, MessageID: msgID, Variant: variant, JobID: job.ID,
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	switch claim.Why {
	case "enrollment":
		// Stopped, paused or moved on since the job started (a reply
		// that came in while the touch waited for its time): under the
		// lock, this is the last word. Nothing is sent.
		return nil
	case "touch":
		return e.unclaimable(ctx, job, en, c, loc)
	case "suppressed":
		return stop("skipped", "suppressed")
	}
	if !claim.Claimed && claim.Why == "spacing" && claim.Wait < 2*nearDue {
		// Another touch of this mailbox just went: wait out the spacing
		// here rather than a snooze's round trip through the scheduler.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(claim.Wait):
		}
		return e.touch(ctx, job)
	}
	if !claim.Claimed {
		retry := claim.RetryAt
		if claim.Why == "daily_cap" {
			// Capacity is gone for today: the next day's window, never dropped.
			retry = c.window.NextOpen(nextDayStart(now, mloc), loc)
		}
		return river.JobSnooze(max(retry.Sub(now), 100*time.Millisecond))
	}

	from := m.FromAddress
	rp := message.ReturnPath(e.VERPKey, en.ID, args.Step, e.BounceDomain)
	if e.BounceDomain == "" {
		rp = from
	}
	sendErr := e.Sender.Send(ctx, Submission{Host: m.SMTPHost, Port: m.SMTPPort, Security: m.SMTPSecurity, Username: m.SMTPUsername, Password: pw},
		rp, lead.Email, raw)
	// The next step's delay counts from the hand-off, not from the job's start.
	now = e.now()
	var (
		retry  bool          // return sendErr: River retries with its back-off
		snooze time.Duration // come back later, without spending an attempt
	)
	err = e.Store.InTx(ctx, func(tx pgx.Tx) error {
		var se *SendError
		switch {
		case sendErr == nil:
			metrics.TouchesSent.WithLabelValues("sent").Inc()
			if due := touchDue(en, args.Step); !due.IsZero() {
				metrics.SchedulerLag.Observe(max(now.Sub(due), 0).Seconds())
			}
			rec := store.Sent{Workspace: en.Workspace, EnrollmentID: en.ID, LeadID: lead.ID, Step: args.Step, Outcome: "accepted"}
			if en.ThreadMessageID == "" {
				rec.ThreadMessageID, rec.ThreadSubject = msgID, subject
			}
			if args.Step >= c.StepCount() {
				rec.Finish = true
			} else {
				rec.Next = args.Step + 1
				rec.NextChannel = c.steps[rec.Next-1].Channel
				rec.NextDue = c.due(rec.Next, now, loc)
			}
			if err := e.Store.RecordSent(ctx, tx, rec); err != nil {
				return err
			}
			if rec.Next > 0 {
				if err := insertTouch(ctx, tx, en.ID, rec.Next, rec.NextDue, now); err != nil {
					return err
				}
			}
			// Not complete(tx): River's completer does it (see Work).
			return nil
		case errors.As(sendErr, &se) && se.Uncertain:
			metrics.TouchesSent.WithLabelValues("uncertain").Inc()
			if err := e.Store.SetTouch(ctx, tx, en.ID, args.Step, "uncertain", sendErr.Error()); err != nil {
				return err
			}
			if err := e.scheduleNext(ctx, tx, en, c, args.Step, loc, now); err != nil {
				return err
			}
			return complete(tx)
		case errors.As(sendErr, &se) && se.Reply != nil && (se.Stage == "mail" || se.Stage == "rcpt" || se.Stage == "data"):
			// Refused in the SMTP transaction: classified like a bounce.
			rej := classify.Rejection(se.Reply.Code, enhancedCode(se.Reply), se.Reply.Message)
			metrics.Bounces.WithLabelValues(string(rej.Kind)).Inc()
			tm := store.TouchMatch{Workspace: en.Workspace, EnrollmentID: en.ID, Step: args.Step, LeadID: lead.ID, LeadEmail: lead.Email,
				CadenceID: en.CadenceID, MailboxID: &m.ID}
			event := func(typ string, data map[string]any) error {
				data["enrollment_id"], data["step"], data["at_send"] = en.ID, args.Step, true
				return e.Store.LeadEvent(ctx, tx, en.Workspace, lead.ID, typ, data)
			}
			fail := func() error {
				metrics.TouchesSent.WithLabelValues("failed").Inc()
				return e.Store.SetTouch(ctx, tx, en.ID, args.Step, "failed", sendErr.Error())
			}
			switch {
			case rej.Kind == classify.Hard:
				if err := fail(); err != nil {
					return err
				}
				if err := e.hardBounce(ctx, tx, nil, tm, rej, event); err != nil {
					return err
				}
				return complete(tx)
			case rej.Kind == classify.Sender:
				// The address is fine: the touch waits for the back-off
				// from this provider and goes out later.
				if err := e.Store.ReleaseSend(ctx, tx, m.ID, day, en.ID, args.Step, "sender_rejection: "+sendErr.Error()); err != nil {
					return err
				}
				if err := e.senderRejected(ctx, tx, nil, tm, rej, true, event); err != nil {
					return err
				}
				snooze = store.BackoffBase
				return nil
			case se.Permanent():
				// 5xx that says the address may work later (a full
				// mailbox, or nothing about the mailbox): a soft bounce,
				// tried again after SoftRetryAfter, hard after
				// SoftBounceLimit of them.
				if err := e.Store.ReleaseSend(ctx, tx, m.ID, day, en.ID, args.Step, "soft_bounce: "+sendErr.Error()); err != nil {
					return err
				}
				hard, err := e.softBounce(ctx, tx, nil, tm, rej, event)
				if err != nil {
					return err
				}
				if !hard {
					// Not River's quick retries: three of those within a
					// minute would call a full mailbox dead.
					snooze = cmpDur(e.SoftRetryAfter, 24*time.Hour)
					return nil
				}
				if err := fail(); err != nil {
					return err
				}
				return complete(tx)
			}
			// 4xx: greylisting, rate limits, a busy server; River retries.
			if err := e.Store.ReleaseSend(ctx, tx, m.ID, day, en.ID, args.Step, "retrying: "+sendErr.Error()); err != nil {
				return err
			}
			retry = true
			return nil
		case errors.As(sendErr, &se) && se.Permanent():
			// Refused before any recipient was named (the greeting, AUTH,
			// or TLS): the mailbox's settings or account are wrong, not
			// the lead. Pause the mailbox for a person to fix; the touch
			// waits.
			if err := e.Store.ReleaseSend(ctx, tx, m.ID, day, en.ID, args.Step, "mailbox_paused: "+sendErr.Error()); err != nil {
				return err
			}
			reason := "smtp_" + se.Stage + ": " + sendErr.Error()
			paused, err := e.Store.PauseMailbox(ctx, tx, m.ID, reason)
			if err != nil {
				return err
			}
			if paused {
				e.log().Warn("mailbox paused: the submission server refused it", "mailbox", m.ID, "reason", reason)
				if err := e.emit(ctx, tx, nil, en.Workspace, "mailbox.paused", map[string]any{"mailbox_id": m.ID, "reason": reason}); err != nil {
					return err
				}
			}
			snooze = time.Hour
			return nil
		default:
			// Not sent: give the slot back and let River retry later.
			if err := e.Store.ReleaseSend(ctx, tx, m.ID, day, en.ID, args.Step, "retrying: "+sendErr.Error()); err != nil {
				return err
			}
			retry = true
			return nil
		}
	})
	switch {
	case err != nil:
		return err
	case retry:
		return sendErr
	case snooze > 0:
		return river.JobSnooze(snooze)
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

// unclaimable handles a touch whose row was no longer 'scheduled' when its
// job came to claim it. One found 'sending' was claimed by a process that
// died before SMTP's answer was recorded: it is marked 'uncertain', never
// sent again, and the chain goes on. Any other status was recorded by an
// earlier run of this job: nothing to do.
func (e *Engine) unclaimable(ctx context.Context, job *river.Job[TouchArgs], en store.Enrollment, c *Cadence, loc *time.Location) error {
	step := job.Args.Step
	return e.Store.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := e.Store.EnrollmentForUpdate(ctx, tx, en.ID)
		if err != nil {
			return err
		}
		if cur.State != "active" || cur.NextStep != step {
			return nil
		}
		t, err := e.Store.TouchForUpdate(ctx, tx, en.ID, step)
		if err != nil {
			return err
		}
		if t.Status == "sending" && t.ClaimJobID != 0 && t.ClaimJobID != job.ID {
			// Another job of this step claimed it (a resend or a resume
			// queues one) and is sending now, or will be run again by
			// River's rescuer if its process died: the touch is its to
			// settle, not this job's.
			_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		}
		if t.Status == "sending" {
			if err := e.Store.SetTouch(ctx, tx, en.ID, step, "uncertain",
				"the worker stopped between handing the message to SMTP and recording the answer; not sent again"); err != nil {
				return err
			}
			if err := e.scheduleNext(ctx, tx, en, c, step, loc, e.now()); err != nil {
				return err
			}
		}
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
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

// scheduleNext schedules the step after step, or finishes the enrollment.
func (e *Engine) scheduleNext(ctx context.Context, tx pgx.Tx, en store.Enrollment, c *Cadence, step int, loc *time.Location, now time.Time) error {
	if step >= c.StepCount() {
		_, err := e.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"active"}, "finished", "all steps done")
		return err
	}
	next := step + 1
	due := c.due(next, now, loc)
	if err := e.Store.ScheduleTouch(ctx, tx, en.Workspace, en.ID, next, c.steps[next-1].Channel, due); err != nil {
		return err
	}
	return insertTouch(ctx, tx, en.ID, next, due, now)
}

// gate is the verification gate: undeliverable is never sent, risky only
// as the cadence allows, suppressed never.
func (e *Engine) gate(ctx context.Context, en store.Enrollment, lead store.Lead, c *Cadence) (string, bool) {
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
