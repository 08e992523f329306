package sequencer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/metrics"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer/calendar"
	"github.com/touchline/touchline/sequencer/message"
	"github.com/touchline/touchline/sequencer/template"
	"github.com/touchline/touchline/verifier"
)

// A touch job runs as a pipeline, after River's job executor (execute,
// then report the result): load reads what the touch needs, gate decides
// whether it may go out now, prepare composes it, claim takes the send
// slot (committed before SMTP), send hands it to SMTP and classifies the
// answer. Each stage returns a result; record is the one place that
// writes each outcome, emits its events and tells River what to do with
// the job.

// TouchStatus is the status of a touch row.
type TouchStatus string

// Touch statuses. A touch is 'scheduled' until its job claims it
// ('sending'), then ends 'sent', 'failed', 'skipped' or 'uncertain' (SMTP
// may or may not have taken it; never sent again).
const (
	TouchScheduled TouchStatus = "scheduled"
	TouchSending   TouchStatus = "sending"
	TouchSent      TouchStatus = "sent"
	TouchFailed    TouchStatus = "failed"
	TouchSkipped   TouchStatus = "skipped"
	TouchUncertain TouchStatus = "uncertain"
)

// EnrollmentState is the state of an enrollment.
type EnrollmentState string

// Enrollment states: only an active enrollment sends.
const (
	EnrollmentActive   EnrollmentState = "active"
	EnrollmentPaused   EnrollmentState = "paused"
	EnrollmentStopped  EnrollmentState = "stopped"
	EnrollmentFinished EnrollmentState = "finished"
)

// ClaimReason is why store.ClaimTouch did not claim a touch.
type ClaimReason string

// Claim reasons (store.Claim.Why).
const (
	ClaimEnrollment ClaimReason = "enrollment" // stopped, paused or moved on
	ClaimTouch      ClaimReason = "touch"      // no longer 'scheduled'
	ClaimSuppressed ClaimReason = "suppressed"
	ClaimSpacing    ClaimReason = "spacing"   // the mailbox sent too recently
	ClaimDailyCap   ClaimReason = "daily_cap" // the mailbox's cap for today is spent
)

// outcome is what a stage of a touch decided.
type outcome int

const (
	goOn           outcome = iota // the next stage runs
	nothing                       // nothing to do: River completes the job
	snooze                        // back after wait, without spending an attempt
	retry                         // River retries with its back-off (err)
	again                         // wait, then run the touch again (mailbox spacing)
	skip                          // never to be sent: touch skipped, enrollment stopped
	secretsBroken                 // the mailbox's secrets cannot be opened (err)
	unclaimable                   // the touch was not 'scheduled' at the claim
	sent                          // SMTP took it
	uncertain                     // SMTP may or may not have taken it
	hardBounced                   // refused for good: the address is bad
	senderRefused                 // refused for the sender's fault: back off
	softBounced                   // refused, but the address may work later
	tempFailed                    // not taken (4xx, no answer): slot released, River retries
	mailboxRefused                // refused before any recipient: the mailbox is wrong
)

// result is a stage's outcome with what record needs to carry it out.
type result struct {
	outcome outcome
	reason  string        // skip: why
	wait    time.Duration // snooze, again
	err     error         // retry, secretsBroken; after SMTP, the send error
	reply   *SendError    // after SMTP: the refusal, when there was one
	rej     classify.Recipient
}

func done(o outcome) result { return result{outcome: o} }

// touchRun is one run of a touch job: what load read, and what the later
// stages add.
type touchRun struct {
	job  *river.Job[TouchArgs]
	tc   store.TouchContext
	en   store.Enrollment
	lead store.Lead
	c    *Cadence
	step *compiledStep
	loc  *time.Location
	now  time.Time

	// prepare
	m        store.Mailbox
	raw      []byte
	msgID    string
	variant  string
	subject  string
	password string
	// claim
	day time.Time // the mailbox's local day the send counts on
}

// touch runs one touch job to its end.
func (e *Engine) touch(ctx context.Context, job *river.Job[TouchArgs]) error {
	for {
		run, res := e.runTouch(ctx, job)
		if res.outcome != again {
			return e.record(ctx, run, res)
		}
		// Another touch of this mailbox just went: wait out the spacing
		// here rather than a snooze's round trip through the scheduler.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(res.wait):
		}
	}
}

