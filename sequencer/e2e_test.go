package sequencer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier"
)

// TestRepliesAndBouncesEndToEnd is the replies issue's end-to-end run: 500
// leads in a two-step cadence, answered by the simulated recipients over
// both Touchline's inbound SMTP server and IMAP polling of the rep's
// mailbox; every effect holds, the stats match the script exactly, each
// guardrail trips for its own cause only, and replies that arrive when the
// next touch is already due, but before its job runs, stop it.
//
// Nothing waits on the wall clock: the test moves the engine's clock. The
// recipients answer once every first touch is recorded (so no guardrail
// trips before its cadence's first touches are out); the late replies
// come once the clock has passed the second touches' due time; the
// second touches' jobs are released (River's JobRetry) only after every
// answer is recorded (a row in inbound_messages, written in the
// transaction of its effects).
func TestRepliesAndBouncesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: 540 leads, about 30 s")
	}
	t.Parallel()
	clock := &testClock{}
	r := newRigClock(t, nil, clock.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The second touch's delay: no second touch falls due until the test
	// moves the clock.
	const step2 = time.Hour

	// The world: recipients' domains, the reps' mailboxes over IMAP,
	// Touchline's inbound SMTP server for the bounce and tracking domain.
	type lead struct {
		email  string
		answer mailsim.Answer
		mate   string // a colleague answers for this lead (their address)
		group  string // main, badlist, sender
		late   bool   // answers once its second touch is due
	}
	var leads []lead
	boxes := map[string]map[string]mailsim.Mailbox{}
	add := func(email, group string, a mailsim.Answer) *lead {
		local, domain, _ := strings.Cut(email, "@")
		if boxes[domain] == nil {
			boxes[domain] = map[string]mailsim.Mailbox{}
		}
		boxes[domain][local] = mailsim.Exists
		leads = append(leads, lead{email: email, answer: a, group: group})
		return &leads[len(leads)-1]
	}
	// The answers are spread a little, so that the inbound server is not
	// hit by all of them at once.
	early := func(k mailsim.AnswerKind, i int) mailsim.Answer {
		return mailsim.Answer{Kind: k, After: time.Duration(i%30) * 20 * time.Millisecond}
	}
	// Main cadence, 500 leads. Human replies come late: once the second
	// touch is due.
	script := []struct {
		kind mailsim.AnswerKind
		n    int
		late bool // once the second touch is due
		via  bool // to the tracking address by SMTP, not into the rep's mailbox
	}{
		{mailsim.HumanReply, 20, true, false}, {mailsim.HumanReply, 10, true, true}, {mailsim.AutoReply, 15, false, false},
		{mailsim.UnsubscribeMe, 5, false, false}, {mailsim.SpamComplaint, 2, false, false}, {mailsim.BounceHard, 3, false, false},
		{mailsim.BounceSoft, 4, false, false},
	}
	i := 0
	for _, s := range script {
		for range s.n {
			a := early(s.kind, i)
			a.ViaTracking = s.via
			add(fmt.Sprintf("p%d@acme.test", i), "main", a).late = s.late
			i++
		}
	}
	for ; i < 480; i++ {
		add(fmt.Sprintf("p%d@acme.test", i), "main", mailsim.Answer{})
	}
	for k := range 5 { // a colleague answers for one of two leads at each company
		d := fmt.Sprintf("team%d.test", k)
		a := early(mailsim.ColleagueReply, k)
		a.From = "head.of.sales@" + d
		add("buyer@"+d, "main", a).mate = "peer@" + d
		add("peer@"+d, "main", mailsim.Answer{})
	}
	for k := range 10 { // a strict provider refuses the sender twice
		a := mailsim.Answer{}
		if k < 2 {
			a = early(mailsim.BounceSender, k)
		}
		add(fmt.Sprintf("s%d@strict.test", k), "main", a)
	}
	// A bad list: 6 hard bounces in 20 sends pause its cadence.
	for k := range 20 {
		a := mailsim.Answer{}
		if k < 6 {
			a = early(mailsim.BounceHard, k)
		}
		add(fmt.Sprintf("old%d@badlist.test", k), "badlist", a)
	}
	// A sender in trouble: 5 providers refuse its second mailbox.
	for k := range 20 {
		a := mailsim.Answer{}
		if k < 5 {
			a = early(mailsim.BounceSender, k)
		}
		add(fmt.Sprintf("g%d@corp%d.test", k, k%5), "sender", a)
	}
	for d, b := range boxes {
		r.world.AddHost(mailsim.Host{Name: "mx." + d})
		r.world.AddDomain(mailsim.Domain{Name: d, MX: []mailsim.MX{{Pref: 10, Host: "mx." + d}}, Mailboxes: b, AcceptData: true})
	}
	byEmail := map[string]*lead{}
	for k := range leads {
		byEmail[leads[k].email] = &leads[k]
	}

	ms, err := mailsim.NewMailstore()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	ms.AddUser("ana@sender.test", "imap-ana")
	ms.AddUser("bo@sender.test", "imap-bo")
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	srv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: []string{"bounces.sender.test"}, Hostname: "in.sender.test", MaxConnsPerIP: 50}, inbox)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	// Two sets of recipients: those who answer early, and the late ones.
	// Each answers once it runs (runCorr), and only first touches.
	correspondents := func(late bool) *mailsim.Correspondents {
		return &mailsim.Correspondents{World: r.world, InboundAddr: ln.Addr().String(), Mailstore: ms,
			Script: func(m mailsim.Message) (mailsim.Answer, bool) {
				l := byEmail[m.To[0]]
				if l == nil || l.answer.Kind == "" || l.late != late || strings.Contains(string(m.Data), "\r\nIn-Reply-To:") {
					return mailsim.Answer{}, false
				}
				return l.answer, true
			}}
	}
	corrEarly, corrLate := correspondents(false), correspondents(true)
	var corrDone sync.WaitGroup
	runCorr := func(c *mailsim.Correspondents) {
		corrDone.Add(1)
		go func() { defer corrDone.Done(); c.Run(ctx) }()
	}
	// progress says where the touches and their jobs stand, for a wait
	// that fails.
	progress := func() string {
		var out []string
		for _, q := range []string{`SELECT 'touch ' || step || ' ' || status, count(*) FROM touches GROUP BY 1 ORDER BY 1`,
			`SELECT 'job ' || kind || ' ' || state, count(*) FROM river_job GROUP BY 1 ORDER BY 1`,
			`SELECT 'inbound', count(*) FROM inbound_messages`} {
			rows, err := r.st.Pool().Query(ctx, q)
			if err != nil {
				return err.Error()
			}
			for rows.Next() {
				var k string
				var n int
				rows.Scan(&k, &n)
				out = append(out, fmt.Sprintf("%s: %d", k, n))
			}
			rows.Close()
		}
		return strings.Join(out, "; ")
	}
	// await waits for cond. The limit only bounds a failing run: nothing
	// here depends on how fast the machine is.
	await := func(what string, cond func() bool) {
		t.Helper()
		const limit = 5 * time.Minute
		for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %s; %s", what, limit, progress())
			}
		}
	}
	// count reads one number from the database.
	count := func(sql string, args ...any) (n int) {
		t.Helper()
		if err := r.st.Pool().QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Touchline: two mailboxes polled over IMAP, three cadences.
	host, port := ms.Addr()
	ip, _ := r.world.HostIP("smtp.sender.test")
	zero := 0
	mailbox := func(from, pw string) store.Mailbox {
		m, err := r.op.CreateMailbox(ctx, r.ws.ID, sequencer.MailboxInput{FromAddress: from, FromName: "Rep", SMTPHost: ip.String(),
			SMTPPort: r.world.SMTPPort(), SMTPSecurity: "starttls", DailyCap: 5000, MinSpacingSeconds: &zero, JitterSeconds: &zero,
			DKIMSelector: "s1", DKIMPrivateKey: r.dkim,
			IMAPHost: host, IMAPPort: port, IMAPSecurity: "none", IMAPUsername: from, IMAPPassword: pw})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ana, bo := mailbox("ana@sender.test", "imap-ana"), mailbox("bo@sender.test", "imap-bo")
	steps := []sequencer.Step{
		{Channel: "email", Delay: "0", Subject: "Quick question, {{first_name}}", Body: "Hi {{first_name}},\n\nIs your team hiring SDRs this quarter?"},
		{Channel: "email", Delay: "1h", Thread: true, Body: "Following up, {{first_name}}."},
	}
	cadence := func(name string, box int64) store.Cadence {
		c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: name, Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{box}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cMain, cBad, cSender := cadence("main", ana.ID), cadence("badlist", ana.ID), cadence("sender", bo.ID)
	enrollment := map[string]int64{}
	leadID := map[string]int64{}
	for group, c := range map[string]store.Cadence{"main": cMain, "badlist": cBad, "sender": cSender} {
		req := sequencer.EnrollRequest{Start: "now"}
		for _, l := range leads {
			if l.group == group {
				req.Leads = append(req.Leads, store.LeadInput{Email: l.email, FirstName: "Lee"})
			}
		}
		out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Outcome != "enrolled" {
				t.Fatalf("%+v", o)
			}
			enrollment[o.Email], leadID[o.Email] = o.EnrollmentID, o.LeadID
			v := verifier.Verdict{Status: verifier.Deliverable, MXHosts: []string{"mx." + domainPart(o.Email)}}
			if err := r.st.SetLeadVerification(ctx, r.ws.ID, o.LeadID, "deliverable", "accepted", v); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Poll both mailboxes every 200 ms, as the periodic job would every
	// minute.
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, id := range []int64{ana.ID, bo.ID} {
				r.op.River.Insert(ctx, sequencer.PollIMAPArgs{Workspace: r.ws.ID, MailboxID: id}, nil)
			}
		}
	}()
	for _, c := range []store.Cadence{cMain, cBad, cSender} {
		if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
			t.Fatal(err)
		}
	}

	// Every first touch recorded as sent (and its second touch's job
	// queued, in the same transaction); then the early answers, each
	// recorded.
	await("first touches recorded", func() bool {
		return count(`SELECT count(*) FROM touches WHERE step = 1 AND status = 'sent'`) == len(leads)
	})
	runCorr(corrEarly)
	want := map[mailsim.AnswerKind]int{mailsim.HumanReply: 30, mailsim.AutoReply: 15, mailsim.UnsubscribeMe: 5, mailsim.SpamComplaint: 2,
		mailsim.BounceHard: 9, mailsim.BounceSoft: 4, mailsim.ColleagueReply: 5, mailsim.BounceSender: 7}
	wantLate := map[mailsim.AnswerKind]int{mailsim.HumanReply: 30}
	total := func(m map[mailsim.AnswerKind]int) (n int) {
		for _, k := range m {
			n += k
		}
		return n
	}
	// delivered counts the answers the recipients have sent (counted once
	// Touchline's server or the rep's mailbox took them).
	delivered := func(cs ...*mailsim.Correspondents) int {
		n := 0
		for _, c := range cs {
			n += total(c.Counts())
		}
		return n
	}
	await("early answers recorded", func() bool {
		n := total(want) - total(wantLate)
		return delivered(corrEarly) == n && count(`SELECT count(*) FROM inbound_messages`) >= n
	})
	// The second touches fall due, by the engine's clock; their jobs stay
	// where River scheduled them, an hour away. The late replies come now.
	clock.Advance(step2 + time.Minute)
	runCorr(corrLate)
	await("late replies recorded", func() bool {
		return delivered(corrEarly, corrLate) == total(want) && count(`SELECT count(*) FROM inbound_messages`) >= total(want)
	})
	for _, c := range []*mailsim.Correspondents{corrEarly, corrLate} {
		if f := c.Failed(); len(f) > 0 {
			t.Fatalf("answers failed: %v", f)
		}
	}
	answered := corrEarly.Counts()
	for k, n := range corrLate.Counts() {
		answered[k] += n
	}
	for k, n := range want {
		if answered[k] != n {
			t.Fatalf("answers delivered %v, want %v", answered, want)
		}
	}
	// Release the second touches' jobs, and wait until each has run:
	// none is left available or running (a job that snoozes, for a paused
	// mailbox or a backed-off provider, has run once and sent nothing).
	jobs, err := r.op.River.JobList(ctx, river.NewJobListParams().Kinds("touch").States(rivertype.JobStateScheduled).First(10_000))
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	err = r.st.InTx(ctx, func(tx pgx.Tx) error {
		for _, j := range jobs.Jobs {
			var a sequencer.TouchArgs
			if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
				return err
			}
			if a.Step != 2 {
				continue
			}
			if _, err := r.op.River.JobRetryTx(ctx, tx, j.ID); err != nil {
				return err
			}
			released++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if released != len(leads) {
		t.Fatalf("%d second touches' jobs released, want %d", released, len(leads))
	}
	received := func() map[string]int {
		n := map[string]int{}
		for _, m := range r.world.Messages() {
			n[m.To[0]]++
		}
		return n
	}
	await("second touches' jobs run", func() bool {
		return count(`SELECT count(*) FROM river_job WHERE kind = 'touch' AND state IN ('available', 'running', 'retryable', 'pending')`) == 0
	})
	// Main: the 421 silent leads and the 4 soft-bounced ones get both
	// touches; the colleagues' peers stop with their colleague's reply,
	// and strict.test is backed off.
	const wantSecond = 421 + 4
	got := received()

	// Per lead: what it received and where its enrollment stands.
	enr := func(email string) store.Enrollment {
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, enrollment[email])
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	sup := func(email string) bool {
		s, _ := r.st.IsSuppressed(ctx, r.ws.ID, email)
		return s
	}
	stage := func(email string) string {
		l, _ := r.st.GetLead(ctx, r.ws.ID, leadID[email])
		return l.Stage
	}
	mates := map[string]bool{}
	for _, l := range leads {
		if l.mate != "" {
			mates[l.mate] = true
		}
	}
	for _, l := range leads {
		e := enr(l.email)
		check := func(ok bool, what string) {
			t.Helper()
			if !ok {
				t.Errorf("%s (%s): %s; enrollment %s (%s), received %d, stage %s, suppressed %v",
					l.email, l.answer.Kind, what, e.State, e.StateReason, got[l.email], stage(l.email), sup(l.email))
			}
		}
		switch {
		case l.group == "badlist":
			check(got[l.email] == 1, "a paused cadence sent its second touch")
			if l.answer.Kind == mailsim.BounceHard {
				check(e.State == "stopped" && e.StateReason == "bounced" && sup(l.email), "hard bounce not applied")
			}
		case l.group == "sender":
			check(got[l.email] == 1, "a paused mailbox sent")
			check(!sup(l.email) && e.State == "active", "the recipient paid for the sender's trouble")
		case mates[l.email]:
			check(e.State == "stopped" && e.StateReason == "colleague_replied" && got[l.email] == 1, "not stopped by the colleague's reply")
		}
		if l.group != "main" {
			continue
		}
		switch l.answer.Kind {
		case mailsim.HumanReply, mailsim.ColleagueReply:
			check(e.State == "stopped" && e.StateReason == "replied", "reply did not stop the enrollment")
			check(got[l.email] == 1, "the next touch went out after the reply")
			check(stage(l.email) == "prospect", "not promoted")
		case mailsim.AutoReply:
			check(e.State == "paused" && e.StateReason == "auto_reply" && got[l.email] == 1 && stage(l.email) == "lead", "out-of-office mishandled")
		case mailsim.UnsubscribeMe, mailsim.SpamComplaint:
			check(e.State == "stopped" && sup(l.email) && got[l.email] == 1, "not suppressed and stopped")
		case mailsim.BounceHard:
			check(e.State == "stopped" && e.StateReason == "bounced" && sup(l.email) && got[l.email] == 1, "hard bounce not applied")
		case mailsim.BounceSoft:
			check(e.State != "stopped" && !sup(l.email) && got[l.email] == 2, "one soft bounce did more than count")
		case mailsim.BounceSender:
			check(e.State == "active" && !sup(l.email) && got[l.email] == 1, "sender rejection mishandled")
		case "":
			switch {
			case strings.HasSuffix(l.email, "@strict.test"):
				check(e.State == "active" && got[l.email] == 1, "backed-off provider mailed at full speed")
			case !mates[l.email]:
				check(e.State == "finished" && got[l.email] == 2, "a silent lead did not get both touches")
			}
		}
	}

	// The replies stayed unread in the reps' mailboxes.
	if n, _ := ms.Unseen("ana@sender.test"); n != 20+15+5+5 {
		t.Errorf("%d unread in ana's mailbox, want 45: the poller must not mark mail", n)
	}

	// Guardrails, each for its own cause.
	if c, _ := r.st.GetCadence(ctx, r.ws.ID, cBad.ID); c.Status != "paused" || !strings.HasPrefix(c.PausedReason, "bounce_rate:") {
		t.Errorf("bad list cadence %s (%s)", c.Status, c.PausedReason)
	}
	if c, _ := r.st.GetCadence(ctx, r.ws.ID, cMain.ID); c.Status != "active" {
		t.Errorf("main cadence %s (%s)", c.Status, c.PausedReason)
	}
	if c, _ := r.st.GetCadence(ctx, r.ws.ID, cSender.ID); c.Status != "active" {
		t.Errorf("sender cadence %s (%s): its list is fine", c.Status, c.PausedReason)
	}
	if m, _ := r.st.GetMailbox(ctx, r.ws.ID, bo.ID); !strings.HasPrefix(m.PausedReason, "sender_rejections:") {
		t.Errorf("bo's mailbox not paused by the sender guardrail: %q", m.PausedReason)
	}
	if m, _ := r.st.GetMailbox(ctx, r.ws.ID, ana.ID); m.PausedReason != "" {
		t.Errorf("ana's mailbox paused (%s): hard bounces are the list's fault", m.PausedReason)
	}
	// Each pause is an event too, with its reason.
	for typ, want := range map[string]string{"cadence.paused": "bounce_rate:", "mailbox.paused": "sender_rejections:"} {
		evs, err := r.st.ListEvents(ctx, r.ws.ID, typ, 0, 10)
		var p struct{ Reason string }
		if err != nil || len(evs) != 1 || json.Unmarshal(evs[0].Payload, &p) != nil || !strings.HasPrefix(p.Reason, want) {
			t.Errorf("%s: %d events (%v), reason %q, want one with reason %s...", typ, len(evs), err, p.Reason, want)
		}
	}
	if evs, _ := r.st.ListEvents(ctx, r.ws.ID, "lead.promoted", 0, 100); len(evs) != 35 {
		t.Errorf("%d lead.promoted events, want 35", len(evs))
	}
	if bo, _ := r.st.Backoffs(ctx, ana.ID); len(bo) != 1 || bo[0].Provider != "strict.test" || bo[0].Level != 2 {
		t.Errorf("ana's back-offs %+v, want strict.test at level 2", bo)
	}

	// The stats of the main cadence match the script exactly.
	periods, _, err := r.st.Stats(ctx, r.ws.ID, store.StatsFilter{CadenceID: cMain.ID, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tot := store.SumPeriods(periods)
	// The hard-bounced leads had been verified deliverable: verifier misses.
	want3 := store.Totals{Enrolled: 500, ProspectsCreated: 35, Outcomes: store.Outcomes{Sent: 500 + wantSecond, HardBounces: 3,
		SoftBounces: 4, SenderRejections: 2, Replies: 35, AutoReplies: 15, Unsubscribes: 5, Complaints: 2, VerifierMisses: 3}}
	want3.Outcomes.BounceRate = 3.0 / float64(500+wantSecond)
	want3.Outcomes.ReplyRate = 35.0 / float64(500+wantSecond)
	want3.Outcomes.VerifierMissRate = 3.0 / float64(500+wantSecond)
	if tot != want3 {
		t.Errorf("stats\n got %+v\nwant %+v", tot, want3)
	}
	cancel()
	corrDone.Wait()
}

// testClock is the engine's clock in a test: the wall clock moved on by
// as much as the test says, so that the test decides when a touch falls
// due.
type testClock struct{ skew atomic.Int64 }

func (c *testClock) Now() time.Time { return time.Now().Add(time.Duration(c.skew.Load())) }

func (c *testClock) Advance(d time.Duration) { c.skew.Add(int64(d)) }
