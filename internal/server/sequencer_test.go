package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// seqEnv is env with the sequencer configured: a sending domain that passes
// its audit (SPF, DKIM, DMARC), a bare domain that fails it, a recipient
// domain, and River workers for verification batches and touches.
type seqEnv struct {
	*env
	op   *sequencer.Operator
	dkim string // PEM of sender.test's DKIM key (selector s1)
}

const (
	smtpPassword  = "hunter2-smtp-Secret-9f3a"
	senderAddress = "ana@sender.test"
)

func newSeqEnv(t *testing.T) *seqEnv {
	t.Helper()
	st := newDB(t)
	sw := sendertest.New(t, sendertest.Options{DomainCache: st})
	w, res, v, pemKey := sw.World, sw.Resolver, sw.Verifier, sw.DKIMKey
	w.AddDomain(mailsim.Domain{Name: "bare.test"}) // no SPF, no DMARC
	mk := make([]byte, 32)
	for i := range mk {
		mk[i] = byte(i + 1)
	}
	eng := sw.Engine(t, st, mk)
	rc, err := jobs.NewClient(st, jobs.Config{Workers: 2, Worker: &jobs.VerifyBatchWorker{Store: st, Verifier: v, JobTimeout: time.Minute},
		Queues: map[string]int{sequencer.QueueSend: 4},
		Register: func(wk *river.Workers) error {
			if err := river.AddWorkerSafely(wk, &sequencer.TouchWorker{Engine: eng}); err != nil {
				return err
			}
			return river.AddWorkerSafely(wk, &sequencer.WebhookWorker{Engine: eng})
		}})
	if err != nil {
		t.Fatal(err)
	}
	st.OnListDone = eng.ListCompleted(rc) // before the workers start
	sendertest.StartRiver(t, rc)
	op := &sequencer.Operator{Engine: eng, River: rc, Resolver: res}
	cfg := server.Config{Store: st, Verifier: v, River: rc, Sequencer: op}
	srv := httptest.NewServer(server.New(cfg).Handler())
	t.Cleanup(srv.Close)
	return &seqEnv{env: &env{t: t, st: st, world: w, srv: srv, cfg: cfg}, op: op, dkim: pemKey}
}

// post sends body (a string as is, anything else as JSON).
func (e *seqEnv) post(path, key string, body any) *http.Response {
	e.t.Helper()
	var r io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	return e.do("POST", path, key, "application/json", r)
}

// expectStatus fails unless resp has status, and returns its body.
func expectStatus(t *testing.T, resp *http.Response, status int) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d (%s), want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b, status)
	}
	return b
}