// runTouch runs the stages up to the first that decides.
func (e *Engine) runTouch(ctx context.Context, job *river.Job[TouchArgs]) (*touchRun, result) {
	run, res := e.load(ctx, job)
	if res.outcome != goOn {
		return run, res
	}
	if run.step.Channel != ChannelEmail {
		return run, result{outcome: nothing, err: e.openTask(ctx, run)}
	}
	for _, stage := range []func(context.Context, *touchRun) result{e.gate, e.prepare, e.claim, e.send} {
		if res := stage(ctx, run); res.outcome != goOn {
			return run, res
		}
	}
	return run, result{outcome: retry, err: errors.New("sequencer: the touch's stages decided nothing")}
}

// load reads the touch's enrollment, cadence, lead and mailbox, and waits
// for its due time. Paused or stopped enrollments, and stale jobs, do
// nothing (resume schedules the step again), except settle a touch this
// job claimed before its process died.
func (e *Engine) load(ctx context.Context, job *river.Job[TouchArgs]) (*touchRun, result) {
	args := job.Args
	run := &touchRun{job: job, now: e.now()}
	tc, err := e.Store.TouchContext(ctx, args.EnrollmentID, args.Step)
	if errors.Is(err, store.ErrNotFound) {
		return run, done(nothing)
	}
	if err != nil {
		return run, result{outcome: retry, err: err}
	}
	run.tc, run.en, run.lead = tc, tc.Enrollment, tc.Lead
	if EnrollmentState(run.en.State) != EnrollmentActive || run.en.NextStep != args.Step {
		if t, ok := touchOf(run.en, args.Step); ok && TouchStatus(t.Status) == TouchSending && (t.ClaimJobID == 0 || t.ClaimJobID == job.ID) {
			return run, done(unclaimable)
		}
		return run, done(nothing)
	}
	// Early: wait out a short remainder here, snooze a long one.
	if t, ok := touchOf(run.en, args.Step); ok && t.DueAt.After(run.now) {
		wait := t.DueAt.Sub(run.now)
		if wait > 2*nearDue {
			return run, result{outcome: snooze, wait: wait}
		}
		select {
		case <-ctx.Done():
			return run, result{outcome: retry, err: ctx.Err()}
		case <-time.After(wait):
		}
		run.now = e.now()
	}
	if tc.Cadence.Status != "active" {
		return run, done(nothing)
	}
	if run.c, err = e.LoadCadence(tc.Cadence); err != nil {
		return run, result{outcome: retry, err: fmt.Errorf("cadence %d: %w", tc.Cadence.ID, err)}
	}
	if args.Step < 1 || args.Step > run.c.StepCount() {
		return run, done(nothing)
	}
	run.step = &run.c.steps[args.Step-1]
	run.loc = run.c.location(run.lead.Timezone)
	return run, done(goOn)
}

// openTask opens the task of a step a person does (a call, a LinkedIn
// touch); the cadence moves on when it is completed, or at its deadline.
func (e *Engine) openTask(ctx context.Context, run *touchRun) error {
	en, step, now := run.en, run.step, run.now
	return e.Store.InTx(ctx, func(tx pgx.Tx) error {
		title, err := step.title.Render(leadValues(run.lead, store.Mailbox{}, en))
		if err != nil {
			// A person reads it: the raw template beats no task.
			title = step.Title
		}
		if err := e.Store.CreateTask(ctx, tx, en.Workspace, en.ID, run.job.Args.Step, step.Channel, strings.TrimSpace(title), "", now); err != nil {
			return err
		}
		if step.AutoAdvance {
			deadline := nextDayStart(now, run.loc)
			if step.advanceAfter > 0 {
				deadline = now.Add(step.advanceAfter)
			}
			opts := TaskDeadlineArgs{}.InsertOpts()
			opts.ScheduledAt = deadline
			if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, TaskDeadlineArgs{EnrollmentID: en.ID, Step: run.job.Args.Step}, &opts); err != nil {
				return err
			}
		}
		return completeJob(ctx, tx, run.job)
	})
}

