package sequencer_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/sequencer/template"
	"github.com/touchline/touchline/verifier/resolver"
)

type rig struct {
	t     *testing.T
	st    *store.Store
	world *mailsim.World
	res   *resolver.Client
	op    *sequencer.Operator
	ws    store.Workspace
	dkim  string // PEM of the sender's DKIM key
}

// newRig starts a database, a simulated world with a sending domain that
// passes its audit (SPF, DKIM, DMARC) and a recipient domain, the verifier,
// and River workers for touches.
func newRig(t *testing.T) *rig { return newRigSender(t, nil) }

// newRigSender is newRig with the engine's sender wrapped by wrap (nil:
// the SMTP sender as it is).
func newRigSender(t *testing.T, wrap func(sequencer.Sender) sequencer.Sender) *rig {
	t.Helper()
	return newRigClock(t, wrap, nil)
}

// newRigClock is newRigSender with the engine reading the time from now
// (nil: the wall clock).
func newRigClock(t *testing.T, wrap func(sequencer.Sender) sequencer.Sender, now func() time.Time) *rig {
	t.Helper()
	url := storetest.URL(t)
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	sw := sendertest.New(t, sendertest.Options{Recipients: 300})
	w, res, v, pemKey := sw.World, sw.Resolver, sw.Verifier, sw.DKIMKey
	eng := sw.Engine(t, st, make([]byte, 32))
	if wrap != nil {
		eng.Sender = wrap(eng.Sender)
	}
	eng.Now = now
	rc, err := jobs.NewClient(st, jobs.Config{Workers: 1, Worker: &jobs.VerifyBatchWorker{Store: st, Verifier: v},
		Queues: map[string]int{sequencer.QueueSend: 8},
		Register: func(wk *river.Workers) error {
			if err := river.AddWorkerSafely(wk, &sequencer.TouchWorker{Engine: eng}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(wk, &sequencer.TaskDeadlineWorker{Engine: eng}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(wk, &sequencer.ResumeWorker{Engine: eng}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(wk, &sequencer.WebhookWorker{Engine: eng}); err != nil {
				return err
			}
			return river.AddWorkerSafely(wk, &sequencer.PollIMAPWorker{Inbox: &sequencer.Inbox{Engine: eng}})
		}})
	if err != nil {
		t.Fatal(err)
	}
	sendertest.StartRiver(t, rc)
	ws, _ := st.EnsureWorkspace(ctx, "sales")
	return &rig{t: t, st: st, world: w, res: res, ws: ws, dkim: pemKey,
		op: &sequencer.Operator{Engine: eng, River: rc, Resolver: res}}
}

func (r *rig) mailbox(cap int) store.Mailbox {
	r.t.Helper()
	ip, _ := r.world.HostIP("smtp.sender.test")
	zero := 0
	m, err := r.op.CreateMailbox(context.Background(), r.ws.ID, sequencer.MailboxInput{
		FromAddress: "ana@sender.test", FromName: "Ana Ruiz", SMTPHost: ip.String(), SMTPPort: r.world.SMTPPort(),
		SMTPSecurity: "starttls", DailyCap: cap, MinSpacingSeconds: &zero, JitterSeconds: &zero,
		DKIMSelector: "s1", DKIMPrivateKey: r.dkim,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func eightSteps() []sequencer.Step {
	return []sequencer.Step{
		{Channel: "email", Delay: "0", Subject: "Quick question, {{first_name}}", Body: "Hi {{first_name}},\n\nIs {{company|your team}} hiring SDRs this quarter?\n\n{{sender_first_name}}"},
		{Channel: "email", Delay: "1s", Thread: true, Body: "Following up on my note, {{first_name}}."},
		{Channel: "call", Delay: "1s", Title: "Call {{first_name}}"},
		{Channel: "email", Delay: "1s", Subject: "An idea for {{company|you}}", Body: "{{first_name}}, one idea: shorter cadences."},
		{Channel: "linkedin", Delay: "1s", Title: "Connect on LinkedIn"},
		{Channel: "email", Delay: "1s", Thread: true, Body: "Worth a chat?"},
		{Channel: "email", Delay: "1s", Subject: "Closing the loop", Body: "Last note from me, {{first_name}}."},
		{Channel: "email", Delay: "1s", Thread: true, Body: "Should I stop writing?"},
	}
}

// TestEightStepCadence runs an 8-step cadence (6 emails, a call and a
// LinkedIn task) for 200 leads against the simulated world: every lead
// gets exactly its 6 emails, in order, spaced by at least the delays, the
// replies threaded, each DKIM-signed with both List-Unsubscribe headers in
// h=; the tasks wait for a person; the gate skips what must not be mailed.
func TestEightStepCadence(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(10000)
	c, warnings, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "Q4 SDR hiring", Steps: eightSteps(),
		Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	_ = warnings
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatalf("launch (preflight should pass): %v", err)
	}
	const n = 200
	req := sequencer.EnrollRequest{Start: "now"}
	for i := range n {
		req.Leads = append(req.Leads, store.LeadInput{Email: fmt.Sprintf("lead%d@prospect.test", i), FirstName: fmt.Sprintf("Lee%d", i), Company: "Acme"})
	}
	// Must not be mailed: a bouncing address, a suppressed one.
	req.Leads = append(req.Leads, store.LeadInput{Email: "nobody@prospect.test", FirstName: "No"}, store.LeadInput{Email: "lead299@prospect.test", FirstName: "Sup"})
	if err := r.st.Suppress(ctx, r.ws.ID, "lead299@prospect.test", "unsubscribed"); err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	var nobody int64
	for _, o := range out {
		outcomes[o.Outcome+"/"+o.Reason]++
		if o.Email == "nobody@prospect.test" {
			nobody = o.EnrollmentID
		}
	}
	if outcomes["enrolled/"] != n+1 || outcomes["skipped/suppressed"] != 1 {
		t.Fatalf("outcomes %v", outcomes)
	}
	again, _ := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Leads: req.Leads[:1]})
	if again[0].Reason != "already_enrolled" {
		t.Fatalf("re-enrollment: %+v", again)
	}

	// Work the tasks as a rep would, until every lead has had 6 emails.
	deadline := time.Now().Add(90 * time.Second)
	for {
		tasks, err := r.st.ListTasks(ctx, r.ws.ID, time.Time{}, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if _, err := r.op.CompleteTask(ctx, r.ws.ID, tk.ID, "connected"); err != nil {
				t.Fatal(err)
			}
		}
		if len(r.world.Messages()) >= n*6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d emails after 90s", len(r.world.Messages()), n*6)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let anything that would be a duplicate show up.
	time.Sleep(1500 * time.Millisecond)

	byLead := map[string][]mailsim.Message{}
	for _, msg := range r.world.Messages() {
		if len(msg.To) != 1 {
			t.Fatalf("message to %v", msg.To)
		}
		byLead[msg.To[0]] = append(byLead[msg.To[0]], msg)
	}
	if len(byLead) != n {
		t.Fatalf("%d leads got mail, want %d (nobody@ and the suppressed lead none)", len(byLead), n)
	}
	verified := 0
	for addr, msgs := range byLead {
		if len(msgs) != 6 {
			t.Fatalf("%s got %d emails, want exactly 6", addr, len(msgs))
		}
		sort.Slice(msgs, func(i, j int) bool { return msgs[i].Received.Before(msgs[j].Received) })
		var first *mail.Message
		var firstID string
		for i, msg := range msgs {
			pm, err := mail.ReadMessage(bytes.NewReader(msg.Data))
			if err != nil {
				t.Fatal(err)
			}
			subj := pm.Header.Get("Subject")
			switch i {
			case 0:
				first, firstID = pm, pm.Header.Get("Message-ID")
				if !strings.HasPrefix(subj, "Quick question, Lee") {
					t.Fatalf("%s first subject %q", addr, subj)
				}
			case 1, 3, 5:
				if pm.Header.Get("In-Reply-To") != firstID || !strings.HasPrefix(subj, "Re: Quick question") {
					for _, m := range msgs {
						pm, _ := mail.ReadMessage(bytes.NewReader(m.Data))
						t.Logf("%s %s %q %s", m.Received.Format("15:04:05.000"), pm.Header.Get("Message-ID"), pm.Header.Get("Subject"), pm.Header.Get("In-Reply-To"))
					}
					t.Fatalf("%s email %d not threaded: %q in-reply-to %q", addr, i+1, subj, pm.Header.Get("In-Reply-To"))
				}
			}
			// Received times include the transport of each message:
			// allow them 100 ms.
			if i > 0 && msg.Received.Sub(msgs[i-1].Received) < 900*time.Millisecond {
				t.Fatalf("%s: emails %d and %d %s apart, delay is 1s", addr, i, i+1, msg.Received.Sub(msgs[i-1].Received))
			}
			if pm.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.Contains(pm.Header.Get("List-Unsubscribe"), "https://touchline.sender.test/u/") {
				t.Fatalf("unsubscribe headers: %v", pm.Header)
			}
			if !strings.HasPrefix(msg.From, "b-") || !strings.HasSuffix(msg.From, "@bounces.sender.test") {
				t.Fatalf("return path %q is not a VERP address", msg.From)
			}
			if verified < 20 {
				vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg.Data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
					return r.res.LookupTXT(ctx, name)
				}})
				if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "sender.test" {
					t.Fatalf("DKIM: %v %+v", err, vs)
				}
				verified++
			}
		}
		_ = first
	}
	// The undeliverable lead was stopped by the gate, never mailed.
	e, err := r.st.GetEnrollment(ctx, r.ws.ID, nobody)
	if err != nil || e.State != "stopped" || !strings.HasPrefix(e.StateReason, "undeliverable") {
		t.Fatalf("nobody@ enrollment %+v %v", e, err)
	}
	// Every enrollment finished, with 8 touches recorded.
	var finished int
	for _, o := range out {
		if o.EnrollmentID == 0 || o.EnrollmentID == nobody {
			continue
		}
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, o.EnrollmentID)
		if err != nil {
			t.Fatal(err)
		}
		if e.State == "finished" && len(e.Touches) == 8 {
			finished++
		}
	}
	if finished != n {
		t.Fatalf("%d of %d enrollments finished with 8 touches", finished, n)
	}
}

