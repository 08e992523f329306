package sequencer_test

// Benchmarks of the sequencer against PostgreSQL (pgtest) and the simulated
// mail world:
//
//	TOUCHLINE_TEST_DATABASE_URL=$(deploy/local-postgres.sh url) \
//		go test -run '^$' -bench 'Enroll|Send|Lag' -benchtime 1x ./sequencer
//
// BenchmarkEnroll       enrollments/s of 100,000 given leads, 10,000 per Enroll call, nothing sent.
// BenchmarkSend         messages/s from Launch to the last message received, real SMTPSender, DKIM.
// BenchmarkSchedulerLag lag from a touch's due_at to its SMTP hand-off, 200 touches due per second.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/pgtest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
	"github.com/touchline/touchline/sequencer"
)

// handoffSender wraps the real SMTPSender and records when each recipient's
// message was handed to SMTP (the moment Send is called).
type handoffSender struct {
	inner sequencer.Sender
	mu    sync.Mutex
	at    map[string]time.Time // recipient -> first hand-off
	calls int
	smtp  time.Duration // total time in the inner Send
}

func (s *handoffSender) Send(ctx context.Context, sub sequencer.Submission, from, to string, msg []byte) error {
	now := time.Now()
	s.mu.Lock()
	if _, ok := s.at[to]; !ok {
		s.at[to] = now
	}
	s.calls++
	s.mu.Unlock()
	err := s.inner.Send(ctx, sub, from, to, msg)
	d := time.Since(now)
	s.mu.Lock()
	s.smtp += d
	s.mu.Unlock()
	return err
}