// gate decides whether the touch may go out now: inside its window, to an
// address the verification gate lets through, from a mailbox that exists
// and is not paused.
func (e *Engine) gate(ctx context.Context, run *touchRun) result {
	c, now := run.c, run.now
	if !c.window.Contains(now, run.loc) {
		return result{outcome: snooze, wait: c.window.NextOpen(now, run.loc).Sub(now)}
	}
	if reason, ok := e.verdictGate(ctx, run.en, run.lead, c); !ok {
		return result{outcome: skip, reason: reason}
	}
	if !run.tc.HasMailbox {
		return result{outcome: skip, reason: "mailbox_removed"}
	}
	if run.tc.Mailbox.PausedReason != "" {
		// The sender is in trouble; the touch waits for a person to resume
		// the mailbox, and checks again in an hour.
		return result{outcome: snooze, wait: time.Hour}
	}
	run.m = run.tc.Mailbox
	return done(goOn)
}

// prepare renders and signs the message and opens the SMTP password,
// before the claim: a touch claimed and then not sent would be marked
// uncertain for nothing.
func (e *Engine) prepare(ctx context.Context, run *touchRun) result {
	m := run.m
	var err error
	run.raw, run.msgID, run.variant, run.subject, err = e.compose(run.lead, run.en, m, run.c, run.step, run.job.Args.Step, run.now)
	var mfe *template.MissingFieldError
	switch {
	case errors.As(err, &mfe):
		return result{outcome: skip, reason: "missing_field: " + mfe.Field}
	case errors.Is(err, message.ErrInvalid), errors.Is(err, message.ErrHeaderInjection):
		// This lead cannot be mailed as it stands (e.g. a non-ASCII local
		// part without SMTPUTF8): retrying will not change it.
		return result{outcome: skip, reason: "invalid_message: " + err.Error()}
	case err != nil && isSecretError(err):
		return result{outcome: secretsBroken, err: err}
	case err != nil:
		return result{outcome: retry, err: err}
	}
	if m.PasswordSealed != "" {
		b, err := e.Secrets.Open(m.PasswordSealed, fmt.Sprintf("mailbox:%d:smtp_password", m.ID))
		if err != nil {
			return result{outcome: secretsBroken, err: fmt.Errorf("mailbox %d SMTP password: %w", m.ID, err)}
		}
		run.password = string(b)
	}
	return done(goOn)
}

// claim takes the send: the provider back-off's slot, then the mailbox's
// cap and spacing and the touch row, committed before SMTP
// (store.ClaimTouch).
func (e *Engine) claim(ctx context.Context, run *touchRun) result {
	m, now := run.m, run.now
	// Backing off from the lead's provider after it refused this sender:
	// its sends go out spaced (see store.TakeProviderSlot).
	if len(run.tc.BackingOff) > 0 {
		if p := providerOf(run.lead); slices.Contains(run.tc.BackingOff, p) {
			ok, next, err := e.Store.TakeProviderSlot(ctx, m.ID, p)
			if err != nil {
				return result{outcome: retry, err: err}
			}
			if !ok {
				// next is on the database's clock, and River snoozes on
				// the wall clock: not the engine's (Now), which only
				// places touches in their cadence.
				return result{outcome: snooze, wait: max(time.Until(next), time.Second)}
			}
		}
	}
	mloc, _ := calendar.LoadLocation(m.Timezone)
	if mloc == nil {
		mloc = time.UTC
	}
	run.day = civilDay(now, mloc)
	spacing := time.Duration(m.MinSpacingSeconds) * time.Second
	if m.JitterSeconds > 0 {
		spacing += time.Duration(rand.IntN(m.JitterSeconds+1)) * time.Second
	}
	addr, _ := verifier.ParseAddress(run.lead.Email) // parsed by the gate
	cl, err := e.Store.ClaimTouch(ctx, store.ClaimRequest{
		EnrollmentID: run.en.ID, Step: run.job.Args.Step, Workspace: run.en.Workspace, Email: addr.String(), Domain: addr.Domain,
		MailboxID: m.ID, CapToday: capToday(m, now), Day: run.day, Spacing: spacing, MessageID: run.msgID, Variant: run.variant, JobID: run.job.ID,
	})
	if errors.Is(err, store.ErrNotFound) {
		return done(nothing) // deleted meanwhile
	}
	if err != nil {
		return result{outcome: retry, err: err}
	}
	if cl.Claimed {
		return done(goOn)
	}
	switch ClaimReason(cl.Why) {
	case ClaimEnrollment:
		// Stopped, paused or moved on since the job started (a reply
		// that came in while the touch waited for its time): under the
		// lock, this is the last word. Nothing is sent.
		return done(nothing)
	case ClaimTouch:
		return done(unclaimable)
	case ClaimSuppressed:
		return result{outcome: skip, reason: "suppressed"}
	case ClaimSpacing:
		if cl.Wait < 2*nearDue {
			return result{outcome: again, wait: cl.Wait}
		}
	case ClaimDailyCap:
		// Capacity is gone for today: the next day's window, never dropped.
		return result{outcome: snooze, wait: max(run.c.window.NextOpen(nextDayStart(now, mloc), run.loc).Sub(now), 100*time.Millisecond)}
	}
	return result{outcome: snooze, wait: max(cl.RetryAt.Sub(now), 100*time.Millisecond)}
}

