package sequencer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// heldQueue is a queue no worker of the rig takes: jobs put there are run
// by the test itself, by calling the worker with them.
const heldQueue = "held"

// heldJob inserts a touch job of step of enrollment id into heldQueue and
// marks it running at attempt of maxAttempts, as River does when it hands
// a job to a worker. It returns the job as the worker gets it and the
// context a worker runs in (with the River client, for JobCompleteTx).
func (r *rig) heldJob(ctx context.Context, id int64, step, attempt, maxAttempts int) (context.Context, *river.Job[sequencer.TouchArgs]) {
	r.t.Helper()
	// A due time of its own, so River's unique insert does not take the
	// step's real job for this one.
	args := sequencer.TouchArgs{EnrollmentID: id, Step: step, Due: time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)}
	res, err := r.op.River.Insert(ctx, args, &river.InsertOpts{Queue: heldQueue, MaxAttempts: maxAttempts})
	if err != nil || res.UniqueSkippedAsDuplicate {
		r.t.Fatalf("held job: %+v %v", res, err)
	}
	if _, err := r.st.Pool().Exec(ctx, `UPDATE river_job SET state = 'running', attempt = $2, attempted_at = now() WHERE id = $1`,
		res.Job.ID, attempt); err != nil {
		r.t.Fatal(err)
	}
	row, err := r.op.River.JobGet(ctx, res.Job.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return rivertest.WorkContext(ctx, r.op.River), &river.Job[sequencer.TouchArgs]{JobRow: row, Args: args}
}

// jobState is the River state of job id.
func (r *rig) jobState(ctx context.Context, id int64) string {
	r.t.Helper()
	row, err := r.op.River.JobGet(ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(row.State)
}

// enrollLater enrolls leads in a two-step cadence of mailbox m whose first
// touch is due in an hour: no worker runs it during the test.
func (r *rig) enrollLater(ctx context.Context, m store.Mailbox, emails ...string) []int64 {
	r.t.Helper()
	steps := eightSteps()[:2]
	steps[0].Delay, steps[1].Delay = "1h", "1h"
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "later", Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		r.t.Fatal(err)
	}
	req := sequencer.EnrollRequest{} // not "now": at the first step's delay
	for _, e := range emails {
		req.Leads = append(req.Leads, store.LeadInput{Email: e, FirstName: "Lu"})
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req)
	if err != nil {
		r.t.Fatal(err)
	}
	ids := make([]int64, len(out))
	for i, o := range out {
		if o.Outcome != "enrolled" {
			r.t.Fatalf("%+v", o)
		}
		ids[i] = o.EnrollmentID
	}
	return ids
}

// claim does what a touch job does before SMTP: it claims step of
// enrollment id for job, on mailbox m.
func (r *rig) claim(ctx context.Context, m store.Mailbox, id int64, step int, email string, job int64) {
	r.t.Helper()
	_, domain, _ := strings.Cut(email, "@")
	c, err := r.st.ClaimTouch(ctx, store.ClaimRequest{EnrollmentID: id, Step: step, Workspace: r.ws.ID, Email: email, Domain: domain,
		MailboxID: m.ID, CapToday: 100, Day: time.Now().UTC().Truncate(24 * time.Hour), MessageID: "<held@sender.test>", JobID: job})
	if err != nil || !c.Claimed {
		r.t.Fatalf("claim: %+v %v", c, err)
	}
}