// snoozes sums River's snooze counts of the touch jobs: a touch snoozed
// (by the claim's spacing check, a window, a cap) waits at least 1 s.
func (r *benchRig) snoozes() (jobs, total int) {
	r.st.Pool().QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE (metadata->>'snoozes')::int > 0), COALESCE(sum((metadata->>'snoozes')::int), 0)
		FROM river_job WHERE kind = 'touch'`).Scan(&jobs, &total)
	return
}

// reset forgets what was recorded (after a warm-up).
func (s *handoffSender) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.calls, s.smtp = map[string]time.Time{}, 0, 0
}

func (s *handoffSender) snapshot() (map[string]time.Time, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.at))
	for k, v := range s.at {
		out[k] = v
	}
	return out, s.calls
}

type benchConfig struct {
	sendWorkers int          // MaxWorkers of the send queue; 0: an insert-only River client
	key         dkimkey.Type // the sender's DKIM key
	recipients  int          // mailboxes lead0..leadN-1 at prospect.test
	verifier    bool         // give the Engine a verifier (the gate verifies unverified leads)
}

type benchRig struct {
	b     *testing.B
	st    *store.Store
	world *mailsim.World
	op    *sequencer.Operator
	ws    store.Workspace
	dkim  string
	rec   *handoffSender
}

// newBenchRig is newRig for benchmarks: the same world, with the sender's
// DKIM key type, the number of recipients and the send queue's workers as
// given.
func newBenchRig(b *testing.B, cfg benchConfig) *benchRig {
	b.Helper()
	url := storetest.URL(b)
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	sw := sendertest.New(b, sendertest.Options{Key: cfg.key, Recipients: max(cfg.recipients, 1)})
	w, res, pemKey := sw.World, sw.Resolver, sw.DKIMKey
	eng := sw.Engine(b, st, make([]byte, 32))
	rec := &handoffSender{at: map[string]time.Time{}, inner: eng.Sender}
	eng.Sender = rec
	v := sw.Verifier
	if !cfg.verifier {
		eng.Verifier = nil
	}
	var rc *river.Client[pgx.Tx]
	if cfg.sendWorkers == 0 {
		// Insert-only: nothing runs, only the inserts are measured.
		rc, err = jobs.NewClient(st, jobs.Config{})
		if err != nil {
			b.Fatal(err)
		}
	} else {
		rc, err = jobs.NewClient(st, jobs.Config{Workers: 1, Worker: &jobs.VerifyBatchWorker{Store: st, Verifier: v},
			Queues:   map[string]int{sequencer.QueueSend: cfg.sendWorkers},
			Register: func(wk *river.Workers) error { return river.AddWorkerSafely(wk, &sequencer.TouchWorker{Engine: eng}) }})
		if err != nil {
			b.Fatal(err)
		}
		sendertest.StartRiver(b, rc)
	}
	ws, _ := st.EnsureWorkspace(ctx, "sales")
	return &benchRig{b: b, st: st, world: w, ws: ws, dkim: pemKey, rec: rec,
		op: &sequencer.Operator{Engine: eng, River: rc, Resolver: res}}
}

// mailbox creates the sending mailbox with caps lifted.
func (r *benchRig) mailbox() store.Mailbox { return r.mailboxN(0) }

// mailboxPool creates k mailboxes with caps lifted.
func (r *benchRig) mailboxPool(k int) []int64 {
	ids := make([]int64, k)
	for i := range ids {
		ids[i] = r.mailboxN(i).ID
	}
	return ids
}

func (r *benchRig) mailboxN(i int) store.Mailbox {
	r.b.Helper()
	from := "ana@sender.test"
	if i > 0 {
		from = fmt.Sprintf("ana%d@sender.test", i)
	}
	ip, _ := r.world.HostIP("smtp.sender.test")
	zero := 0
	m, err := r.op.CreateMailbox(context.Background(), r.ws.ID, sequencer.MailboxInput{
		FromAddress: from, FromName: "Ana Ruiz", SMTPHost: ip.String(), SMTPPort: r.world.SMTPPort(),
		SMTPSecurity: "starttls", DailyCap: 10000, MinSpacingSeconds: &zero, JitterSeconds: &zero,
		DKIMSelector: "s1", DKIMPrivateKey: r.dkim,
	})
	if err != nil {
		r.b.Fatal(err)
	}
	return m
}

// cadence creates a one-email-step cadence with the first step's delay.
func (r *benchRig) cadence(m store.Mailbox, delay string) store.Cadence {
	return r.cadencePool([]int64{m.ID}, delay)
}

func (r *benchRig) cadencePool(ids []int64, delay string) store.Cadence {
	r.b.Helper()
	// Two steps, the second days away: each send also schedules the next
	// step (its touch row and its River job), as all touches but a
	// cadence's last do.
	steps := eightSteps()[:2]
	steps[0].Delay, steps[1].Delay = delay, "3d"
	c, _, err := r.op.CreateCadence(context.Background(), r.ws.ID, sequencer.Spec{Name: "bench " + delay, Steps: steps,
		Window: sendertest.AllDay(), MailboxIDs: ids})
	if err != nil {
		r.b.Fatal(err)
	}
	return c
}

func (r *benchRig) launch(c store.Cadence) {
	r.b.Helper()
	if _, err := r.op.Launch(context.Background(), r.ws.ID, c.ID, false); err != nil {
		r.b.Fatalf("launch: %v", err)
	}
}

func leadInputs(prefix string, from, n int) []store.LeadInput {
	out := make([]store.LeadInput, n)
	for i := range out {
		out[i] = store.LeadInput{Email: fmt.Sprintf("%slead%d@prospect.test", prefix, from+i), FirstName: fmt.Sprintf("Lee%d", from+i), Company: "Acme"}
	}
	return out
}

func (r *benchRig) enroll(c store.Cadence, leads []store.LeadInput, start string) []sequencer.EnrollOutcome {
	r.b.Helper()
	out, err := r.op.Enroll(context.Background(), r.ws.ID, c.ID, sequencer.EnrollRequest{Leads: leads, Start: start})
	if err != nil {
		r.b.Fatal(err)
	}
	for _, o := range out {
		if o.Outcome != "enrolled" {
			r.b.Fatalf("%s: %s %s", o.Email, o.Outcome, o.Reason)
		}
	}
	return out
}

// preverify stores a fresh deliverable verdict on every lead, so the gate
// trusts it and the touch does not probe.
func (r *benchRig) preverify() {
	r.b.Helper()
	if _, err := r.st.Pool().Exec(context.Background(), `
		UPDATE leads SET verification_status = 'deliverable', verification_reason = 'accepted', verified_at = now()
		WHERE workspace_id = $1`, r.ws.ID); err != nil {
		r.b.Fatal(err)
	}
}

// waitMessages waits until the world holds n messages, and returns them.
func (r *benchRig) waitMessages(n int, timeout time.Duration) []mailsim.Message {
	r.b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := r.world.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			var st []string
			rows, _ := r.st.Pool().Query(context.Background(), `SELECT status || ':' || count(*) FROM touches GROUP BY status`)
			for rows.Next() {
				var s string
				rows.Scan(&s)
				st = append(st, s)
			}
			rows.Close()
			r.b.Fatalf("%d of %d messages after %s; touches %v", len(msgs), n, timeout, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rtt measures one database round trip inside a transaction, the unit of
// the per-lead cost of Enroll.
func (r *benchRig) rtt() time.Duration {
	ctx := context.Background()
	var d time.Duration
	r.st.InTx(ctx, func(tx pgx.Tx) error {
		const n = 2000
		start := time.Now()
		for range n {
			var x int
			if err := tx.QueryRow(ctx, `SELECT 1`).Scan(&x); err != nil {
				return err
			}
		}
		d = time.Since(start) / n
		return nil
	})
	return d
}

// BenchmarkEnroll enrolls 100,000 leads given in the request, 10,000 per
// Enroll call, into a launched cadence whose first step is 30 business days
// out, with an insert-only River client: only the inserts are measured.
func BenchmarkEnroll(b *testing.B) {
	const total, batch = 100_000, 10_000
	r := newBenchRig(b, benchConfig{})
	m := r.mailbox()
	c := r.cadence(m, "30d")
	r.launch(c)
	rtt := r.rtt()

	var elapsed, worst time.Duration
	enrolled := 0
	b.ResetTimer()
	for it := range b.N {
		b.StopTimer()
		reqs := make([][]store.LeadInput, 0, total/batch)
		for i := 0; i < total; i += batch {
			reqs = append(reqs, leadInputs(fmt.Sprintf("i%d-", it), i, batch))
		}
		b.StartTimer()
		start := time.Now()
		for _, leads := range reqs {
			t := time.Now()
			out := r.enroll(c, leads, "")
			worst = max(worst, time.Since(t))
			b.Logf("Enroll of %d leads: %s", len(leads), time.Since(t).Round(time.Millisecond))
			enrolled += len(out)
		}
		elapsed += time.Since(start)
	}
	b.StopTimer()
	var jobsN, touchesN int
	r.st.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM river_job WHERE kind = 'touch' AND state = 'scheduled'),
		(SELECT count(*) FROM touches WHERE status = 'scheduled')`).Scan(&jobsN, &touchesN)
	if jobsN != enrolled || touchesN != enrolled {
		b.Fatalf("%d enrolled, %d scheduled jobs, %d scheduled touches", enrolled, jobsN, touchesN)
	}
	b.ReportMetric(float64(enrolled)/elapsed.Seconds(), "enrollments/s")
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms/call")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(enrolled), "us/lead")
	b.ReportMetric(float64(rtt.Microseconds()), "rtt-us")
}