// send hands the claimed message to SMTP and classifies the answer.
func (e *Engine) send(ctx context.Context, run *touchRun) result {
	m := run.m
	rp := message.ReturnPath(e.VERPKey, run.en.ID, run.job.Args.Step, e.BounceDomain)
	if e.BounceDomain == "" {
		rp = m.FromAddress
	}
	err := e.Sender.Send(ctx, Submission{Host: m.SMTPHost, Port: m.SMTPPort, Security: m.SMTPSecurity, Username: m.SMTPUsername, Password: run.password},
		rp, run.lead.Email, run.raw)
	// The next step's delay counts from the hand-off, not from the job's start.
	run.now = e.now()
	return classifySend(err)
}

// classifySend says what SMTP's answer means for the touch.
func classifySend(err error) result {
	var se *SendError
	switch {
	case err == nil:
		return done(sent)
	case errors.As(err, &se) && se.Uncertain:
		return result{outcome: uncertain, err: err}
	case errors.As(err, &se) && se.Reply != nil && (se.Stage == "mail" || se.Stage == "rcpt" || se.Stage == "data"):
		// Refused in the SMTP transaction: classified like a bounce.
		rej := classify.Rejection(se.Reply.Code, enhancedCode(se.Reply), se.Reply.Message)
		metrics.Bounces.WithLabelValues(string(rej.Kind)).Inc()
		res := result{err: err, reply: se, rej: rej}
		switch {
		case rej.Kind == classify.Hard:
			res.outcome = hardBounced
		case rej.Kind == classify.Sender:
			res.outcome = senderRefused
		case se.Permanent():
			// 5xx that says the address may work later (a full mailbox,
			// or nothing about the mailbox).
			res.outcome = softBounced
		default:
			// 4xx: greylisting, rate limits, a busy server; River retries.
			res.outcome = tempFailed
		}
		return res
	case errors.As(err, &se) && se.Permanent():
		// Refused before any recipient was named (the greeting, AUTH, or
		// TLS): the mailbox's settings or account are wrong, not the lead.
		return result{outcome: mailboxRefused, err: err, reply: se}
	}
	// Not sent: give the slot back and let River retry later.
	return result{outcome: tempFailed, err: err}
}

