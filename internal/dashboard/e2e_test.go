package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/dashboard"
	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/pgtest"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
	"github.com/touchline/touchline/sequencer"
)

// chromiumPath finds headless Chromium: TOUCHLINE_CHROMIUM, Debian's
// /usr/bin/chromium, or chromium on the PATH. Without one the test skips,
// and fails in CI, where make test installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("TOUCHLINE_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "headless Chromium not found: install Debian's package with `apt-get install -y chromium` (as root; `make test` does this when it can), " +
		"or set TOUCHLINE_CHROMIUM to a Chromium binary"
	if pgtest.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// world is a workspace that sends from a domain passing its audit, to a
// recipient domain of the simulated mail world, with the API and the
// dashboard served on loopback.
type world struct {
	t     *testing.T
	st    *store.Store
	mail  *mailsim.World
	srv   *httptest.Server
	inbox *sequencer.Inbox
	dkim  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, _ := storetest.New(t)
	sw := sendertest.New(t, sendertest.Options{DomainCache: st})
	w, res, v, pemKey := sw.World, sw.Resolver, sw.Verifier, sw.DKIMKey
	w.AddDomain(mailsim.Domain{Name: "bare.test"}) // no SPF, no DMARC
	mk := bytes.Repeat([]byte{3}, 32)
	log := slog.New(slog.DiscardHandler)
	eng := sw.Engine(t, st, mk)
	eng.Logger = log
	rc, err := jobs.NewClient(st, jobs.Config{Workers: 2, Worker: &jobs.VerifyBatchWorker{Store: st, Verifier: v, JobTimeout: time.Minute},
		Queues: map[string]int{sequencer.QueueSend: 4}, Logger: log,
		Register: func(wk *river.Workers) error {
			for _, err := range []error{
				river.AddWorkerSafely(wk, &sequencer.TouchWorker{Engine: eng}),
				river.AddWorkerSafely(wk, &sequencer.ResumeWorker{Engine: eng}),
				river.AddWorkerSafely(wk, &sequencer.TaskDeadlineWorker{Engine: eng}),
				river.AddWorkerSafely(wk, &sequencer.WebhookWorker{Engine: eng}),
			} {
				if err != nil {
					return err
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	st.OnListDone = eng.ListCompleted(rc)
	sendertest.StartRiver(t, rc)
	op := &sequencer.Operator{Engine: eng, River: rc, Resolver: res}
	dash := dashboard.New(dashboard.Config{Store: st, Resolver: res, SessionKey: secret.Derive(mk, "dashboard-session"), Logger: log,
		Refresh: time.Second})
	h := server.New(server.Config{Store: st, Verifier: v, River: rc, Sequencer: op, Logger: log, Dashboard: dash}).Handler()
	// On 127.0.0.1 explicitly: the browser must not leave loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return &world{t: t, st: st, mail: w, srv: srv, inbox: &sequencer.Inbox{Engine: eng, River: rc}, dkim: pemKey}
}

// api calls the API with key and decodes a 2xx answer into out.
func (w *world) api(method, path, key string, body any, out any) {
	w.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if _, ok := body.(string); ok {
		req.Header.Set("Content-Type", "text/csv") // an upload
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("%s %s: %s\n%s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
}

func (w *world) deliver(raw []byte, to ...string) {
	w.t.Helper()
	if err := w.inbox.HandleMessage(context.Background(), inbound.Message{Source: "smtp", To: to, Raw: raw, Received: time.Now()}); err != nil {
		w.t.Fatal(err)
	}
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shown is what the page shows for one data-testid.
type shown struct {
	Text   string `json:"text"`
	Value  string `json:"value"`
	Sent   string `json:"sent"`
	Hits   string `json:"hits"`
	Period string `json:"period"`
}

const readPage = `Object.fromEntries(Array.from(document.querySelectorAll('[data-testid]'), e => [e.getAttribute('data-testid'), {
	text: e.textContent.trim(), value: e.getAttribute('data-value') || '', sent: e.getAttribute('data-sent') || '',
	hits: e.getAttribute('data-hits') || '', period: e.getAttribute('data-period') || ''}]))`

// TestDashboardInChromium drives the dashboard in headless Chromium: a
// cadence is sent and answered (replies, an out-of-office, a hard bounce,
// an unsubscribe), a list is cleaned, a mailbox paused; the browser signs
// in through the form, and every number the page shows is checked against
// the API for the same workspace, and against what was seeded. A reply
// that arrives while the page is open shows up without a reload.
func TestDashboardInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	t.Parallel()
	start := time.Now()
	w := newWorld(t)
	ctx := context.Background()

	acme, err := w.st.EnsureWorkspace(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, err := w.st.CreateAPIKey(ctx, acme.ID, "e2e")
	if err != nil {
		t.Fatal(err)
	}

	// A mailbox whose domain passes SPF, DKIM and DMARC, sending a
	// cadence to 8 leads; a second on a bare domain, paused.
	ip, _ := w.mail.HostIP("smtp.sender.test")
	var good, bare store.Mailbox
	w.api("POST", "/v1/mailboxes", key, map[string]any{"from_address": "ana@sender.test", "from_name": "Ana Ruiz", "smtp_host": ip.String(),
		"smtp_port": w.mail.SMTPPort(), "smtp_security": "starttls", "smtp_password": "pw", "daily_cap": 1000, "min_spacing_seconds": 0,
		"jitter_seconds": 0, "dkim_selector": "s1", "dkim_private_key": w.dkim}, &good)
	w.api("POST", "/v1/mailboxes", key, map[string]any{"from_address": "rep@bare.test", "smtp_host": ip.String(), "smtp_port": w.mail.SMTPPort(),
		"smtp_security": "starttls", "daily_cap": 40}, &bare)
	const pausedReason = "sender_rejections: 4 in the last 100 sends (limit 3%)"
	if err := w.st.InTx(ctx, func(tx pgx.Tx) error { _, err := w.st.PauseMailbox(ctx, tx, bare.ID, pausedReason); return err }); err != nil {
		t.Fatal(err)
	}
	var created struct {
		Cadence store.Cadence `json:"cadence"`
	}
	w.api("POST", "/v1/cadences", key, sequencer.Spec{Name: "Q3 SDR outreach", MailboxIDs: []int64{good.ID}, Window: sendertest.AllDay(),
		Steps: []sequencer.Step{
			{Channel: "email", Delay: "0", Subject: "Quick question, {{first_name}}", Body: "Hi {{first_name}}, is {{company|your team}} hiring?"},
			{Channel: "email", Delay: "5d", Thread: true, Body: "Following up, {{first_name}}."},
		}}, &created)
	cad := created.Cadence
	w.api("POST", fmt.Sprintf("/v1/cadences/%d/launch", cad.ID), key, nil, nil)
	req := sequencer.EnrollRequest{Start: "now"}
	for i := range 8 {
		req.Leads = append(req.Leads, store.LeadInput{Email: fmt.Sprintf("lead%d@prospect.test", i), FirstName: fmt.Sprintf("Lee%d", i)})
	}
	w.api("POST", fmt.Sprintf("/v1/cadences/%d/enrollments", cad.ID), key, req, nil)

	// A list to clean.
	var list store.List
	w.api("POST", "/v1/lists?name=q3-prospects", key, "email\nlead10@prospect.test\nlead11@prospect.test\nnobody@prospect.test\nnot-an-address\n", &list)

	// The first emails go out.
	first := map[string]mailsim.Message{}
	eventually(t, "8 first emails delivered", func() bool { return len(w.mail.Messages()) >= 8 })
	for _, m := range w.mail.Messages() {
		first[m.To[0]] = m
	}
	// Answers, written as the simulated world's recipients write them.
	answer := func(raw []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}

	// What comes back: 3 human replies, an out-of-office, a hard bounce
	// to the VERP return path, an unsubscribe request.
	for i, text := range []string{"Yes, we are hiring. Call me Tuesday?", "Interesting - send me pricing.", "Let's talk next week."} {
		addr := fmt.Sprintf("lead%d@prospect.test", i)
		w.deliver(answer(mailsim.ReplyFrom(first[addr], addr, fmt.Sprintf("Lee%d", i), text, time.Now())))
	}
	w.deliver(answer(mailsim.OutOfOffice(first["lead3@prospect.test"], "lead3@prospect.test", time.Now().AddDate(0, 0, 5), time.Now())))
	verp := first["lead4@prospect.test"].From
	w.deliver(answer(mailsim.DeliveryStatus(first["lead4@prospect.test"], "mx.prospect.test", "lead4@prospect.test", "failed", "5.1.1",
		"550 5.1.1 <lead4@prospect.test>: Recipient address rejected: User unknown", time.Now())), verp)
	w.deliver(answer(mailsim.ReplyFrom(first["lead5@prospect.test"], "lead5@prospect.test", "", "Please remove me from your list.", time.Now())))

	eventually(t, "the list cleaned", func() bool {
		var l store.List
		w.api("GET", fmt.Sprintf("/v1/lists/%d", list.ID), key, nil, &l)
		return l.Status == "done"
	})

	// Another workspace, whose reply must not show.
	globex, _ := w.st.EnsureWorkspace(ctx, "globex")
	if err := w.st.InTx(ctx, func(tx pgx.Tx) error {
		_, _, err := w.st.InsertInbound(ctx, tx, store.InboundRecord{Workspace: &globex.ID, Source: "imap", EnvelopeTo: []string{},
			Raw: []byte("From: spy@globex.test\r\n\r\nglobex secret reply\r\n"), Class: "human_reply", Rule: "test", Detail: map[string]any{"snippet": "globex secret reply"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seeded := time.Since(start)

	// The browser: loopback only, no background traffic.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"), chromedp.WindowSize(1400, 2000))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	// Chromium's own temporary files go to a directory of the test's,
	// removed once the browser is gone (it is killed, so it cannot).
	tmp, err := os.MkdirTemp("", "touchline-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(tmp) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts = append(opts, chromedp.Env("TMPDIR="+tmp))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	browser, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	bctx, cancelT := context.WithTimeout(browser, 2*time.Minute)
	defer cancelT()
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Signed out, / leads to the form; a wrong key is refused there.
	var loc, loginErr string
	browserStart := time.Now()
	run("open /", chromedp.Navigate(w.srv.URL+"/"), chromedp.WaitVisible(`[data-testid=login-form]`), chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/login") {
		t.Fatalf("signed out, / went to %s", loc)
	}
	run("wrong key", chromedp.SendKeys(`#api_key`, "tl_thisisnotakey"), chromedp.Click(`[data-testid=login-submit]`),
		chromedp.WaitVisible(`[data-testid=login-error]`), chromedp.Text(`[data-testid=login-error]`, &loginErr))
	if !strings.Contains(loginErr, "unknown or revoked") {
		t.Fatalf("wrong key: %q", loginErr)
	}
	run("sign in", chromedp.SendKeys(`#api_key`, key), chromedp.Click(`[data-testid=login-submit]`),
		chromedp.WaitVisible(`[data-testid=workspace]`), chromedp.Location(&loc))
	if loc != w.srv.URL+"/" {
		t.Fatalf("signed in at %s", loc)
	}

	// The page refreshes itself every second; read it once the mailbox
	// audits are in.
	var page map[string]shown
	read := func() map[string]shown {
		t.Helper()
		var p map[string]shown
		run("read the page", chromedp.Evaluate(readPage, &p))
		return p
	}
	eventually(t, "SPF/DKIM/DMARC of both mailboxes on the page", func() bool {
		page = read()
		_, a := page[fmt.Sprintf("mailbox-%d-dmarc", good.ID)]
		_, b := page[fmt.Sprintf("mailbox-%d-dmarc", bare.ID)]
		return a && b
	})
	if got := page["workspace"].Text; got != "acme" {
		t.Fatalf("workspace %q", got)
	}
	text := func(id string) string {
		t.Helper()
		s, ok := page[id]
		if !ok {
			t.Fatalf("the page has no %s", id)
		}
		return s.Text
	}
	number := func(id string) int {
		t.Helper()
		n, err := strconv.Atoi(strings.ReplaceAll(text(id), ",", ""))
		if err != nil {
			t.Fatalf("%s: %q is not a number", id, text(id))
		}
		return n
	}
	rate := func(id string, want float64, shownIfSent bool) {
		t.Helper()
		v, err := strconv.ParseFloat(page[id].Value, 64)
		if err != nil || v != want {
			t.Errorf("%s: data-value %q, API %v", id, page[id].Value, want)
		}
		if wantText := fmt.Sprintf("%.1f%%", want*100); shownIfSent && text(id) != wantText {
			t.Errorf("%s shows %q, want %q", id, text(id), wantText)
		}
	}

	// 1. Totals and the cadence's funnel: /v1/stats, and what was seeded.
	var stats, cstats struct {
		Periods []store.PeriodStats `json:"periods"`
	}
	w.api("GET", "/v1/stats", key, nil, &stats)
	w.api("GET", fmt.Sprintf("/v1/stats?cadence_id=%d", cad.ID), key, nil, &cstats)
	tot, ct := store.SumPeriods(stats.Periods), store.SumPeriods(cstats.Periods)
	for _, c := range []struct {
		id        string
		api, seed int
	}{
		{"kpi-enrolled", tot.Enrolled, 8}, {"kpi-sent", tot.Sent, 8}, {"kpi-replies", tot.Replies, 3}, {"kpi-prospects", tot.ProspectsCreated, 3},
		{"kpi-hard-bounces", tot.HardBounces, 1}, {"kpi-unsubscribes", tot.Unsubscribes, 1}, {"kpi-auto-replies", tot.AutoReplies, 1},
		{fmt.Sprintf("cadence-%d-enrolled", cad.ID), ct.Enrolled, 8}, {fmt.Sprintf("cadence-%d-sent", cad.ID), ct.Sent, 8},
		{fmt.Sprintf("cadence-%d-replied", cad.ID), ct.Replies, 3}, {fmt.Sprintf("cadence-%d-prospects", cad.ID), ct.ProspectsCreated, 3},
	} {
		if got := number(c.id); got != c.api || got != c.seed {
			t.Errorf("%s: page %d, API %d, seeded %d", c.id, got, c.api, c.seed)
		}
	}
	rate("kpi-reply-rate", tot.ReplyRate, true)
	rate("kpi-bounce-rate", tot.BounceRate, true)
	rate(fmt.Sprintf("cadence-%d-reply-rate", cad.ID), ct.ReplyRate, true)
	rate(fmt.Sprintf("cadence-%d-bounce-rate", cad.ID), ct.BounceRate, true)
	if ct.ReplyRate != 3.0/8 || ct.BounceRate != 1.0/8 {
		t.Errorf("API rates %v %v, want 3/8 and 1/8", ct.ReplyRate, ct.BounceRate)
	}
	if got := text(fmt.Sprintf("cadence-%d-name", cad.ID)); got != "Q3 SDR outreach" {
		t.Errorf("cadence name %q", got)
	}
	if got := text(fmt.Sprintf("cadence-%d-status", cad.ID)); got != "active" {
		t.Errorf("cadence status %q", got)
	}

	// 2. The daily charts: a point for every day of the range with sends,
	// none for days without.
	points := 0
	for _, p := range stats.Periods {
		day := p.Period.Format("2006-01-02")
		for _, c := range []struct {
			chart string
			hits  int
			rate  float64
		}{{"bounce", p.HardBounces, p.BounceRate}, {"reply", p.Replies, p.ReplyRate}} {
			pt, ok := page[c.chart+"-rate-"+day]
			if p.Sent == 0 || p.Period.After(time.Now()) {
				if ok {
					t.Errorf("%s chart has a point for %s, a day without sends", c.chart, day)
				}
				continue
			}
			points++
			if !ok {
				t.Errorf("%s chart: no point for %s (%d sent)", c.chart, day, p.Sent)
				continue
			}
			if pt.Sent != strconv.Itoa(p.Sent) || pt.Hits != strconv.Itoa(c.hits) || pt.Value != strconv.FormatFloat(c.rate, 'g', -1, 64) ||
				pt.Period != p.Period.UTC().Format(time.RFC3339) {
				t.Errorf("%s chart, %s: page %+v, API sent %d hits %d rate %v", c.chart, day, pt, p.Sent, c.hits, c.rate)
			}
		}
	}
	if points == 0 {
		t.Error("the charts show no day with sends")
	}

	// 3. Mailbox health: /v1/mailboxes, the audits, the guardrail window.
	var mbs struct {
		Mailboxes []struct {
			store.Mailbox
			SentToday int `json:"sent_today"`
		} `json:"mailboxes"`
	}
	w.api("GET", "/v1/mailboxes", key, nil, &mbs)
	if len(mbs.Mailboxes) != 2 {
		t.Fatalf("%d mailboxes from the API", len(mbs.Mailboxes))
	}
	for _, m := range mbs.Mailboxes {
		p := fmt.Sprintf("mailbox-%d-", m.ID)
		if text(p+"from") != m.FromAddress || number(p+"sent-today") != m.SentToday {
			t.Errorf("mailbox %d: page %q %q, API %q %d", m.ID, text(p+"from"), text(p+"sent-today"), m.FromAddress, m.SentToday)
		}
		wantState := map[bool]string{true: "paused", false: "sending"}[m.PausedReason != ""]
		if text(p+"state") != wantState {
			t.Errorf("mailbox %d: state %q, want %q", m.ID, text(p+"state"), wantState)
		}
		if m.PausedReason != "" && text(p+"paused-reason") != m.PausedReason {
			t.Errorf("mailbox %d: reason %q, API %q", m.ID, text(p+"paused-reason"), m.PausedReason)
		}
	}
	g, b := fmt.Sprintf("mailbox-%d-", good.ID), fmt.Sprintf("mailbox-%d-", bare.ID)
	for _, c := range []struct{ id, want string }{
		{g + "spf", "pass"}, {g + "dkim", "pass"}, {g + "dmarc", "pass"}, {g + "state", "sending"},
		{b + "spf", "fail"}, {b + "dmarc", "fail"}, {b + "state", "paused"}, {b + "paused-reason", pausedReason},
		{g + "hard-bounces", "1"}, {g + "recent-sends", "8"}, {b + "recent-sends", "0"}, {g + "sent-today", "8"},
	} {
		if got := text(c.id); got != c.want {
			t.Errorf("%s: %q, want %q", c.id, got, c.want)
		}
	}
	rate(g+"bounce-rate", 1.0/8, true)
	if text(b+"bounce-rate") != "—" {
		t.Errorf("a mailbox without sends shows bounce rate %q", text(b+"bounce-rate"))
	}
	if !strings.Contains(page["alerts"].Text, "rep@bare.test is paused") || !strings.Contains(page["alerts"].Text, "bare.test fails DMARC") {
		t.Errorf("alerts: %q", page["alerts"].Text)
	}

	// 4. List cleaning: /v1/lists.
	var lists struct {
		Lists []store.List `json:"lists"`
	}
	w.api("GET", "/v1/lists", key, nil, &lists)
	if len(lists.Lists) != 1 {
		t.Fatalf("%d lists from the API", len(lists.Lists))
	}
	for _, l := range lists.Lists {
		p := fmt.Sprintf("list-%d-", l.ID)
		got := []string{text(p + "name"), text(p + "status"), text(p + "processed"), text(p + "total"),
			text(p + "deliverable"), text(p + "undeliverable"), text(p + "risky"), text(p + "unknown")}
		want := []string{l.Name, l.Status, strconv.Itoa(l.Processed), strconv.Itoa(l.Total),
			strconv.Itoa(l.Counts.Deliverable), strconv.Itoa(l.Counts.Undeliverable), strconv.Itoa(l.Counts.Risky), strconv.Itoa(l.Counts.Unknown)}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("list %d: page %v, API %v", l.ID, got, want)
		}
		if l.Name != "q3-prospects" || l.Status != "done" || l.Total != 4 || l.Processed != 4 || l.Counts.Deliverable != 2 {
			t.Errorf("list from the API: %+v", l)
		}
	}

	// 5. Latest replies: /v1/inbound, with each message's lead.
	checkReplies := func(want int) {
		t.Helper()
		var in struct {
			Messages []store.InboundRecord `json:"messages"`
		}
		w.api("GET", "/v1/inbound", key, nil, &in)
		if len(in.Messages) != want {
			t.Fatalf("%d inbound messages from the API, want %d", len(in.Messages), want)
		}
		humans := 0
		for _, m := range in.Messages {
			p := fmt.Sprintf("inbound-%d-", m.ID)
			if text(p+"class") != m.Class || text(p+"rule") != m.Rule || page[p+"time"].Text == "" {
				t.Errorf("message %d: page %q %q, API %q %q", m.ID, text(p+"class"), text(p+"rule"), m.Class, m.Rule)
			}
			if s, _ := m.Detail["snippet"].(string); text(p+"snippet") != s {
				t.Errorf("message %d: snippet %q, API %q", m.ID, text(p+"snippet"), s)
			}
			if m.LeadID == nil {
				t.Errorf("message %d matched no lead", m.ID)
				continue
			}
			var lead store.Lead
			w.api("GET", fmt.Sprintf("/v1/leads/%d", *m.LeadID), key, nil, &lead)
			if text(p+"lead") != lead.Email {
				t.Errorf("message %d: lead %q, API %q", m.ID, text(p+"lead"), lead.Email)
			}
			if m.Class == "bounce" && (!strings.Contains(text(p+"bounce"), "hard bounce 5.1.1") || !strings.Contains(text(p+"bounce"), "User unknown")) {
				t.Errorf("bounce %d: %q, want its kind, status and diagnostic", m.ID, text(p+"bounce"))
			}
			if m.Class == "human_reply" {
				humans++
				if !strings.Contains(text(p+"from"), lead.Email) {
					t.Errorf("reply %d: from %q, want the lead's address %s", m.ID, text(p+"from"), lead.Email)
				}
			}
		}
		rows := 0
		for id := range page {
			if strings.HasSuffix(id, "-class") && strings.HasPrefix(id, "inbound-") && page[id].Text == "human_reply" {
				rows++
			}
		}
		if rows != humans {
			t.Errorf("%d human replies on the page, %d from the API", rows, humans)
		}
	}
	checkReplies(6)
	for id, s := range page {
		if strings.Contains(s.Text, "globex") {
			t.Errorf("%s shows another workspace's data: %q", id, s.Text)
		}
	}

	// A reply that arrives while the page is open shows without a reload.
	var marker bool
	run("mark the page", chromedp.Evaluate(`window.__notReloaded = true`, &marker))
	w.deliver(answer(mailsim.ReplyFrom(first["lead6@prospect.test"], "lead6@prospect.test", "Lee6", "Count me in for a demo.", time.Now())))
	refreshWait := time.Now()
	run("a fourth reply appears", chromedp.Poll(`document.querySelector('[data-testid=kpi-replies]').textContent.trim() === '4'`, nil,
		chromedp.WithPollingTimeout(15*time.Second)))
	refreshLag := time.Since(refreshWait)
	run("still the same page", chromedp.Evaluate(`window.__notReloaded === true`, &marker))
	if !marker {
		t.Fatal("the page reloaded instead of refreshing in place")
	}
	page = read()
	checkReplies(7)
	if number(fmt.Sprintf("cadence-%d-replied", cad.ID)) != 4 {
		t.Errorf("cadence replies after the fourth: %s", text(fmt.Sprintf("cadence-%d-replied", cad.ID)))
	}

	// TOUCHLINE_E2E_SCREENSHOT=page.png keeps a picture of the page, to look at.
	if path := os.Getenv("TOUCHLINE_E2E_SCREENSHOT"); path != "" {
		var png []byte
		run("screenshot", chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Error(err)
		}
	}

	// Sign out: the session is gone.
	run("sign out", chromedp.Click(`[data-testid=logout]`), chromedp.WaitVisible(`[data-testid=login-form]`))
	run("/ again", chromedp.Navigate(w.srv.URL+"/"), chromedp.WaitVisible(`[data-testid=login-form]`), chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/login") {
		t.Fatalf("signed out, / went to %s", loc)
	}
	t.Logf("seeding %s, browser %s (a new reply on the page after %s)", seeded.Round(time.Millisecond),
		time.Since(browserStart).Round(time.Millisecond), refreshLag.Round(time.Millisecond))
}