// BenchmarkSend sends a one-step cadence to 2,000 pre-verified leads,
// enrolled with start "now" while the cadence is a draft, through the real
// SMTPSender to the simulated submission host (STARTTLS), DKIM-signed:
// messages/s from Launch to the last message received. Caps lifted (10,000
// a day, no spacing, no jitter).
//
// A running server is warm: its connections have planned their statements,
// its SMTP sessions are open, its keys are parsed. So each run first sends
// 500 messages through another cadence on the same mailboxes and workers,
// untimed; start=cold skips that and shows what a fresh process pays (on
// this machine, PostgreSQL's first plans on 32 new connections).
//
//	mailboxes=1:  every claim takes the same mailbox row and day counter,
//	  so claims are serialized on them; a real mailbox sends a message a
//	  minute or so, so this is the worst case, not the usual one.
//	mailboxes=16: a team's pool; the lead keeps its mailbox, so claims
//	  spread over 16 rows.
func BenchmarkSend(b *testing.B) {
	const n, warm = 2000, 500
	for _, key := range []dkimkey.Type{dkimkey.RSA2048, dkimkey.Ed25519} {
		for _, boxes := range []int{1, 16} {
			for _, workers := range []int{8, 16, 32} {
				b.Run(fmt.Sprintf("dkim=%s/mailboxes=%d/workers=%d", key, boxes, workers), func(b *testing.B) {
					benchSend(b, key, boxes, workers, n, warm)
				})
			}
		}
	}
	b.Run("dkim=ed25519/mailboxes=16/workers=32/start=cold", func(b *testing.B) {
		benchSend(b, dkimkey.Ed25519, 16, 32, n, 0)
	})
}