// record carries out a touch's result: it writes the outcome, emits its
// events and returns what River does with the job (nil: complete it;
// a snooze; an error: retry).
func (e *Engine) record(ctx context.Context, run *touchRun, res result) error {
	switch res.outcome {
	case nothing:
		return res.err
	case snooze:
		return river.JobSnooze(res.wait)
	case retry:
		return res.err
	case unclaimable:
		return e.settleInterrupted(ctx, run.job, run.tc)
	case secretsBroken:
		return e.secretsUnusable(ctx, run.m, res.err)
	case skip:
		return e.Store.InTx(ctx, func(tx pgx.Tx) error { return e.recordSkipped(ctx, tx, run, res.reason) })
	}
	var wait time.Duration // snooze the job once the transaction commits
	err := e.Store.InTx(ctx, func(tx pgx.Tx) (err error) {
		switch res.outcome {
		case sent:
			err = e.recordSent(ctx, tx, run)
		case uncertain:
			err = e.recordUncertain(ctx, tx, run, res)
		case hardBounced:
			err = e.recordHardBounce(ctx, tx, run, res)
		case senderRefused:
			wait, err = e.recordSenderRefused(ctx, tx, run, res)
		case softBounced:
			wait, err = e.recordSoftBounce(ctx, tx, run, res)
		case tempFailed:
			// River retries with its back-off.
			err = e.Store.ReleaseSend(ctx, tx, run.m.ID, run.day, run.en.ID, run.job.Args.Step, "retrying: "+res.err.Error())
		case mailboxRefused:
			wait, err = e.recordMailboxRefused(ctx, tx, run, res)
		default:
			err = fmt.Errorf("sequencer: touch outcome %d not recorded", res.outcome)
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case res.outcome == tempFailed:
		return res.err // River retries with its back-off
	case wait > 0:
		return river.JobSnooze(wait)
	}
	return nil
}

// recordSkipped: never to be sent; the enrollment stops.
func (e *Engine) recordSkipped(ctx context.Context, tx pgx.Tx, run *touchRun, reason string) error {
	if err := e.setTouch(ctx, tx, run, TouchSkipped, reason); err != nil {
		return err
	}
	// Reported like every other stop (the verification gate, a missing
	// field, a removed mailbox).
	if _, err := e.stopEnrollments(ctx, tx, nil, run.en.Workspace, store.StopWhich{EnrollmentID: run.en.ID}, reason); err != nil {
		return err
	}
	return completeJob(ctx, tx, run.job)
}

// recordSent records the touch 'sent', moves the enrollment on and queues
// the next step's job, in one transaction. Not completeJob: River's
// completer does it (see TouchWorker.Work).
func (e *Engine) recordSent(ctx context.Context, tx pgx.Tx, run *touchRun) error {
	en, step, now := run.en, run.job.Args.Step, run.now
	metrics.TouchesSent.WithLabelValues("sent").Inc()
	if due := touchDue(en, step); !due.IsZero() {
		metrics.SchedulerLag.Observe(max(now.Sub(due), 0).Seconds())
	}
	rec := store.Sent{Workspace: en.Workspace, EnrollmentID: en.ID, LeadID: run.lead.ID, Step: step, Outcome: "accepted"}
	if en.ThreadMessageID == "" {
		rec.ThreadMessageID, rec.ThreadSubject = run.msgID, run.subject
	}
	if step >= run.c.StepCount() {
		rec.Finish = true
	} else {
		rec.Next = step + 1
		rec.NextChannel = run.c.steps[rec.Next-1].Channel
		rec.NextDue = run.c.due(rec.Next, now, run.loc)
	}
	if err := e.Store.RecordSent(ctx, tx, rec); err != nil {
		return err
	}
	if rec.Next > 0 {
		return insertTouch(ctx, tx, en.ID, rec.Next, rec.NextDue, now)
	}
	return nil
}

// recordUncertain: SMTP may have taken the message; it is never sent
// again, and the chain goes on.
func (e *Engine) recordUncertain(ctx context.Context, tx pgx.Tx, run *touchRun, res result) error {
	metrics.TouchesSent.WithLabelValues("uncertain").Inc()
	if err := e.setTouch(ctx, tx, run, TouchUncertain, res.err.Error()); err != nil {
		return err
	}
	if err := e.scheduleNext(ctx, tx, run.en, run.c, run.job.Args.Step, run.loc, run.now); err != nil {
		return err
	}
	return completeJob(ctx, tx, run.job)
}

// atSend is what a refusal at send time shares with a bounce reported
// later: the touch it is about, and the lead's history to append to.
func (e *Engine) atSend(ctx context.Context, tx pgx.Tx, run *touchRun) (store.TouchMatch, eventFunc) {
	en, step := run.en, run.job.Args.Step
	tm := store.TouchMatch{Workspace: en.Workspace, EnrollmentID: en.ID, Step: step, LeadID: run.lead.ID, LeadEmail: run.lead.Email,
		CadenceID: en.CadenceID, MailboxID: &run.m.ID}
	return tm, func(typ string, data map[string]any) error {
		data["enrollment_id"], data["step"], data["at_send"] = en.ID, step, true
		return e.Store.LeadEvent(ctx, tx, en.Workspace, run.lead.ID, typ, data)
	}
}

// recordHardBounce: the address is bad; the touch fails and the bounce's
// effects follow (see hardBounce).
func (e *Engine) recordHardBounce(ctx context.Context, tx pgx.Tx, run *touchRun, res result) error {
	tm, event := e.atSend(ctx, tx, run)
	if err := e.failTouch(ctx, tx, run, res); err != nil {
		return err
	}
	if err := e.hardBounce(ctx, tx, nil, tm, res.rej, event); err != nil {
		return err
	}
	return completeJob(ctx, tx, run.job)
}

// recordSenderRefused: the address is fine; the touch waits for the
// back-off from this provider and goes out later.
func (e *Engine) recordSenderRefused(ctx context.Context, tx pgx.Tx, run *touchRun, res result) (time.Duration, error) {
	tm, event := e.atSend(ctx, tx, run)
	if err := e.Store.ReleaseSend(ctx, tx, run.m.ID, run.day, run.en.ID, run.job.Args.Step, "sender_rejection: "+res.err.Error()); err != nil {
		return 0, err
	}
	if err := e.senderRejected(ctx, tx, nil, tm, res.rej, true, event); err != nil {
		return 0, err
	}
	return store.BackoffBase, nil
}

// recordSoftBounce: tried again after SoftRetryAfter, hard after
// SoftBounceLimit of them.
func (e *Engine) recordSoftBounce(ctx context.Context, tx pgx.Tx, run *touchRun, res result) (time.Duration, error) {
	tm, event := e.atSend(ctx, tx, run)
	if err := e.Store.ReleaseSend(ctx, tx, run.m.ID, run.day, run.en.ID, run.job.Args.Step, "soft_bounce: "+res.err.Error()); err != nil {
		return 0, err
	}
	hard, err := e.softBounce(ctx, tx, nil, tm, res.rej, event)
	if err != nil {
		return 0, err
	}
	if !hard {
		// Not River's quick retries: three of those within a minute
		// would call a full mailbox dead.
		return cmpDur(e.SoftRetryAfter, 24*time.Hour), nil
	}
	if err := e.failTouch(ctx, tx, run, res); err != nil {
		return 0, err
	}
	return 0, completeJob(ctx, tx, run.job)
}

// recordMailboxRefused: pause the mailbox for a person to fix; the touch
// waits.
func (e *Engine) recordMailboxRefused(ctx context.Context, tx pgx.Tx, run *touchRun, res result) (time.Duration, error) {
	m := run.m
	if err := e.Store.ReleaseSend(ctx, tx, m.ID, run.day, run.en.ID, run.job.Args.Step, "mailbox_paused: "+res.err.Error()); err != nil {
		return 0, err
	}
	reason := "smtp_" + res.reply.Stage + ": " + res.err.Error()
	paused, err := e.Store.PauseMailbox(ctx, tx, m.ID, reason)
	if err != nil {
		return 0, err
	}
	if paused {
		e.log().Warn("mailbox paused: the submission server refused it", "mailbox", m.ID, "reason", reason)
		if err := e.emit(ctx, tx, nil, run.en.Workspace, "mailbox.paused", map[string]any{"mailbox_id": m.ID, "reason": reason}); err != nil {
			return 0, err
		}
	}
	return time.Hour, nil
}

func (e *Engine) failTouch(ctx context.Context, tx pgx.Tx, run *touchRun, res result) error {
	metrics.TouchesSent.WithLabelValues("failed").Inc()
	return e.setTouch(ctx, tx, run, TouchFailed, res.err.Error())
}

func (e *Engine) setTouch(ctx context.Context, tx pgx.Tx, run *touchRun, status TouchStatus, outcome string) error {
	return e.Store.SetTouch(ctx, tx, run.en.ID, run.job.Args.Step, string(status), outcome)
}

// completeJob completes job in tx, with the writes that settle its touch.
func completeJob(ctx context.Context, tx pgx.Tx, job *river.Job[TouchArgs]) error {
	_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
	return err
}

// settleInterrupted handles a touch whose row was no longer 'scheduled'
// when its job came to claim it. One found 'sending' was claimed by a
// process that died before SMTP's answer was recorded: it is marked
// 'uncertain', never sent again, whatever the enrollment's state, and an
// enrollment still at this step (active, or paused: resume queues its next
// step) goes on. Any other status was recorded by an earlier run of this
// job: nothing to do.
func (e *Engine) settleInterrupted(ctx context.Context, job *river.Job[TouchArgs], tc store.TouchContext) error {
	step := job.Args.Step
	return e.Store.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := e.Store.EnrollmentForUpdate(ctx, tx, tc.Enrollment.ID)
		if err != nil {
			return err
		}
		t, err := e.Store.TouchForUpdate(ctx, tx, cur.ID, step)
		if errors.Is(err, store.ErrNotFound) {
			return completeJob(ctx, tx, job)
		}
		if err != nil {
			return err
		}
		if TouchStatus(t.Status) != TouchSending {
			return completeJob(ctx, tx, job)
		}
		if t.ClaimJobID != 0 && t.ClaimJobID != job.ID {
			// Another job of this step claimed it (a resend or a resume
			// queues one) and is sending now, or will be run again by
			// River's rescuer if its process died: the touch is its to
			// settle, not this job's.
			return completeJob(ctx, tx, job)
		}
		if err := e.Store.SetTouch(ctx, tx, cur.ID, step, string(TouchUncertain),
			"the worker stopped between handing the message to SMTP and recording the answer; not sent again"); err != nil {
			return err
		}
		if st := EnrollmentState(cur.State); cur.NextStep == step && (st == EnrollmentActive || st == EnrollmentPaused) {
			c, err := e.LoadCadence(tc.Cadence)
			if err != nil {
				return fmt.Errorf("cadence %d: %w", tc.Cadence.ID, err)
			}
			if err := e.scheduleNext(ctx, tx, cur, c, step, c.location(tc.Lead.Timezone), e.now()); err != nil {
				return err
			}
		}
		return completeJob(ctx, tx, job)
	})
}