func TestDailyCapMovesTouchesToTheNextDay(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(3)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "capped", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	req := sequencer.EnrollRequest{Start: "now"}
	for i := range 5 {
		req.Leads = append(req.Leads, store.LeadInput{Email: fmt.Sprintf("lead%d@prospect.test", i), FirstName: "X"})
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(r.world.Messages()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sent", len(r.world.Messages()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if got := len(r.world.Messages()); got != 3 {
		t.Fatalf("%d sent with a daily cap of 3", got)
	}
	// The two others wait for tomorrow's window: scheduled, not dropped.
	waiting := 0
	for _, o := range out {
		e, _ := r.st.GetEnrollment(ctx, r.ws.ID, o.EnrollmentID)
		if e.State == "active" && len(e.Touches) == 1 && e.Touches[0].Status == "scheduled" {
			waiting++
		}
	}
	if waiting != 2 {
		t.Fatalf("%d touches waiting for the next day, want 2", waiting)
	}
	if sent, err := r.st.MailboxSentToday(ctx, r.ws.ID); err != nil || sent[m.ID] != 3 {
		t.Fatalf("sent today %v %v", sent, err)
	}
}

func TestLaunchPreflightRefusesFailingDomain(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.world.AddDomain(mailsim.Domain{Name: "bare.test"})
	zero := 0
	m, err := r.op.CreateMailbox(ctx, r.ws.ID, sequencer.MailboxInput{FromAddress: "rep@bare.test", SMTPHost: "127.0.0.1", MinSpacingSeconds: &zero})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "x", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.op.Launch(ctx, r.ws.ID, c.ID, false)
	pe, ok := err.(*sequencer.PreflightError)
	if !ok || len(pe.Failures) < 2 {
		t.Fatalf("launch of an unauthenticated domain: %v", err)
	}
	for _, f := range pe.Failures {
		if f.Fix == "" {
			t.Fatalf("failure without a fix: %+v", f)
		}
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, true); err != nil {
		t.Fatalf("forced launch: %v", err)
	}
}

// TestTouchOutsideWindowWaits enrolls with start "now" into a cadence whose
// window is closed today: nothing is sent, and the touch waits, scheduled
// for the window's next opening in the lead's time zone.
func TestTouchOutsideWindowWaits(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	day := (time.Now().UTC().Weekday() + 2) % 7
	name := strings.ToLower(day.String()[:3])
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "closed today", Steps: eightSteps()[:1],
		Window: sequencer.WindowSpec{Days: []string{name}, Start: "09:00", End: "17:00", Timezone: "UTC"}, MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now",
		Leads: []store.LeadInput{{Email: "lead1@prospect.test", FirstName: "A", Timezone: "Asia/Tokyo"}}})
	if err != nil || out[0].Outcome != "enrolled" {
		t.Fatalf("%+v %v", out, err)
	}
	// The lead's zone wins: 09:00 in Tokyo on the open weekday.
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Now().In(tokyo)
	want := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, tokyo)
	for want.Weekday() != day || !want.After(now) {
		want = want.AddDate(0, 0, 1)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var state string
		var at time.Time
		err := r.st.Pool().QueryRow(ctx, `SELECT state, scheduled_at FROM river_job WHERE kind = 'touch'`).Scan(&state, &at)
		if err != nil {
			t.Fatal(err)
		}
		if state == "scheduled" && at.After(time.Now().Add(time.Minute)) {
			if d := at.Sub(want); d < -time.Second || d > time.Second {
				t.Fatalf("touch scheduled at %s, want the next opening %s", at.In(tokyo), want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("touch job is %s at %s", state, at)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(r.world.Messages()); n != 0 {
		t.Fatalf("%d messages sent outside the window", n)
	}
}

// TestTaskAutoAdvance: a call task left open past its deadline is skipped
// and the cadence goes on to its next email.
func TestTaskAutoAdvance(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	steps := []sequencer.Step{
		{Channel: "call", Delay: "0", Title: "Call {{first_name}}", AutoAdvance: true, AdvanceAfter: "1s"},
		{Channel: "email", Delay: "0", Subject: "After the call, {{first_name}}", Body: "Tried to call you."},
	}
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "advance", Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead3@prospect.test", FirstName: "C"}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(r.world.Messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cadence did not move on past the open task")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out[0].EnrollmentID)
	if e.Touches[0].Status != "skipped" || e.Touches[0].Outcome != "due day passed" {
		t.Fatalf("task touch %+v", e.Touches[0])
	}
	if _, err := r.op.CompleteTask(ctx, r.ws.ID, 1, "late"); err == nil {
		t.Fatal("a skipped task could still be completed")
	}
	if _, _, err := sequencer.Compile(sequencer.Spec{Name: "x", MailboxIDs: []int64{1}, Steps: []sequencer.Step{
		{Channel: "email", Subject: "s", Body: "b", AutoAdvance: true}}}, template.Standard()); err == nil {
		t.Fatal("auto_advance accepted on an email step")
	}
}

// TestPauseResume: a task completed while its enrollment is paused moves
// the cadence on once resumed; a resume keeps a future step's time.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	steps := []sequencer.Step{
		{Channel: "call", Delay: "0", Title: "Call {{first_name}}"},
		{Channel: "email", Delay: "0", Subject: "After our call, {{first_name}}", Body: "Thanks."},
		{Channel: "email", Delay: "5d", Subject: "Later", Body: "Later."},
	}
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "pr", Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	r.op.Launch(ctx, r.ws.ID, c.ID, false)
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead5@prospect.test", FirstName: "Eve"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].EnrollmentID
	var task store.Task
	for deadline := time.Now().Add(20 * time.Second); ; {
		tasks, _ := r.st.ListTasks(ctx, r.ws.ID, time.Time{}, "")
		if len(tasks) == 1 {
			task = tasks[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no task")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if task.Title != "Call Eve" {
		t.Fatalf("task title %q: not rendered", task.Title)
	}
	if _, err := r.op.SetEnrollmentState(ctx, r.ws.ID, id, "pause"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.CompleteTask(ctx, r.ws.ID, task.ID, "connected"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(r.world.Messages()); n != 0 {
		t.Fatalf("%d emails sent while paused", n)
	}
	if _, err := r.op.SetEnrollmentState(ctx, r.ws.ID, id, "resume"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(r.world.Messages()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the step after the task never went out after resume")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var e store.Enrollment
	for deadline := time.Now().Add(10 * time.Second); ; {
		e, _ = r.st.GetEnrollment(ctx, r.ws.ID, id)
		if len(e.Touches) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e.Touches[0].Status != "task_done" || e.Touches[0].Outcome != "connected" || e.Touches[1].Status != "sent" || len(e.Touches) != 3 {
		t.Fatalf("touches %+v", e.Touches)
	}
	due := e.Touches[2].DueAt
	r.op.SetEnrollmentState(ctx, r.ws.ID, id, "pause")
	e, _ = r.op.SetEnrollmentState(ctx, r.ws.ID, id, "resume")
	if !e.Touches[2].DueAt.Equal(due) {
		t.Fatalf("resume moved a future step from %s to %s", due, e.Touches[2].DueAt)
	}
}

// An address or domain suppressed after enrollment, while the lead's
// verdict is fresh, is caught by the claim itself: never mailed, its
// touch skipped and its enrollment stopped, with the reason.
func TestSuppressedAfterEnrollmentIsNeverSent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "sup", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	leads := []store.LeadInput{{Email: "lead1@prospect.test", FirstName: "Ok"}, {Email: "lead2@prospect.test", FirstName: "Unsub"},
		{Email: "cto@blocked.test", FirstName: "Dom"}}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: leads})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, o := range out {
		if o.Outcome != "enrolled" {
			t.Fatalf("%+v", o)
		}
		ids[o.Email] = o.EnrollmentID
		// A fresh deliverable verdict: the gate has no reason to look again.
		if err := r.st.SetLeadVerification(ctx, r.ws.ID, o.LeadID, "deliverable", "accepted", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.st.Suppress(ctx, r.ws.ID, "lead2@prospect.test", "unsubscribed"); err != nil {
		t.Fatal(err)
	}
	if err := r.st.Suppress(ctx, r.ws.ID, "@blocked.test", "domain_blocked"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	settled := func(e store.Enrollment) bool { return e.State == "finished" || e.State == "stopped" }
	got := map[string]store.Enrollment{}
	for deadline := time.Now().Add(20 * time.Second); len(got) < 3; {
		for email, id := range ids {
			if e, _ := r.st.GetEnrollment(ctx, r.ws.ID, id); settled(e) {
				got[email] = e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after 20s: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, email := range []string{"lead2@prospect.test", "cto@blocked.test"} {
		e := got[email]
		if e.State != "stopped" || e.StateReason != "suppressed" || e.Touches[0].Status != "skipped" {
			t.Errorf("%s: state %s (%s), touch %+v", email, e.State, e.StateReason, e.Touches[0])
		}
	}
	if e := got["lead1@prospect.test"]; e.State != "finished" || e.Touches[0].Status != "sent" {
		t.Errorf("lead1: state %s, touch %+v", e.State, e.Touches[0])
	}
	var to []string
	for _, msg := range r.world.Messages() {
		to = append(to, msg.To...)
	}
	if len(to) != 1 || to[0] != "lead1@prospect.test" {
		t.Fatalf("mail went to %v, want only lead1", to)
	}
	// The lead's history shows the sent touch.
	evs, err := r.st.LeadEvents(ctx, r.ws.ID, got["lead1@prospect.test"].LeadID)
	if err != nil {
		t.Fatal(err)
	}
	var sent []store.LeadEvent
	for _, ev := range evs {
		if ev.Type == "touch_sent" {
			sent = append(sent, ev)
		}
	}
	if len(sent) != 1 || sent[0].Data["message_id"] != got["lead1@prospect.test"].Touches[0].MessageID || sent[0].Data["step"] != float64(1) {
		t.Fatalf("touch_sent events %+v", sent)
	}
}

// TestTouchJobRunAgainSendsNothing: a sent touch's job is completed by
// River's completer after the transaction that records the send. A process
// that dies in between leaves the job 'running', and River's rescuer runs
// it again: that run must send nothing and queue nothing.
func TestTouchJobRunAgainSendsNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	steps := eightSteps()[:2]
	steps[1].Delay = "1h"
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "again", Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead3@prospect.test", FirstName: "Al"}}})
	if err != nil || out[0].Outcome != "enrolled" {
		t.Fatalf("%+v %v", out, err)
	}
	id := out[0].EnrollmentID
	// jobs counts the touch jobs of step by state.
	jobs := func(step int) map[string]int {
		rows, err := r.st.Pool().Query(ctx, `SELECT state::text, count(*) FROM river_job
			WHERE kind = 'touch' AND (args->>'enrollment_id')::bigint = $1 AND (args->>'step')::int = $2 GROUP BY 1`, id, step)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct {
			s string
			n int
		}, error) {
			var v struct {
				s string
				n int
			}
			return v, row.Scan(&v.s, &v.n)
		})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, v := range got {
			m[v.s] = v.n
		}
		return m
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after 20s, still not %s: step 1 jobs %v, step 2 jobs %v", what, jobs(1), jobs(2))
			}
		}
	}
	waitFor("sent and completed", func() bool { return jobs(1)["completed"] == 1 })
	e, _ := r.st.GetEnrollment(ctx, r.ws.ID, id)
	if e.NextStep != 2 || e.Touches[0].Status != "sent" || jobs(2)["scheduled"] != 1 {
		t.Fatalf("after step 1: next step %d, touches %+v, step 2 jobs %v", e.NextStep, e.Touches, jobs(2))
	}
	// What the rescuer does with a job whose completion was lost.
	if _, err := r.st.Pool().Exec(ctx, `UPDATE river_job SET state = 'available', finalized_at = NULL, scheduled_at = now()
		WHERE kind = 'touch' AND (args->>'enrollment_id')::bigint = $1 AND (args->>'step')::int = 1`, id); err != nil {
		t.Fatal(err)
	}
	waitFor("run again and completed", func() bool { j := jobs(1); return j["completed"] == 1 && len(j) == 1 })
	after, _ := r.st.GetEnrollment(ctx, r.ws.ID, id)
	if after.NextStep != 2 || after.State != "active" || after.Touches[0].Status != "sent" || after.Touches[0].MessageID != e.Touches[0].MessageID {
		t.Fatalf("the second run changed the enrollment: %+v", after)
	}
	if j := jobs(2); j["scheduled"] != 1 || len(j) != 1 {
		t.Fatalf("step 2 jobs after the second run: %v, want one scheduled", j)
	}
	if n := len(r.world.Messages()); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
}

// TestResumeWhileTheStepsJobRuns: an enrollment paused and resumed while
// the job of its step is still 'running' (a worker holds it, or River's
// completer has not caught up) gets a job of its own: River's unique
// insert must not take the running one for it, which may end without
// sending (it saw the pause).
func TestResumeWhileTheStepsJobRuns(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	// A paused mailbox: the touch job snoozes instead of sending.
	if _, err := r.st.Pool().Exec(ctx, `UPDATE mailboxes SET paused_reason = 'test' WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "resume", Steps: eightSteps()[:2], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, true); err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead4@prospect.test", FirstName: "Re"}}})
	if err != nil || out[0].Outcome != "enrolled" {
		t.Fatalf("%+v %v", out, err)
	}
	id := out[0].EnrollmentID
	pending := func() (n int) {
		r.st.Pool().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'touch' AND (args->>'enrollment_id')::bigint = $1
			AND state IN ('available', 'scheduled', 'retryable', 'pending')`, id).Scan(&n)
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var snoozed bool
		r.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'touch' AND (args->>'enrollment_id')::bigint = $1
			AND state = 'scheduled')`, id).Scan(&snoozed)
		if snoozed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the touch job did not snooze for the paused mailbox")
		}
	}
	// A worker holds the job.
	if _, err := r.st.Pool().Exec(ctx, `UPDATE river_job SET state = 'running', attempted_at = now()
		WHERE kind = 'touch' AND (args->>'enrollment_id')::bigint = $1`, id); err != nil {
		t.Fatal(err)
	}
	if pending() != 0 {
		t.Fatal("a pending job besides the running one")
	}
	for _, action := range []string{"pause", "resume"} {
		if _, err := r.op.SetEnrollmentState(ctx, r.ws.ID, id, action); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	// The new job runs at once, sees the paused mailbox and snoozes: it
	// is pending again within moments.
	for deadline := time.Now().Add(10 * time.Second); pending() != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after resume, %d pending touch jobs, want 1 besides the running one", pending())
		}
	}
}

// heldSender holds the first Send until release is closed.
type heldSender struct {
	inner   sequencer.Sender
	once    sync.Once
	sending chan struct{} // closed when the first Send starts
	release chan struct{}
}

func (h *heldSender) Send(ctx context.Context, sub sequencer.Submission, from, to string, msg []byte) error {
	first := false
	h.once.Do(func() { first = true; close(h.sending) })
	if first {
		<-h.release
	}
	return h.inner.Send(ctx, sub, from, to, msg)
}

// TestSecondJobOfAStepLeavesTheClaimAlone: two jobs of one step (a resend
// or a resume queues one for a new due time) run while the first is still
// sending. The second must neither call the touch uncertain nor move the
// enrollment on: the first sends it and schedules the next step, once.
func TestSecondJobOfAStepLeavesTheClaimAlone(t *testing.T) {
	t.Parallel()
	held := &heldSender{sending: make(chan struct{}), release: make(chan struct{})}
	r := newRigSender(t, func(s sequencer.Sender) sequencer.Sender { held.inner = s; return held })
	ctx := context.Background()
	m := r.mailbox(100)
	steps := eightSteps()[:2]
	steps[1].Delay = "1h"
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "twice", Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead5@prospect.test", FirstName: "Tw"}}})
	if err != nil || out[0].Outcome != "enrolled" {
		t.Fatalf("%+v %v", out, err)
	}
	id := out[0].EnrollmentID
	select {
	case <-held.sending:
	case <-time.After(20 * time.Second):
		t.Fatal("step 1 was not sent within 20s")
	}
	// The first job has claimed the touch and is in SMTP: a second job of
	// the step, for another due time, runs to its end.
	res, err := r.op.River.Insert(ctx, sequencer.TouchArgs{EnrollmentID: id, Step: 1, Due: time.Now().Add(-time.Minute).UTC()}, nil)
	if err != nil || res.UniqueSkippedAsDuplicate {
		t.Fatalf("second job: %+v %v", res, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var state string
		r.st.Pool().QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state)
		if state == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second job %s after 20s", state)
		}
	}
	e, _ := r.st.GetEnrollment(ctx, r.ws.ID, id)
	if e.NextStep != 1 || e.Touches[0].Status != "sending" {
		t.Fatalf("while the first job sends, the second changed the enrollment: next step %d, touches %+v", e.NextStep, e.Touches)
	}
	close(held.release)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		e, _ = r.st.GetEnrollment(ctx, r.ws.ID, id)
		if e.NextStep == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("step 1 not recorded after 20s: %+v", e)
		}
	}
	var step2Jobs int
	r.st.Pool().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'touch' AND (args->>'enrollment_id')::bigint = $1
		AND (args->>'step')::int = 2`, id).Scan(&step2Jobs)
	if e.Touches[0].Status != "sent" || step2Jobs != 1 || len(r.world.Messages()) != 1 {
		t.Fatalf("touch 1 %s, %d jobs for step 2, %d messages; want sent, 1, 1", e.Touches[0].Status, step2Jobs, len(r.world.Messages()))
	}
}