func benchSend(b *testing.B, key dkimkey.Type, boxes, workers, n, warm int) {
	var rate, launchMs, handoffRate, smtpMs, snoozedFrac, cpuMs, pgMs float64
	for range b.N {
		b.StopTimer()
		r := newBenchRig(b, benchConfig{sendWorkers: workers, key: key, recipients: n + warm})
		pool := r.mailboxPool(boxes)
		c := r.cadencePool(pool, "0")
		for i := 0; i < n; i += 1000 {
			r.enroll(c, leadInputs("", i, min(1000, n-i)), "now")
		}
		warmed := map[string]bool{}
		if warm > 0 {
			cw := r.cadencePool(pool, "0")
			for _, o := range r.enroll(cw, leadInputs("", n, warm), "now") {
				warmed[o.Email] = true
			}
			r.preverify()
			r.launch(cw)
			r.waitMessages(warm, 3*time.Minute)
			r.rec.reset()
		}
		r.preverify()
		resetStatements(b)
		cpu0, pg0 := processCPU(), postgresCPU()
		b.StartTimer()
		start := time.Now()
		r.launch(c)
		launched := time.Since(start)
		all := r.waitMessages(n+warm, 3*time.Minute)
		b.StopTimer()
		cpuMs = float64((processCPU() - cpu0).Microseconds()) / 1000 / float64(n)
		pgMs = float64((postgresCPU() - pg0).Microseconds()) / 1000 / float64(n)
		last := start
		seen := map[string]bool{}
		for _, msg := range all {
			if warmed[msg.To[0]] {
				continue
			}
			last = maxTime(last, msg.Received)
			if seen[msg.To[0]] {
				b.Fatalf("%s mailed twice", msg.To[0])
			}
			seen[msg.To[0]] = true
		}
		if len(seen) != n {
			b.Fatalf("%d of %d leads mailed", len(seen), n)
		}
		hand, calls := r.rec.snapshot()
		if calls != n {
			b.Fatalf("%d SMTP hand-offs for %d touches", calls, n)
		}
		var firstHand time.Time
		for _, t := range hand {
			if firstHand.IsZero() || t.Before(firstHand) {
				firstHand = t
			}
		}
		snoozedJobs, snoozes := r.snoozes()
		r.rec.mu.Lock()
		smtpMs = float64(r.rec.smtp.Microseconds()) / 1000 / float64(n)
		r.rec.mu.Unlock()
		snoozedFrac = float64(snoozedJobs) / float64(n+warm)
		b.Logf("snoozed touch jobs %d (snoozes %d), mean SMTP submission %.1f ms", snoozedJobs, snoozes, smtpMs)
		rate = float64(n) / last.Sub(start).Seconds()
		handoffRate = float64(n) / last.Sub(firstHand).Seconds()
		launchMs = float64(launched.Milliseconds())
		b.Logf("%d messages in %s from launch (launch %s, first hand-off at +%s; warm-up %d)", n, last.Sub(start).Round(time.Millisecond),
			launched.Round(time.Millisecond), firstHand.Sub(start).Round(time.Millisecond), warm)
	}
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(handoffRate, "msgs/s-after-first")
	b.ReportMetric(launchMs, "launch-ms")
	b.ReportMetric(smtpMs, "smtp-ms/msg")
	b.ReportMetric(snoozedFrac, "snoozed-frac")
	// This process's CPU per message: Touchline's engine and sender, and
	// the simulated submission host as well (it runs in here too), but
	// not PostgreSQL. 2,000 ms of it is what 2 cores give a second.
	b.ReportMetric(cpuMs, "proc-cpu-ms/msg")
	// PostgreSQL's CPU per message, when it runs on this machine (0 when
	// it does not): proc + pg is what a message costs the machine.
	b.ReportMetric(pgMs, "pg-cpu-ms/msg")
}