// giveUp settles the touch of a job whose last attempt failed, which River
// would otherwise discard, leaving the touch 'scheduled' with no job and
// its enrollment active for ever. A touch still 'scheduled' ends 'failed'
// with the last error, and its enrollment stops as send_failed (see the
// package doc); one left 'sending' is settled as any interrupted touch.
func (e *Engine) giveUp(ctx context.Context, job *river.Job[TouchArgs], cause error) error {
	// The job's own context may be what ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	step := job.Args.Step
	tc, err := e.Store.TouchContext(ctx, job.Args.EnrollmentID, step)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t, ok := touchOf(tc.Enrollment, step); ok && TouchStatus(t.Status) == TouchSending {
		return e.settleInterrupted(ctx, job, tc)
	}
	return e.Store.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := e.Store.EnrollmentForUpdate(ctx, tx, tc.Enrollment.ID)
		if err != nil {
			return err
		}
		t, err := e.Store.TouchForUpdate(ctx, tx, cur.ID, step)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		st := EnrollmentState(cur.State)
		if err == nil && TouchStatus(t.Status) == TouchScheduled && cur.NextStep == step && (st == EnrollmentActive || st == EnrollmentPaused) {
			metrics.TouchesSent.WithLabelValues("failed").Inc()
			if err := e.Store.SetTouch(ctx, tx, cur.ID, step, string(TouchFailed),
				fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, cause)); err != nil {
				return err
			}
			if _, err := e.stopEnrollments(ctx, tx, nil, cur.Workspace, store.StopWhich{EnrollmentID: cur.ID}, "send_failed"); err != nil {
				return err
			}
		}
		return completeJob(ctx, tx, job)
	})
}

// touchOf is the touch of step among en's touches.
func touchOf(en store.Enrollment, step int) (store.Touch, bool) {
	for _, t := range en.Touches {
		if t.Step == step {
			return t, true
		}
	}
	return store.Touch{}, false
}