func unmarshal[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// senderMailbox is a mailbox on sender.test that delivers to the world.
func (e *seqEnv) senderMailbox() map[string]any {
	ip, ok := e.world.HostIP("smtp.sender.test")
	if !ok {
		e.t.Fatal("no IP for smtp.sender.test")
	}
	return map[string]any{"from_address": senderAddress, "from_name": "Ana Ruiz", "smtp_host": ip.String(), "smtp_port": e.world.SMTPPort(),
		"smtp_security": "starttls", "smtp_password": smtpPassword, "daily_cap": 1000, "min_spacing_seconds": 0, "jitter_seconds": 0,
		"dkim_selector": "s1", "dkim_private_key": e.dkim}
}

func (e *seqEnv) createMailbox(key string, in map[string]any) store.Mailbox {
	e.t.Helper()
	return unmarshal[store.Mailbox](e.t, expectStatus(e.t, e.post("/v1/mailboxes", key, in), http.StatusCreated))
}

type preflightProblem struct {
	server.Problem
	Failures []sequencer.PreflightFailure `json:"failures"`
}

type cadenceCreated struct {
	Cadence  store.Cadence       `json:"cadence"`
	Warnings []sequencer.Warning `json:"warnings"`
}

func (e *seqEnv) createCadence(key string, spec sequencer.Spec) cadenceCreated {
	e.t.Helper()
	return unmarshal[cadenceCreated](e.t, expectStatus(e.t, e.post("/v1/cadences", key, spec), http.StatusCreated))
}

// cadenceAction posts to /v1/cadences/{id}/action and returns the cadence.
func (e *seqEnv) cadenceAction(key string, id int64, action string, body any) store.Cadence {
	e.t.Helper()
	return unmarshal[store.Cadence](e.t, expectStatus(e.t, e.post(fmt.Sprintf("/v1/cadences/%d/%s", id, action), key, body), http.StatusOK))
}

// activeCadence creates and launches (preflight passing) a cadence on a
// new sender.test mailbox.
func (e *seqEnv) activeCadence(key string, steps ...sequencer.Step) store.Cadence {
	e.t.Helper()
	m := e.createMailbox(key, e.senderMailbox())
	c := e.createCadence(key, sequencer.Spec{Name: "test", Steps: steps, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if a := e.cadenceAction(key, c.Cadence.ID, "launch", nil); a.Status != "active" {
		e.t.Fatalf("launched cadence %+v", a)
	}
	c.Cadence.MailboxIDs = []int64{m.ID}
	return c.Cadence
}

func (e *seqEnv) enroll(key string, cadenceID int64, req any) []sequencer.EnrollOutcome {
	e.t.Helper()
	return unmarshal[struct {
		Results []sequencer.EnrollOutcome `json:"results"`
	}](e.t, expectStatus(e.t, e.post(fmt.Sprintf("/v1/cadences/%d/enrollments", cadenceID), key, req), http.StatusOK)).Results
}

func (e *seqEnv) enrollment(key string, id int64) store.Enrollment {
	e.t.Helper()
	return unmarshal[store.Enrollment](e.t, expectStatus(e.t, e.do("GET", fmt.Sprintf("/v1/enrollments/%d", id), key, "", nil), http.StatusOK))
}

func (e *seqEnv) tasks(key string) []store.Task {
	e.t.Helper()
	return unmarshal[struct {
		Tasks []store.Task `json:"tasks"`
	}](e.t, expectStatus(e.t, e.do("GET", "/v1/tasks", key, "", nil), http.StatusOK)).Tasks
}

// lead creates a lead directly in the store, as an upload would.
func (e *seqEnv) lead(ws int64, in store.LeadInput) store.Lead {
	e.t.Helper()
	var l store.Lead
	err := e.st.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		l, err = e.st.UpsertLead(context.Background(), tx, ws, in)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// messagesTo returns the messages the world delivered to rcpt.
func (e *seqEnv) messagesTo(rcpt string) []mailsim.Message {
	var out []mailsim.Message
	for _, m := range e.world.Messages() {
		if len(m.To) == 1 && strings.EqualFold(m.To[0], rcpt) {
			out = append(out, m)
		}
	}
	return out
}

// eventually polls cond until it holds or 30 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func emailStep(delay, subject, body string) sequencer.Step {
	return sequencer.Step{Channel: "email", Delay: delay, Subject: subject, Body: body}
}

// twoEmails is a cadence whose first email goes out at once and whose
// second waits days, so the enrollment stays active in between.
func twoEmails() []sequencer.Step {
	return []sequencer.Step{
		emailStep("0", "Quick question, {{first_name}}", "Hi {{first_name}}, is {{company|your team}} hiring?"),
		{Channel: "email", Delay: "5d", Thread: true, Body: "Following up, {{first_name}}."},
	}
}

func outcomeOf(t *testing.T, out []sequencer.EnrollOutcome, match func(sequencer.EnrollOutcome) bool) sequencer.EnrollOutcome {
	t.Helper()
	for _, o := range out {
		if match(o) {
			return o
		}
	}
	t.Fatalf("no such outcome in %+v", out)
	return sequencer.EnrollOutcome{}
}

func byEmail(email string) func(sequencer.EnrollOutcome) bool {
	return func(o sequencer.EnrollOutcome) bool { return o.Email == email }
}

func byLeadID(id int64) func(sequencer.EnrollOutcome) bool {
	return func(o sequencer.EnrollOutcome) bool { return o.LeadID == id }
}

func TestMailboxAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key, other := e.key("mail-a"), e.key("mail-b")

	resp := e.post("/v1/mailboxes", key, e.senderMailbox())
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	raw := expectStatus(t, resp, http.StatusCreated)
	pemBody := strings.Split(strings.TrimSpace(e.dkim), "\n")[1] // the base64 of the key
	for _, secretText := range []string{smtpPassword, pemBody, "PRIVATE KEY", "smtp_password", "dkim_private_key", "sealed"} {
		if bytes.Contains(raw, []byte(secretText)) {
			t.Fatalf("mailbox response contains %q: %s", secretText, raw)
		}
	}
	m := unmarshal[store.Mailbox](t, raw)
	if m.ID == 0 || m.FromAddress != senderAddress || !m.HasPassword || !m.HasDKIMKey || m.DKIMDomain != "sender.test" ||
		m.DKIMSelector != "s1" || m.SMTPSecurity != "starttls" || m.MinSpacingSeconds != 0 || m.Timezone != "UTC" {
		t.Fatalf("mailbox %s", raw)
	}

	// Defaults: port from security, cap, spacing.
	d := e.createMailbox(key, map[string]any{"from_address": "bob@sender.test", "smtp_host": "smtp.example.test", "smtp_security": "tls"})
	if d.SMTPPort != 465 || d.DailyCap != 50 || d.MinSpacingSeconds != 90 || d.JitterSeconds != 30 || d.HasPassword || d.HasDKIMKey {
		t.Fatalf("defaults %+v", d)
	}

	// Every problem is named at once.
	p := expectProblem(t, e.post("/v1/mailboxes", key, map[string]any{
		"from_address": "not-an-address", "smtp_host": "smtp.example.test", "smtp_security": "ssl", "timezone": "Mars/Olympus_Mons",
		"dkim_selector": "s1", "dkim_private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
	}), http.StatusUnprocessableEntity, "invalid")
	for _, want := range []string{"from_address:", "smtp_security:", `"ssl"`, "timezone:", "Mars/Olympus_Mons", "dkim_private_key:"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("detail %q does not name %q", p.Detail, want)
		}
	}
	p = expectProblem(t, e.post("/v1/mailboxes", key, map[string]any{"from_address": "x@sender.test"}), http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(p.Detail, "smtp_host") {
		t.Errorf("missing smtp_host: %q", p.Detail)
	}
	expectProblem(t, e.post("/v1/mailboxes", key, `{"from_address":"x@sender.test","smtp_hots":"h"}`), http.StatusBadRequest, "bad_json")
	expectProblem(t, e.post("/v1/mailboxes", key, `{"from_address":`), http.StatusBadRequest, "bad_json")

	// The same address again, in any case, is a conflict; another
	// workspace may have it.
	expectProblem(t, e.post("/v1/mailboxes", key, e.senderMailbox()), http.StatusConflict, "conflict")
	again := e.senderMailbox()
	again["from_address"] = "ANA@Sender.test"
	expectProblem(t, e.post("/v1/mailboxes", key, again), http.StatusConflict, "conflict")
	e.createMailbox(other, e.senderMailbox())

	// Listed, without secrets, per workspace.
	resp = e.do("GET", "/v1/mailboxes", key, "", nil)
	raw = expectStatus(t, resp, http.StatusOK)
	if bytes.Contains(raw, []byte(smtpPassword)) || bytes.Contains(raw, []byte(pemBody)) {
		t.Fatalf("mailbox list leaks a secret: %s", raw)
	}
	list := unmarshal[struct {
		Mailboxes []store.Mailbox `json:"mailboxes"`
	}](t, raw).Mailboxes
	if len(list) != 2 || list[0].ID != m.ID || !list[0].HasPassword || !list[0].HasDKIMKey || list[1].ID != d.ID {
		t.Fatalf("mailboxes %s", raw)
	}
	expectProblem(t, e.do("GET", "/v1/mailboxes", "", "", nil), http.StatusUnauthorized, "unauthorized")

	// Without a sequencer (no TOUCHLINE_SECRET_KEY), nothing that needs it.
	cfg := e.cfg
	cfg.Sequencer = nil
	bare := httptest.NewServer(server.New(cfg).Handler())
	t.Cleanup(bare.Close)
	off := &seqEnv{env: &env{t: t, st: e.st, world: e.world, srv: bare, cfg: cfg}}
	p = expectProblem(t, off.post("/v1/mailboxes", key, e.senderMailbox()), http.StatusServiceUnavailable, "sequencer_disabled")
	if !strings.Contains(p.Detail, "TOUCHLINE_SECRET_KEY") {
		t.Errorf("sequencer_disabled detail %q", p.Detail)
	}
	expectProblem(t, off.post("/v1/cadences", key, sequencer.Spec{}), http.StatusServiceUnavailable, "sequencer_disabled")
	expectProblem(t, off.post("/v1/tasks/1/complete", key, nil), http.StatusServiceUnavailable, "sequencer_disabled")
	expectProblem(t, off.do("GET", "/u/u1-abc", "", "", nil), http.StatusNotFound, "not_found")
	expectProblem(t, off.post("/u/u1-abc", "", nil), http.StatusNotFound, "not_found")
}

func TestCadenceCreateAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key, other := e.key("cad-a"), e.key("cad-b")
	m := e.createMailbox(key, e.senderMailbox())
	om := e.createMailbox(other, e.senderMailbox())

	long := "Hi {{first_name}}, " + strings.Repeat("we help teams like yours hire faster. ", 20)
	c := e.createCadence(key, sequencer.Spec{Name: "Loud", MailboxIDs: []int64{m.ID}, Window: sendertest.AllDay(), Steps: []sequencer.Step{
		emailStep("0", "QUICK QUESTION ABOUT HIRING", long),
		emailStep("2d", "Idea for {{company|you}}", "{{first_name}}, a short note."),
	}})
	if c.Cadence.ID == 0 || c.Cadence.Status != "draft" || c.Cadence.Name != "Loud" || len(c.Cadence.MailboxIDs) != 1 {
		t.Fatalf("cadence %+v", c.Cadence)
	}
	codes := map[string]int{}
	for _, w := range c.Warnings {
		codes[w.Code] = w.Step
		if w.Message == "" {
			t.Errorf("warning without a message: %+v", w)
		}
	}
	if codes["body_too_long"] != 1 || codes["subject_all_caps"] != 1 || len(codes) != 2 {
		t.Fatalf("warnings %+v", c.Warnings)
	}
	got := unmarshal[store.Cadence](t, expectStatus(t, e.do("GET", fmt.Sprintf("/v1/cadences/%d", c.Cadence.ID), key, "", nil), http.StatusOK))
	if got.ID != c.Cadence.ID || got.Status != "draft" || !bytes.Contains(got.Steps, []byte("QUICK QUESTION")) {
		t.Fatalf("get cadence %+v", got)
	}
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/cadences/%d", c.Cadence.ID), other, "", nil), http.StatusNotFound, "not_found")

	// A clean cadence has an empty list of warnings, not null.
	resp := e.post("/v1/cadences", key, sequencer.Spec{Name: "Clean", MailboxIDs: []int64{m.ID}, Steps: twoEmails()})
	if raw := expectStatus(t, resp, http.StatusCreated); !bytes.Contains(raw, []byte(`"warnings":[]`)) {
		t.Fatalf("clean cadence: %s", raw)
	}

	// A mistyped field: named, placed, and the right one suggested.
	p := expectProblem(t, e.post("/v1/cadences", key, sequencer.Spec{Name: "Typo", MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{emailStep("0", "Hello", "Hi {{frist_name}}, quick one.")}}), http.StatusUnprocessableEntity, "invalid_cadence")
	for _, want := range []string{"steps[0].body", `"frist_name"`, "1:4", "did you mean first_name?"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("typo detail %q lacks %q", p.Detail, want)
		}
	}

	ok := func() sequencer.Spec {
		return sequencer.Spec{Name: "x", MailboxIDs: []int64{m.ID}, Steps: []sequencer.Step{emailStep("0", "Hi {{first_name}}", "Hello {{first_name}}.")}}
	}
	many := make([]sequencer.Step, 21)
	for i := range many {
		many[i] = emailStep("1d", "Hi {{first_name}}", "Note {{first_name}}.")
	}
	for _, tc := range []struct {
		name  string
		tweak func(*sequencer.Spec)
		want  []string
	}{
		{"no steps", func(s *sequencer.Spec) { s.Steps = nil }, []string{"steps: ", "got 0"}},
		{"21 steps", func(s *sequencer.Spec) { s.Steps = many }, []string{"steps: ", "1 to 20", "got 21"}},
		{"bad delay", func(s *sequencer.Spec) { s.Steps[0].Delay = "2x" }, []string{"steps[0].delay", `"2x"`}},
		{"bad channel", func(s *sequencer.Spec) { s.Steps[0].Channel = "fax" }, []string{"steps[0].channel", `"fax"`}},
		{"bad timezone", func(s *sequencer.Spec) { s.Window.Timezone = "Mars/Olympus_Mons" }, []string{"window.timezone"}},
		{"thread on first email", func(s *sequencer.Spec) { s.Steps[0].Thread = true }, []string{"steps[0].thread"}},
		{"second step bad", func(s *sequencer.Spec) {
			s.Steps = append(s.Steps, sequencer.Step{Channel: "call", Delay: "1d", Subject: "x"})
		}, []string{"steps[1]: "}},
		{"no mailbox", func(s *sequencer.Spec) { s.MailboxIDs = nil }, []string{"mailbox_ids"}},
		{"two problems", func(s *sequencer.Spec) { s.Name = ""; s.Steps[0].Delay = "-1d" }, []string{"name: required", "; steps[0].delay"}},
	} {
		spec := ok()
		tc.tweak(&spec)
		p := expectProblem(t, e.post("/v1/cadences", key, spec), http.StatusUnprocessableEntity, "invalid_cadence")
		for _, want := range tc.want {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("%s: detail %q lacks %q", tc.name, p.Detail, want)
			}
		}
	}

	expectProblem(t, e.post("/v1/cadences", key, `{"name":"x","mailbox_ids":[1],"steps":[],"sendwindow":{}}`), http.StatusBadRequest, "bad_json")
	expectProblem(t, e.post("/v1/cadences", key, `{"name":"x","steps":[{"channel":"email","delay":"0","subjet":"Hi"}]}`), http.StatusBadRequest, "bad_json")
	expectProblem(t, e.post("/v1/cadences", key, `[]`), http.StatusBadRequest, "bad_json")

	// Another workspace's mailbox, alone or with one's own.
	spec := ok()
	spec.MailboxIDs = []int64{om.ID}
	expectProblem(t, e.post("/v1/cadences", key, spec), http.StatusNotFound, "not_found")
	spec.MailboxIDs = []int64{m.ID, om.ID}
	p = expectProblem(t, e.post("/v1/cadences", key, spec), http.StatusNotFound, "not_found")
	// The 404 names the missing resource, not the route's.
	if want := fmt.Sprintf("mailbox %d not found", om.ID); p.Title != "Mailbox not found" || !strings.Contains(p.Detail, want) {
		t.Errorf("missing mailbox: title %q detail %q, want \"Mailbox not found\" and %q", p.Title, p.Detail, want)
	}
	expectProblem(t, e.do("GET", "/v1/cadences/abc", key, "", nil), http.StatusBadRequest, "bad_id")
}