// postgresCPU sums the CPU time (user and system) of this machine's
// processes named postgres, from /proc; 0 where there is none or no /proc.
// A backend that exits between two readings loses its share, so read it
// around work done on connections that stay open.
func postgresCPU() time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		j := bytes.IndexByte(b, '(')
		if i < 0 || j < 0 || string(b[j+1:i]) != "postgres" {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// resetStatements empties pg_stat_statements after the warm-up when
// TOUCHLINE_BENCH_PGSS=1, so that what it shows afterwards (in the test
// server's database that has the extension) is the timed part alone:
//
//	psql "$URL" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"  # preloaded
//	TOUCHLINE_BENCH_PGSS=1 go test -run '^$' -bench 'Send/...' -benchtime 1x ./sequencer
//	psql "$URL" -c "SELECT calls, total_exec_time, query FROM pg_stat_statements ORDER BY 2 DESC"
func resetStatements(b *testing.B) {
	if os.Getenv("TOUCHLINE_BENCH_PGSS") != "1" {
		return
	}
	conn, err := pgx.Connect(context.Background(), pgtest.AdminURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `SELECT pg_stat_statements_reset()`); err != nil {
		b.Fatalf("TOUCHLINE_BENCH_PGSS=1: %v", err)
	}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// BenchmarkSchedulerLag: 2,000 touches due at a steady 200/s for 10 s; for
// each, the lag from its due_at (touches table) to its SMTP hand-off.
//
//	due=staggered: enrolled while the cadence is a draft, due_at set to
//	  launch+2s+i*5ms, then launched (Launch inserts each job from its
//	  due_at: within nearDue available at once, beyond it scheduled).
//	enroll=now:   the cadence active, 200 leads enrolled with start "now"
//	  every second for 10 s (speed-to-lead).
func BenchmarkSchedulerLag(b *testing.B) {
	const n, perSec = 2000, 200
	// mailboxes=1 is the brief's setup; mailboxes=64 spreads the claims
	// over 64 mailbox rows, so that the claim's spacing race between
	// concurrent workers on one mailbox mostly disappears (diagnostic).
	for _, boxes := range []int{1, 64} {
		b.Run(fmt.Sprintf("due=staggered/mailboxes=%d", boxes), func(b *testing.B) {
			for range b.N {
				r := newBenchRig(b, benchConfig{sendWorkers: 8, key: dkimkey.Ed25519, recipients: n})
				c := r.cadencePool(r.mailboxPool(boxes), "0")
				for i := 0; i < n; i += 1000 {
					r.enroll(c, leadInputs("", i, min(1000, n-i)), "now")
				}
				r.preverify()
				t0 := time.Now().Add(2 * time.Second)
				if _, err := r.st.Pool().Exec(context.Background(), `
					UPDATE touches t SET due_at = $1::timestamptz + (o.rn - 1) * interval '5 milliseconds'
					FROM (SELECT enrollment_id, row_number() OVER (ORDER BY enrollment_id) AS rn FROM touches WHERE step = 1) o
					WHERE t.enrollment_id = o.enrollment_id AND t.step = 1`, t0); err != nil {
					b.Fatal(err)
				}
				launchAt := time.Now()
				r.launch(c)
				b.Logf("launch took %s", time.Since(launchAt).Round(time.Millisecond))
				r.waitMessages(n, 2*time.Minute)
				r.reportLag(b, n, launchAt)
			}
		})
		b.Run(fmt.Sprintf("enroll=now/mailboxes=%d", boxes), func(b *testing.B) {
			for range b.N {
				r := newBenchRig(b, benchConfig{sendWorkers: 8, key: dkimkey.Ed25519, recipients: n})
				ids := r.mailboxPool(boxes)
				c := r.cadencePool(ids, "0")
				r.launch(c)
				// Pre-create the leads, verified, through a draft cadence,
				// so each second's request only enrolls (given leads merge).
				r.enroll(r.cadencePool(ids, "30d"), leadInputs("", 0, n), "")
				r.preverify()
				tick := time.NewTicker(time.Second)
				var slowest time.Duration
				for i := 0; i < n; i += perSec {
					if i > 0 {
						<-tick.C
					}
					t := time.Now()
					r.enroll(c, leadInputs("", i, perSec), "now")
					slowest = max(slowest, time.Since(t))
				}
				tick.Stop()
				b.Logf("slowest Enroll of %d: %s", perSec, slowest.Round(time.Millisecond))
				r.waitMessages(n, 2*time.Minute)
				r.reportLag(b, n, time.Now().Add(time.Hour))
			}
		})
	}
}

// reportLag matches each hand-off to its touch's due_at and reports
// percentiles; touches due more than nearDue (5 s) after split were inserted
// as scheduled jobs, the others available at once.
func (r *benchRig) reportLag(b *testing.B, n int, split time.Time) {
	hand, calls := r.rec.snapshot()
	if calls != n {
		b.Fatalf("%d SMTP hand-offs for %d touches", calls, n)
	}
	// A message is received before its touch's completion commits.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var sent int
		r.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM touches WHERE step = 1 AND status = 'sent'`).Scan(&sent)
		if sent >= n || time.Now().After(deadline) {
			break
		}
	}
	rows, err := r.st.Pool().Query(context.Background(), `
		SELECT l.email, t.due_at FROM touches t JOIN enrollments e ON e.id = t.enrollment_id JOIN leads l ON l.id = e.lead_id
		WHERE t.step = 1 AND t.status = 'sent'`)
	if err != nil {
		b.Fatal(err)
	}
	var all, near, far []float64
	for rows.Next() {
		var email string
		var due time.Time
		if err := rows.Scan(&email, &due); err != nil {
			b.Fatal(err)
		}
		h, ok := hand[email]
		if !ok {
			b.Fatalf("no hand-off for %s", email)
		}
		lag := float64(h.Sub(due).Microseconds()) / 1000
		all = append(all, lag)
		if due.Sub(split) > 5*time.Second {
			far = append(far, lag)
		} else {
			near = append(near, lag)
		}
	}
	rows.Close()
	if len(all) != n {
		b.Fatalf("%d sent touches, want %d", len(all), n)
	}
	b.ReportMetric(pct(all, 50), "p50-ms")
	b.ReportMetric(pct(all, 99), "p99-ms")
	b.ReportMetric(pct(all, 100), "max-ms")
	sj, sn := r.snoozes()
	b.Logf("snoozed touch jobs %d (snoozes %d)", sj, sn)
	b.Logf("lag ms: all n=%d p50=%.0f p90=%.0f p99=%.0f max=%.0f min=%.0f", len(all), pct(all, 50), pct(all, 90), pct(all, 99), pct(all, 100), pct(all, 0))
	if len(near) > 0 {
		b.Logf("  due within nearDue of launch (available at once): n=%d p50=%.0f p99=%.0f max=%.0f", len(near), pct(near, 50), pct(near, 99), pct(near, 100))
	}
	if len(far) > 0 {
		b.Logf("  due beyond nearDue of launch (scheduled jobs):    n=%d p50=%.0f p99=%.0f max=%.0f", len(far), pct(far, 50), pct(far, 99), pct(far, 100))
	}
}

func pct(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}