// TestInterruptedTouchSettledWhateverTheEnrollment: a worker claimed a
// touch and died inside SMTP; before River runs its job again, the
// enrollment was stopped (a colleague replied) or paused. The job run
// again must still call the touch 'uncertain', never leave it 'sending',
// and never send it. A paused enrollment moves past the step, so that a
// resume queues the next one.
func TestInterruptedTouchSettledWhateverTheEnrollment(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	emails := []string{"lead6@prospect.test", "lead7@prospect.test"}
	ids := r.enrollLater(ctx, m, emails...)
	w := &sequencer.TouchWorker{Engine: r.op.Engine}
	for i, action := range []string{"stop", "pause"} {
		// Attempt 2: River's rescuer runs the job of the dead worker again.
		jctx, job := r.heldJob(ctx, ids[i], 1, 2, 20)
		r.claim(ctx, m, ids[i], 1, emails[i], job.ID)
		if _, err := r.op.SetEnrollmentState(ctx, r.ws.ID, ids[i], action); err != nil {
			t.Fatal(err)
		}
		if err := w.Work(jctx, job); err != nil {
			t.Fatalf("%s: work: %v", action, err)
		}
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if e.Touches[0].Status != "uncertain" {
			t.Errorf("%s: touch 1 is %q after its job ran again, want uncertain", action, e.Touches[0].Status)
		}
		if s := r.jobState(ctx, job.ID); s != "completed" {
			t.Errorf("%s: job %s, want completed", action, s)
		}
		switch action {
		case "stop":
			if e.State != "stopped" || e.NextStep != 1 || len(e.Touches) != 1 {
				t.Errorf("stop: enrollment %s at step %d with %d touches, want stopped at step 1 with 1", e.State, e.NextStep, len(e.Touches))
			}
		case "pause":
			if e.State != "paused" || e.NextStep != 2 || len(e.Touches) != 2 || e.Touches[1].Status != "scheduled" {
				t.Errorf("pause: enrollment %s at step %d, touches %+v; want paused at step 2, scheduled", e.State, e.NextStep, e.Touches)
			}
		}
	}
	if n := len(r.world.Messages()); n != 0 {
		t.Fatalf("%d messages sent, want none", n)
	}
}

// downSender is a submission server nobody can reach.
type downSender struct{}

func (downSender) Send(context.Context, sequencer.Submission, string, string, []byte) error {
	return &sequencer.SendError{Stage: "dial", Err: errors.New("connect: connection refused")}
}

// TestLastAttemptFailsTheTouch: a touch whose submission server stays
// unreachable is retried by River; on the job's last attempt it must not
// be left for River to discard (the touch 'scheduled' with no job, the
// enrollment active for ever). It ends 'failed' with the error, and the
// enrollment stops as send_failed with an enrollment.stopped event.
func TestLastAttemptFailsTheTouch(t *testing.T) {
	t.Parallel()
	r := newRigSender(t, func(sequencer.Sender) sequencer.Sender { return downSender{} })
	ctx := context.Background()
	m := r.mailbox(100)
	ids := r.enrollLater(ctx, m, "lead8@prospect.test")
	// Its first touch falls due (its own job stays an hour away).
	if err := r.st.InTx(ctx, func(tx pgx.Tx) error { return r.st.RescheduleTouch(ctx, tx, ids[0], 1, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	w := &sequencer.TouchWorker{Engine: r.op.Engine}

	// An attempt before the last: River retries, the touch waits.
	jctx, job := r.heldJob(ctx, ids[0], 1, 19, 20)
	if err := w.Work(jctx, job); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("attempt 19 of 20: %v, want the send error for River to retry", err)
	}
	if e, _ := r.st.GetEnrollment(ctx, r.ws.ID, ids[0]); e.State != "active" || e.Touches[0].Status != "scheduled" {
		t.Fatalf("after attempt 19: enrollment %s, touch %s; want active, scheduled", e.State, e.Touches[0].Status)
	}

	jctx, job = r.heldJob(ctx, ids[0], 1, 20, 20)
	if err := w.Work(jctx, job); err != nil {
		t.Fatalf("last attempt: %v", err)
	}
	e, err := r.st.GetEnrollment(ctx, r.ws.ID, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if tt := e.Touches[0]; tt.Status != "failed" || !strings.Contains(tt.Outcome, "gave up after 20 attempts") || !strings.Contains(tt.Outcome, "connection refused") {
		t.Errorf("touch after the last attempt: %s (%s), want failed with the error", tt.Status, tt.Outcome)
	}
	if e.State != "stopped" || e.StateReason != "send_failed" {
		t.Errorf("enrollment %s (%s), want stopped (send_failed)", e.State, e.StateReason)
	}
	if s := r.jobState(ctx, job.ID); s != "completed" {
		t.Errorf("job %s, want completed", s)
	}
	evs, err := r.st.ListEvents(ctx, r.ws.ID, "enrollment.stopped", 0, 10)
	var p struct {
		EnrollmentID int64 `json:"enrollment_id"`
		Reason       string
	}
	if err != nil || len(evs) != 1 || json.Unmarshal(evs[0].Payload, &p) != nil || p.EnrollmentID != ids[0] || p.Reason != "send_failed" {
		t.Errorf("enrollment.stopped events: %d (%v), payload %+v; want one for %d, send_failed", len(evs), err, p, ids[0])
	}
	if n := len(r.world.Messages()); n != 0 {
		t.Fatalf("%d messages sent, want none", n)
	}
}