func TestLaunchPreflightAndTransitions(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key, other := e.key("launch-a"), e.key("launch-b")
	bare := e.createMailbox(key, map[string]any{"from_address": "rep@bare.test", "smtp_host": "127.0.0.1", "min_spacing_seconds": 0})
	c := e.createCadence(key, sequencer.Spec{Name: "bare", MailboxIDs: []int64{bare.ID}, Window: sendertest.AllDay(), Steps: twoEmails()}).Cadence
	path := func(action string) string { return fmt.Sprintf("/v1/cadences/%d/%s", c.ID, action) }

	for _, body := range []any{nil, `{"force":false}`} {
		resp := e.post(path("launch"), key, body)
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("preflight content type %q", ct)
		}
		pf := unmarshal[preflightProblem](t, expectStatus(t, resp, http.StatusUnprocessableEntity))
		if pf.Code != "preflight_failed" || pf.Status != 422 || !strings.Contains(pf.Detail, `{"force": true}`) {
			t.Fatalf("preflight problem %+v", pf.Problem)
		}
		checks := map[string]bool{}
		for _, f := range pf.Failures {
			checks[f.Check] = true
			if f.Detail == "" || f.Fix == "" || f.Domain != "bare.test" || f.Mailbox != "rep@bare.test" {
				t.Errorf("failure %+v", f)
			}
		}
		if !checks["spf"] || !checks["dmarc"] {
			t.Fatalf("failures %+v, want spf and dmarc", pf.Failures)
		}
	}
	if got := unmarshal[store.Cadence](t, expectStatus(t, e.do("GET", fmt.Sprintf("/v1/cadences/%d", c.ID), key, "", nil), http.StatusOK)); got.Status != "draft" || got.LaunchedAt != nil {
		t.Fatalf("refused launch changed the cadence: %+v", got)
	}
	expectProblem(t, e.post(path("launch"), key, `{"forse":true}`), http.StatusBadRequest, "bad_json")
	// Another workspace can neither launch it nor move it.
	for _, a := range []string{"launch", "pause", "resume", "archive"} {
		expectProblem(t, e.post(path(a), other, `{"force":true}`), http.StatusNotFound, "not_found")
	}
	expectProblem(t, e.post("/v1/cadences/999999/launch", key, `{"force":true}`), http.StatusNotFound, "not_found")

	launched := e.cadenceAction(key, c.ID, "launch", `{"force": true}`)
	if launched.Status != "active" || launched.LaunchedAt == nil {
		t.Fatalf("forced launch %+v", launched)
	}
	expectProblem(t, e.post(path("launch"), key, `{"force":true}`), http.StatusConflict, "conflict")
	p := expectProblem(t, e.post(path("resume"), key, nil), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "active") {
		t.Errorf("conflict detail %q does not say the state", p.Detail)
	}
	if s := e.cadenceAction(key, c.ID, "pause", nil).Status; s != "paused" {
		t.Fatalf("pause: %s", s)
	}
	expectProblem(t, e.post(path("pause"), key, nil), http.StatusConflict, "conflict")
	if s := e.cadenceAction(key, c.ID, "resume", nil); s.Status != "active" || !s.LaunchedAt.Equal(*launched.LaunchedAt) {
		t.Fatalf("resume: %+v", s)
	}
	if s := e.cadenceAction(key, c.ID, "archive", nil).Status; s != "archived" {
		t.Fatalf("archive: %s", s)
	}
	for _, a := range []string{"pause", "resume", "archive", "launch"} {
		expectProblem(t, e.post(path(a), key, `{"force":true}`), http.StatusConflict, "conflict")
	}
	expectProblem(t, e.post(path("enrollments"), key, map[string]any{"leads": []map[string]string{{"email": "lead1@prospect.test"}}}),
		http.StatusConflict, "conflict")

	// A draft can be archived; a domain that passes launches without force.
	good := e.createMailbox(key, e.senderMailbox())
	g := e.createCadence(key, sequencer.Spec{Name: "good", MailboxIDs: []int64{good.ID}, Window: sendertest.AllDay(), Steps: twoEmails()}).Cadence
	if s := e.cadenceAction(key, g.ID, "launch", nil).Status; s != "active" {
		t.Fatalf("launch of a passing domain: %s", s)
	}
	d := e.createCadence(key, sequencer.Spec{Name: "draft", MailboxIDs: []int64{good.ID}, Steps: twoEmails()}).Cadence
	expectProblem(t, e.post(fmt.Sprintf("/v1/cadences/%d/pause", d.ID), key, nil), http.StatusConflict, "conflict")
	if s := e.cadenceAction(key, d.ID, "archive", nil).Status; s != "archived" {
		t.Fatalf("archive draft: %s", s)
	}
}

func TestEnrollmentsAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key, other := e.key("enr-a"), e.key("enr-b")
	ws, ows := workspaceID(t, e.env, key), workspaceID(t, e.env, other)
	c := e.activeCadence(key, twoEmails()...)

	existing := e.lead(ws, store.LeadInput{Email: "lead3@prospect.test", FirstName: "Lee", Company: "Initech"})
	foreign := e.lead(ows, store.LeadInput{Email: "lead6@prospect.test", FirstName: "Other"})
	bad := e.lead(ws, store.LeadInput{Email: "lead5@prospect.test", FirstName: "Bounce"})
	if err := e.st.SetLeadVerification(ctx, ws, bad.ID, "undeliverable", "mailbox_not_found", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Suppress(ctx, ws, "lead4@prospect.test", "unsubscribed"); err != nil {
		t.Fatal(err)
	}

	out := e.enroll(key, c.ID, map[string]any{
		"start": "now",
		"leads": []map[string]any{
			{"email": "Lead1@Prospect.test", "first_name": "Jo", "company": "Acme", "custom": map[string]string{"plan": "pro"}},
			{"email": "lead2@prospect.test", "first_name": "Sam"},
			{"email": "lead4@prospect.test", "first_name": "Sup"},
			{"email": "not an address", "first_name": "Bad"},
		},
		"lead_ids": []int64{existing.ID, foreign.ID, bad.ID, 987654},
	})
	if len(out) != 8 {
		t.Fatalf("%d outcomes for 8 leads: %+v", len(out), out)
	}
	lead1 := outcomeOf(t, out, byEmail("Lead1@prospect.test"))
	lead2 := outcomeOf(t, out, byEmail("lead2@prospect.test"))
	lead3 := outcomeOf(t, out, byLeadID(existing.ID))
	for _, o := range []sequencer.EnrollOutcome{lead1, lead2, lead3} {
		if o.Outcome != "enrolled" || o.Reason != "" || o.EnrollmentID == 0 || o.LeadID == 0 {
			t.Errorf("outcome %+v, want enrolled", o)
		}
	}
	for _, tc := range []struct {
		o      sequencer.EnrollOutcome
		reason string
	}{
		{outcomeOf(t, out, byEmail("lead4@prospect.test")), "suppressed"},
		{outcomeOf(t, out, byLeadID(bad.ID)), "undeliverable"},
		{outcomeOf(t, out, byLeadID(foreign.ID)), "not_found"},
		{outcomeOf(t, out, byLeadID(987654)), "not_found"},
		{outcomeOf(t, out, byEmail("not an address")), "undeliverable"},
	} {
		if tc.o.Outcome != "skipped" || tc.o.Reason != tc.reason || tc.o.EnrollmentID != 0 {
			t.Errorf("outcome %+v, want skipped/%s", tc.o, tc.reason)
		}
	}
	// The given leads were created in the workspace, with their fields.
	l1, err := e.st.GetLead(ctx, ws, lead1.LeadID)
	if err != nil || l1.FirstName != "Jo" || l1.Company != "Acme" || l1.Custom["plan"] != "pro" {
		t.Fatalf("created lead %+v %v", l1, err)
	}

	// Again: already enrolled, the existing enrollment untouched.
	again := e.enroll(key, c.ID, map[string]any{"leads": []map[string]string{{"email": "lead1@prospect.test"}}, "lead_ids": []int64{existing.ID}})
	if len(again) != 2 || again[0].Outcome != "skipped" || again[0].Reason != "already_enrolled" || again[0].LeadID != lead1.LeadID ||
		again[1].Reason != "already_enrolled" {
		t.Fatalf("re-enrollment %+v", again)
	}
	path := fmt.Sprintf("/v1/cadences/%d/enrollments", c.ID)
	for _, body := range []string{`{}`, `{"lead_ids":[]}`, `{"lead_ids":[1],"start":"tomorrow"}`} {
		expectProblem(t, e.post(path, key, body), http.StatusUnprocessableEntity, "invalid")
	}
	expectProblem(t, e.post(path, key, `{"lead_ids":[1],"begin":"now"}`), http.StatusBadRequest, "bad_json")
	expectProblem(t, e.post(path, key, `{"lead_ids":["x"]}`), http.StatusBadRequest, "bad_json")
	expectProblem(t, e.post("/v1/cadences/999999/enrollments", key, `{"lead_ids":[1]}`), http.StatusNotFound, "not_found")

	// The first email goes out at once; the enrollment shows its touches.
	eventually(t, "first emails delivered", func() bool {
		return len(e.messagesTo("lead1@prospect.test")) == 1 && len(e.messagesTo("lead2@prospect.test")) == 1 &&
			len(e.messagesTo("lead3@prospect.test")) == 1
	})
	// Wait for each send to be recorded too, not to race the worker.
	for _, o := range []sequencer.EnrollOutcome{lead2, lead3} {
		eventually(t, "step 1 recorded as sent", func() bool {
			en := e.enrollment(key, o.EnrollmentID)
			return len(en.Touches) == 2 && en.Touches[0].Status == "sent"
		})
	}
	var en store.Enrollment
	eventually(t, "step 1 recorded as sent", func() bool {
		en = e.enrollment(key, lead1.EnrollmentID)
		return len(en.Touches) == 2 && en.Touches[0].Status == "sent"
	})
	if en.ID != lead1.EnrollmentID || en.CadenceID != c.ID || en.LeadID != lead1.LeadID || en.State != "active" || en.NextStep != 2 ||
		en.Touches[0].Step != 1 || en.Touches[0].Channel != "email" || en.Touches[0].SentAt == nil || en.Touches[0].MessageID == "" ||
		en.Touches[1].Step != 2 || en.Touches[1].Status != "scheduled" || !en.Touches[1].DueAt.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("enrollment %+v", en)
	}
	for _, addr := range []string{"lead4@prospect.test", "lead5@prospect.test", "lead6@prospect.test"} {
		if n := len(e.messagesTo(addr)); n != 0 {
			t.Errorf("%s got %d emails", addr, n)
		}
	}

	// Per-enrollment transitions, and 409 for the impossible ones.
	act := func(id int64, action string) *http.Response {
		return e.post(fmt.Sprintf("/v1/enrollments/%d/%s", id, action), key, nil)
	}
	state := func(id int64, action string) store.Enrollment {
		t.Helper()
		return unmarshal[store.Enrollment](t, expectStatus(t, act(id, action), http.StatusOK))
	}
	id := lead2.EnrollmentID
	expectProblem(t, act(id, "resume"), http.StatusConflict, "conflict")
	if s := state(id, "pause"); s.State != "paused" || s.StateReason != "by request" {
		t.Fatalf("pause %+v", s)
	}
	expectProblem(t, act(id, "pause"), http.StatusConflict, "conflict")
	if s := state(id, "resume"); s.State != "active" || s.NextStep != 2 {
		t.Fatalf("resume %+v", s)
	}
	if s := state(id, "stop"); s.State != "stopped" {
		t.Fatalf("stop %+v", s)
	}
	for _, a := range []string{"pause", "resume", "stop"} {
		p := expectProblem(t, act(id, a), http.StatusConflict, "conflict")
		if !strings.Contains(p.Detail, "stopped") {
			t.Errorf("%s of a stopped enrollment: %q", a, p.Detail)
		}
	}
	// A paused enrollment can be stopped.
	state(lead3.EnrollmentID, "pause")
	if s := state(lead3.EnrollmentID, "stop"); s.State != "stopped" {
		t.Fatalf("stop paused %+v", s)
	}
	expectProblem(t, e.post("/v1/enrollments/999999/pause", key, nil), http.StatusNotFound, "not_found")
	expectProblem(t, e.do("GET", "/v1/enrollments/999999", key, "", nil), http.StatusNotFound, "not_found")
	expectProblem(t, e.do("GET", "/v1/enrollments/x", key, "", nil), http.StatusBadRequest, "bad_id")

	// Tenancy: another workspace sees and moves none of it.
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/cadences/%d", c.ID), other, "", nil), http.StatusNotFound, "not_found")
	expectProblem(t, e.post(path, other, map[string]any{"lead_ids": []int64{foreign.ID}}), http.StatusNotFound, "not_found")
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/cadences/%d/schedule", c.ID), other, "", nil), http.StatusNotFound, "not_found")
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/enrollments/%d", lead1.EnrollmentID), other, "", nil), http.StatusNotFound, "not_found")
	for _, a := range []string{"pause", "resume", "stop"} {
		expectProblem(t, e.post(fmt.Sprintf("/v1/enrollments/%d/%s", lead1.EnrollmentID, a), other, nil), http.StatusNotFound, "not_found")
	}
	if s := e.enrollment(key, lead1.EnrollmentID); s.State != "active" {
		t.Fatalf("enrollment moved by another workspace: %+v", s)
	}
}

func TestTasksAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key, other := e.key("task-a"), e.key("task-b")
	c := e.activeCadence(key,
		sequencer.Step{Channel: "call", Title: "Call {{first_name}}"},
		emailStep("0", "After our call, {{first_name}}", "Thanks for the time, {{first_name}}."),
	)
	out := e.enroll(key, c.ID, map[string]any{"start": "now", "leads": []map[string]string{{"email": "lead7@prospect.test", "first_name": "Kim"}}})
	if len(out) != 1 || out[0].Outcome != "enrolled" {
		t.Fatalf("enroll %+v", out)
	}
	var tasks []store.Task
	eventually(t, "the call task appears", func() bool {
		tasks = e.tasks(key)
		return len(tasks) > 0
	})
	tk := tasks[0]
	if len(tasks) != 1 || tk.EnrollmentID != out[0].EnrollmentID || tk.Step != 1 || tk.Channel != "call" || tk.Status != "open" ||
		tk.LeadEmail != "lead7@prospect.test" || tk.LeadID != out[0].LeadID || !strings.HasPrefix(tk.Title, "Call ") {
		t.Fatalf("tasks %+v", tasks)
	}
	if got := e.tasks(other); len(got) != 0 {
		t.Fatalf("another workspace sees tasks %+v", got)
	}
	if en := e.enrollment(key, tk.EnrollmentID); en.Touches[0].Status != "task_open" || en.NextStep != 1 {
		t.Fatalf("enrollment while the task is open %+v", en)
	}
	// No email before the task is done.
	if n := len(e.messagesTo("lead7@prospect.test")); n != 0 {
		t.Fatalf("%d emails before the call", n)
	}
	expectProblem(t, e.do("GET", "/v1/tasks?due_before=soon", key, "", nil), http.StatusBadRequest, "bad_due_before")
	if got := unmarshal[struct {
		Tasks []store.Task `json:"tasks"`
	}](t, expectStatus(t, e.do("GET", "/v1/tasks?due_before=2000-01-01T00:00:00Z", key, "", nil), http.StatusOK)).Tasks; len(got) != 0 {
		t.Fatalf("tasks due before 2000: %+v", got)
	}

	complete := func(k string, body any) *http.Response {
		return e.post(fmt.Sprintf("/v1/tasks/%d/complete", tk.ID), k, body)
	}
	expectProblem(t, complete(other, `{"outcome":"connected"}`), http.StatusNotFound, "not_found")
	expectProblem(t, complete(key, `{"result":"connected"}`), http.StatusBadRequest, "bad_json")
	done := unmarshal[store.Task](t, expectStatus(t, complete(key, `{"outcome":"connected"}`), http.StatusOK))
	if done.ID != tk.ID || done.Status != "done" || done.Outcome != "connected" || done.CompletedAt == nil {
		t.Fatalf("completed task %+v", done)
	}
	p := expectProblem(t, complete(key, `{"outcome":"connected"}`), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "done") {
		t.Errorf("second completion detail %q", p.Detail)
	}
	expectProblem(t, e.post("/v1/tasks/999999/complete", key, nil), http.StatusNotFound, "not_found")
	if got := e.tasks(key); len(got) != 0 {
		t.Fatalf("open tasks after completion %+v", got)
	}

	// The cadence moves on: the email is scheduled, then delivered.
	en := e.enrollment(key, tk.EnrollmentID)
	if en.NextStep != 2 || len(en.Touches) != 2 || en.Touches[0].Status != "task_done" || en.Touches[0].Outcome != "connected" {
		t.Fatalf("enrollment after the task %+v", en)
	}
	eventually(t, "the email after the call is delivered", func() bool { return len(e.messagesTo("lead7@prospect.test")) == 1 })
	pm, err := mail.ReadMessage(bytes.NewReader(e.messagesTo("lead7@prospect.test")[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if subj := pm.Header.Get("Subject"); subj != "After our call, Kim" {
		t.Fatalf("subject %q", subj)
	}
	eventually(t, "the enrollment finishes", func() bool {
		en = e.enrollment(key, tk.EnrollmentID)
		return en.State == "finished"
	})
	if en.Touches[1].Status != "sent" || en.Touches[1].SentAt == nil {
		t.Fatalf("finished enrollment %+v", en)
	}
}

func TestUnsubscribeAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key := e.key("unsub")
	ws := workspaceID(t, e.env, key)
	c := e.activeCadence(key, twoEmails()...)
	// A draft sends nothing: the lead's second enrollment only waits.
	c2 := e.createCadence(key, sequencer.Spec{Name: "draft", Steps: twoEmails(), Window: sendertest.AllDay(), MailboxIDs: c.MailboxIDs}).Cadence
	const rcpt = "lead9@prospect.test"
	out := e.enroll(key, c.ID, map[string]any{"start": "now", "leads": []map[string]string{{"email": rcpt, "first_name": "Uma"}}})
	if len(out) != 1 || out[0].Outcome != "enrolled" {
		t.Fatalf("enroll %+v", out)
	}
	eventually(t, "the first email is delivered and recorded", func() bool {
		en := e.enrollment(key, out[0].EnrollmentID)
		return len(e.messagesTo(rcpt)) == 1 && len(en.Touches) == 2 && en.Touches[0].Status == "sent"
	})
	pm, err := mail.ReadMessage(bytes.NewReader(e.messagesTo(rcpt)[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if pm.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post %q", pm.Header.Get("List-Unsubscribe-Post"))
	}
	var unsubPath string
	for _, part := range strings.Split(pm.Header.Get("List-Unsubscribe"), ",") {
		part = strings.Trim(strings.TrimSpace(part), "<>")
		if u, err := url.Parse(part); err == nil && u.Scheme == "https" {
			unsubPath = u.Path
		}
	}
	if !strings.HasPrefix(unsubPath, "/u/u1-") {
		t.Fatalf("List-Unsubscribe %q", pm.Header.Get("List-Unsubscribe"))
	}
	tok := strings.TrimPrefix(unsubPath, "/u/")
	// The same lead in a second cadence, paused: stopped too.
	out2 := e.enroll(key, c2.ID, map[string]any{"lead_ids": []int64{out[0].LeadID}})
	if len(out2) != 1 || out2[0].Outcome != "enrolled" {
		t.Fatalf("second enrollment %+v", out2)
	}
	expectStatus(t, e.post(fmt.Sprintf("/v1/enrollments/%d/pause", out2[0].EnrollmentID), key, nil), http.StatusOK)

	suppressed := func() bool {
		ok, err := e.st.IsSuppressed(ctx, ws, rcpt)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	// Tampered tokens are unknown links, whatever the method.
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, bad := range []string{flip(tok, len(tok)-1), flip(tok, len("u1-")), "u2-" + tok[3:], tok + "a", "u1-", strings.ToUpper(tok)} {
		expectProblem(t, e.do("GET", "/u/"+bad, "", "", nil), http.StatusNotFound, "not_found")
		expectProblem(t, e.do("POST", "/u/"+bad, "", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")),
			http.StatusNotFound, "not_found")
	}

	// GET (what link scanners do) only asks.
	for range 2 {
		resp := e.do("GET", unsubPath, "", "", nil)
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("GET content type %q", ct)
		}
		page := string(expectStatus(t, resp, http.StatusOK))
		if !strings.Contains(page, `<form method="post">`) || !strings.Contains(page, "Unsubscribe?") {
			t.Fatalf("confirmation page:\n%s", page)
		}
	}
	if suppressed() {
		t.Fatal("a GET of the unsubscribe link suppressed the lead")
	}
	if en := e.enrollment(key, out[0].EnrollmentID); en.State != "active" {
		t.Fatalf("a GET of the unsubscribe link moved the enrollment: %+v", en)
	}

	// POST (RFC 8058 one-click, or the form) does it, without an API key,
	// and again is harmless.
	for range 2 {
		resp := e.do("POST", unsubPath, "", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("POST content type %q", ct)
		}
		if page := string(expectStatus(t, resp, http.StatusOK)); !strings.Contains(page, "You are unsubscribed") || strings.Contains(page, "<form") {
			t.Fatalf("done page:\n%s", page)
		}
	}
	if !suppressed() {
		t.Fatal("not suppressed after the one-click POST")
	}
	for _, id := range []int64{out[0].EnrollmentID, out2[0].EnrollmentID} {
		if en := e.enrollment(key, id); en.State != "stopped" || en.StateReason != "unsubscribed" {
			t.Fatalf("enrollment %d after unsubscribe: %+v", id, en)
		}
	}
	// And the lead cannot be enrolled again.
	again := e.enroll(key, c2.ID, map[string]any{"leads": []map[string]string{{"email": rcpt}}})
	if len(again) != 1 || again[0].Outcome != "skipped" {
		t.Fatalf("re-enrollment after unsubscribe %+v", again)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.messagesTo(rcpt)); n != 1 {
		t.Fatalf("%d emails to an unsubscribed lead, want the first only", n)
	}
}

func TestCadenceScheduleAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key, other := e.key("sched-a"), e.key("sched-b")
	m := e.createMailbox(key, e.senderMailbox())
	c := e.createCadence(key, sequencer.Spec{Name: "sched", MailboxIDs: []int64{m.ID},
		Window: sequencer.WindowSpec{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00", Timezone: "UTC"},
		Steps: []sequencer.Step{
			emailStep("0", "Hi {{first_name}}", "Hello {{first_name}}."),
			{Channel: "email", Delay: "2d", Thread: true, Body: "Following up, {{first_name}}."},
			{Channel: "call", Delay: "4h", Title: "Call {{first_name}}"},
			emailStep("1d", "Idea for {{company|you}}", "{{first_name}}, one idea."),
		}}).Cadence
	path := fmt.Sprintf("/v1/cadences/%d/schedule", c.ID)

	type schedule struct {
		Steps []sequencer.ScheduledStep `json:"steps"`
	}
	s := unmarshal[schedule](t, expectStatus(t, e.do("GET", path+"?start=2026-11-23T08:00:00Z", key, "", nil), http.StatusOK)).Steps
	if len(s) != 4 {
		t.Fatalf("schedule %+v", s)
	}
	start := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) // a Monday, before the window opens
	prev := start
	for i, st := range s {
		if st.Step != i+1 || st.Local == "" || !st.Due.After(prev) {
			t.Fatalf("step %d: %+v (previous due %s)", i+1, st, prev)
		}
		if h := st.Due.UTC().Hour(); h < 9 || h >= 17 || st.Due.Weekday() == time.Saturday || st.Due.Weekday() == time.Sunday {
			t.Errorf("step %d due outside the window: %s", i+1, st.Due)
		}
		prev = st.Due
	}
	if s[0].Channel != "email" || s[2].Channel != "call" || !s[0].Due.Equal(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("schedule %+v", s)
	}

	// Without start: from now.
	if now := unmarshal[schedule](t, expectStatus(t, e.do("GET", path, key, "", nil), http.StatusOK)).Steps; len(now) != 4 ||
		now[0].Due.Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("schedule from now %+v", now)
	}
	for _, bad := range []string{"tomorrow", "2026-11-23", "2026-11-23T08:00:00"} {
		p := expectProblem(t, e.do("GET", path+"?start="+url.QueryEscape(bad), key, "", nil), http.StatusBadRequest, "bad_start")
		if !strings.Contains(p.Detail, "RFC 3339") {
			t.Errorf("bad_start detail %q", p.Detail)
		}
	}
	expectProblem(t, e.do("GET", path+"?lead_id=x", key, "", nil), http.StatusBadRequest, "bad_id")
	expectProblem(t, e.do("GET", path+"?lead_id=999999", key, "", nil), http.StatusNotFound, "not_found")
	expectProblem(t, e.do("GET", path, other, "", nil), http.StatusNotFound, "not_found")
	expectProblem(t, e.do("GET", "/v1/cadences/999999/schedule", key, "", nil), http.StatusNotFound, "not_found")

	// A lead's own time zone moves the steps to its working hours.
	l := e.lead(workspaceID(t, e.env, key), store.LeadInput{Email: "lead1@prospect.test", Timezone: "America/New_York"})
	ny := unmarshal[schedule](t, expectStatus(t, e.do("GET", fmt.Sprintf("%s?start=2026-11-23T08:00:00Z&lead_id=%d", path, l.ID), key, "", nil),
		http.StatusOK)).Steps
	if len(ny) != 4 || !ny[0].Due.Equal(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)) || !strings.Contains(ny[0].Local, "09:00 EST") {
		t.Fatalf("New York schedule %+v", ny)
	}
}

func TestDispositionAndMailboxResumeAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key := e.key("disp")
	ws := workspaceID(t, e.env, key)
	l := e.lead(ws, store.LeadInput{Email: "lead7@prospect.test", FirstName: "G"})
	path := fmt.Sprintf("/v1/leads/%d/disposition", l.ID)
	expectProblem(t, e.post(path, key, map[string]string{"disposition": "convert"}), 422, "invalid")
	expectProblem(t, e.post(path, key, map[string]string{"disposition": "promote", "reason": "x"}), 422, "invalid")
	expectProblem(t, e.post(path, e.key("other"), map[string]string{"disposition": "convert", "reason": "x"}), 404, "not_found")
	got := unmarshal[store.Lead](t, expectStatus(t, e.post(path, key, map[string]string{"disposition": "convert", "reason": "meeting booked"}), 200))
	if got.Stage != "opportunity" {
		t.Fatalf("stage %s", got.Stage)
	}
	stages, err := e.st.LeadStages(context.Background(), ws, l.ID)
	if err != nil || len(stages) != 1 || stages[0]["to"] != "opportunity" || stages[0]["reason"] != "convert: meeting booked" {
		t.Fatalf("stage history %v %v", stages, err)
	}
	m := e.createMailbox(key, e.senderMailbox())
	resp := e.post(fmt.Sprintf("/v1/mailboxes/%d/resume", m.ID), key, nil)
	if mb := unmarshal[store.Mailbox](t, expectStatus(t, resp, 200)); mb.PausedReason != "" {
		t.Fatalf("mailbox %+v", mb)
	}
	expectProblem(t, e.post("/v1/mailboxes/999999/resume", key, nil), 404, "not_found")
}

func TestStatsAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key := e.key("stats")
	resp := e.do("GET", "/v1/stats?from=2026-11-01&to=2026-11-08", key, "", nil)
	body := expectStatus(t, resp, 200)
	got := unmarshal[struct {
		Periods []store.PeriodStats `json:"periods"`
		Steps   []store.StepStats   `json:"steps"`
	}](t, body)
	if len(got.Periods) != 8 || got.Steps == nil {
		t.Fatalf("stats %s", body)
	}
	expectProblem(t, e.do("GET", "/v1/stats?from=yesterday", key, "", nil), 400, "bad_from")
	expectProblem(t, e.do("GET", "/v1/stats?interval=week", key, "", nil), 400, "bad_interval")
	expectProblem(t, e.do("GET", "/v1/stats?from=2026-11-08&to=2026-11-01", key, "", nil), 400, "bad_range")
	expectProblem(t, e.do("GET", "/v1/stats?cadence_id=x", key, "", nil), 400, "bad_id")
}

// TestListCompletedWebhook: the transaction that finishes a list fires
// list.completed, once.
func TestListCompletedWebhook(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	key := e.key("lc")
	got := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Get("Touchline-Event") + " " + string(b)
	}))
	defer hook.Close()
	resp := e.post("/v1/webhooks", key, map[string]any{"url": hook.URL, "events": []string{"list.completed"}})
	expectStatus(t, resp, 201)
	var sb strings.Builder
	sb.WriteString("email\n")
	for i := range 40 {
		fmt.Fprintf(&sb, "lead%d@prospect.test\n", i)
	}
	l := e.upload(key, "hooked", sb.String())
	select {
	case d := <-got:
		if !strings.HasPrefix(d, "list.completed ") || !strings.Contains(d, fmt.Sprintf(`"list_id": %d`, l.ID)) {
			t.Fatalf("delivery %q", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no list.completed delivery")
	}
	select {
	case d := <-got:
		t.Fatalf("a second delivery: %q", d)
	case <-time.After(500 * time.Millisecond):
	}
	// The same event in GET /v1/events, with the delivery's event_id.
	evs := unmarshal[struct{ Events []store.Event }](t, expectStatus(t, e.do("GET", "/v1/events?type=list.completed", key, "", nil), 200)).Events
	if len(evs) != 1 || evs[0].Type != "list.completed" || !strings.HasPrefix(evs[0].EventID, "evt_") ||
		!strings.Contains(string(evs[0].Payload), fmt.Sprintf(`"list_id":%d`, l.ID)) {
		t.Fatalf("events %+v", evs)
	}
	if after := unmarshal[struct{ Events []store.Event }](t, expectStatus(t, e.do("GET", fmt.Sprintf("/v1/events?after=%d", evs[0].ID), key, "", nil), 200)); len(after.Events) != 0 {
		t.Fatalf("events after the last one: %+v", after.Events)
	}
	if other := unmarshal[struct{ Events []store.Event }](t, expectStatus(t, e.do("GET", "/v1/events", e.key("other"), "", nil), 200)); len(other.Events) != 0 {
		t.Fatalf("another workspace sees %+v", other.Events)
	}
	expectProblem(t, e.do("GET", "/v1/events?type=lead.exploded", key, "", nil), 400, "bad_type")
	expectProblem(t, e.do("GET", "/v1/events?after=-1", key, "", nil), 400, "bad_after")
	expectProblem(t, e.do("GET", "/v1/events?limit=5000", key, "", nil), 400, "bad_limit")
}

// GET /v1/inbound/{id}/raw serves the message as received until its
// retention passes, then answers 410 while the classification stays.
func TestInboundRawAndRetention(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key := e.key("raw")
	ws := workspaceID(t, e.env, key)
	raw := []byte("From: Lee <lead1@prospect.test>\r\nSubject: Re: hi\r\nMessage-ID: <r1@prospect.test>\r\n\r\nYes, let's talk.\r\n")
	var id int64
	if err := e.st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, _, err = e.st.InsertInbound(ctx, tx, store.InboundRecord{Workspace: &ws, Source: "smtp", EnvelopeTo: []string{}, MessageID: "<r1@prospect.test>",
			Raw: raw, Class: "human_reply", Rule: "human", Detail: map[string]any{}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/v1/inbound/%d/raw", id)
	resp := e.do("GET", path, key, "", nil)
	if got := expectStatus(t, resp, 200); !bytes.Equal(got, raw) || resp.Header.Get("Content-Type") != "message/rfc822" || resp.Header.Get("X-Touchline-Truncated") != "false" {
		t.Fatalf("raw: %q %v", got, resp.Header)
	}
	expectProblem(t, e.do("GET", path, e.key("other"), "", nil), 404, "not_found")

	w := &sequencer.PruneInboundWorker{Store: e.st, Retention: 90 * 24 * time.Hour}
	if err := w.Work(ctx, nil); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, e.do("GET", path, key, "", nil), 200) // young: kept
	w.Now = func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }
	if err := w.Work(ctx, nil); err != nil {
		t.Fatal(err)
	}
	expectProblem(t, e.do("GET", path, key, "", nil), 410, "raw_pruned")
	msgs, err := e.st.ListInbound(ctx, ws, "", 0, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Class != "human_reply" || msgs[0].Rule != "human" {
		t.Fatalf("classification lost with the raw bytes: %+v %v", msgs, err)
	}
}
