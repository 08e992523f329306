package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

// newDB returns a store on a fresh database at the current schema.
func newDB(t *testing.T) *store.Store { return newDBTB(t) }

func newDBTB(t testing.TB) *store.Store {
	t.Helper()
	url := storetest.URL(t)
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

type env struct {
	t     *testing.T
	st    *store.Store
	world *mailsim.World
	srv   *httptest.Server
	cfg   server.Config
}

// newEnv starts a world, a database, River workers and the API.
func newEnv(t *testing.T, tweak func(*server.Config)) *env {
	t.Helper()
	st := newDB(t)
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.AddHost(mailsim.Host{Name: "mx.acme.test", StartTLS: true})
	w.AddDomain(mailsim.Domain{Name: "acme.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.acme.test"}},
		Mailboxes: map[string]mailsim.Mailbox{"jane": mailsim.Exists, "john": mailsim.Exists, "info": mailsim.Exists}})
	w.AddHost(mailsim.Host{Name: "mx.globex.test"})
	w.AddDomain(mailsim.Domain{Name: "globex.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.globex.test"}}, CatchAll: true})
	res, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Resolver: res, Dialer: &mailsim.Dialer{}, SMTPPort: w.SMTPPort(),
		HeloName: "probe.touchline.test", AllowMXNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		DomainCache: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	worker := &jobs.VerifyBatchWorker{Store: st, Verifier: v, JobTimeout: time.Minute}
	rc, err := jobs.NewClient(st, jobs.Config{Workers: 4, Worker: worker})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer c2()
		rc.Stop(sctx)
	})
	cfg := server.Config{Store: st, Verifier: v, River: rc, AdminPassword: "s3cret", RiverUI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "river ui")
	})}
	if tweak != nil {
		tweak(&cfg)
	}
	srv := httptest.NewServer(server.New(cfg).Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, world: w, srv: srv, cfg: cfg}
}

func (e *env) key(workspace string) string {
	e.t.Helper()
	ws, err := e.st.EnsureWorkspace(context.Background(), workspace)
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := e.st.CreateAPIKey(context.Background(), ws.ID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) do(method, path, key, ctype string, body io.Reader) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s: decode: %v", resp.Request.URL, err)
	}
	return v
}

func expectProblem(t *testing.T, resp *http.Response, status int, code string) server.Problem {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d (%s), want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	p := decode[server.Problem](t, resp)
	if p.Code != code || p.Status != status || p.Detail == "" {
		t.Fatalf("problem %+v, want code %s", p, code)
	}
	return p
}

// upload posts a CSV and waits for the list to finish.
func (e *env) upload(key, name, csvText string) store.List {
	e.t.Helper()
	resp := e.do("POST", "/v1/lists?name="+name, key, "text/csv", strings.NewReader(csvText))
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	l := decode[store.List](e.t, resp)
	return e.wait(key, l.ID)
}

func (e *env) wait(key string, id int64) store.List {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := decode[store.List](e.t, e.do("GET", fmt.Sprintf("/v1/lists/%d", id), key, "", nil))
		if l.Status == "done" || l.Status == "cancelled" || l.Status == "failed" {
			return l
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("list %d still %s after 30s: %+v", id, l.Status, l)
		}
		time.Sleep(50 * time.Millisecond) // polling, as a client would
	}
}

const sample = "first_name,last_name,email,company,source\n" +
	"Jane,Doe,jane@acme.test,Acme,webinar\n" +
	"Gone,Away,gone@acme.test,Acme,\n" +
	"Info,,INFO@Acme.test,Acme,=cmd|' /C calc'!A0\n" +
	"Bad,Row,not-an-address,,\n" +
	"Gil,Bates,gil@globex.test,Globex,\n" +
	"Nobody,Here,x@nowhere.test,,\n"

func TestListLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	key := e.key("acme-sales")
	l := e.upload(key, "q3", sample)
	if l.Name != "q3" || l.Total != 6 || l.Processed != 6 ||
		l.Counts != (store.Counts{Deliverable: 2, Undeliverable: 3, Risky: 1}) {
		t.Fatalf("list %+v", l)
	}

	// Results keep every row, in order, with the original columns first.
	resp := e.do("GET", fmt.Sprintf("/v1/lists/%d/results", l.ID), key, "", nil)
	if resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 || recs[0][2] != "email" || recs[0][5] != "email_normalized" {
		t.Fatalf("results: %q", recs)
	}
	for i, want := range []string{"deliverable", "undeliverable", "deliverable", "undeliverable", "risky", "undeliverable"} {
		if recs[i+1][6] != want {
			t.Errorf("row %d: status %q, want %q (%q)", i+1, recs[i+1][6], want, recs[i+1])
		}
	}
	if recs[3][4] != `'=cmd|' /C calc'!A0` {
		t.Errorf("formula not neutralized: %q", recs[3][4])
	}
	// Filtered and JSONL.
	resp = e.do("GET", fmt.Sprintf("/v1/lists/%d/results?format=jsonl&status=deliverable", l.ID), key, "", nil)
	body, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"jane@acme.test"`) || !strings.Contains(lines[0], `"source":"webinar"`) {
		t.Fatalf("jsonl: %s", body)
	}
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/lists/%d/results?format=xml", l.ID), key, "", nil), 400, "bad_format")
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/lists/%d/results?status=good", l.ID), key, "", nil), 400, "bad_status")

	// Leads were created from the verified rows, with their fields.
	page := decode[struct {
		Leads []store.Lead `json:"leads"`
	}](t, e.do("GET", "/v1/leads?status=deliverable", key, "", nil))
	if len(page.Leads) != 2 {
		t.Fatalf("deliverable leads: %+v", page.Leads)
	}
	var jane store.Lead
	for _, l := range page.Leads {
		if l.Email == "jane@acme.test" {
			jane = l
		}
	}
	if jane.Email != "jane@acme.test" || jane.FirstName != "Jane" || jane.Company != "Acme" || jane.Custom["source"] != "webinar" ||
		jane.Stage != "lead" || jane.Verification == nil || jane.Verification.Status != "deliverable" {
		t.Fatalf("lead %+v", jane)
	}

	// A re-upload merges fields and never duplicates a lead; the fresh
	// verdict is reused instead of probing again.
	rcpts := e.world.HostStats("mx.acme.test").Rcpt
	l2 := e.upload(key, "q3-again", "email,title\nJANE@acme.test,CTO\njohn@acme.test,\n")
	if l2.Counts.Deliverable != 2 {
		t.Fatalf("second list %+v", l2)
	}
	if got := e.world.HostStats("mx.acme.test").Rcpt - rcpts; got != 1 {
		t.Errorf("%d RCPTs for a list whose one known address has a fresh verdict; want 1 (john)", got)
	}
	all := decode[struct {
		Leads []store.Lead `json:"leads"`
	}](t, e.do("GET", "/v1/leads?q=jane", key, "", nil))
	if len(all.Leads) != 1 || all.Leads[0].Title != "CTO" || all.Leads[0].FirstName != "Jane" {
		t.Fatalf("merged lead: %+v", all.Leads)
	}
	detail := decode[struct {
		store.Lead
		Events []store.LeadEvent `json:"events"`
	}](t, e.do("GET", fmt.Sprintf("/v1/leads/%d", jane.ID), key, "", nil))
	if len(detail.Events) != 2 || detail.Events[0].Type != "verified" {
		t.Fatalf("events: %+v", detail.Events)
	}

	// Erasure: the lead, its events and its cells in the lists go; the
	// suppression stays as a hash.
	if err := e.st.Suppress(context.Background(), workspaceID(t, e, key), "jane@acme.test", "unsubscribed"); err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/leads/%d", jane.ID), key, "", nil); r.StatusCode != 204 {
		t.Fatalf("delete lead: %d", r.StatusCode)
	}
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/leads/%d", jane.ID), key, "", nil), 404, "not_found")
	resp = e.do("GET", fmt.Sprintf("/v1/lists/%d/results?format=csv", l.ID), key, "", nil)
	body, _ = io.ReadAll(resp.Body)
	if strings.Contains(string(body), "jane@acme.test") || strings.Contains(string(body), "webinar") {
		t.Fatalf("erased lead still in list results:\n%s", body)
	}
	if ok, _ := e.st.IsSuppressed(context.Background(), workspaceID(t, e, key), "jane@acme.test"); !ok {
		t.Fatal("suppression lost with the erasure")
	}

	// Delete the list.
	if r := e.do("DELETE", fmt.Sprintf("/v1/lists/%d", l.ID), key, "", nil); r.StatusCode != 204 {
		t.Fatalf("delete list: %d", r.StatusCode)
	}
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/lists/%d", l.ID), key, "", nil), 404, "not_found")
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/lists/%d", l.ID), key, "", nil), 404, "not_found")
}

func workspaceID(t *testing.T, e *env, key string) int64 {
	ws, err := e.st.Authenticate(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ws.ID
}

func TestAuthAndTenancy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, b := e.key("alpha"), e.key("beta")
	l := e.upload(a, "alpha-list", sample)

	expectProblem(t, e.do("GET", "/v1/lists", "", "", nil), 401, "unauthorized")
	expectProblem(t, e.do("GET", "/v1/lists", "tl_wrong", "", nil), 401, "unauthorized")
	// Another workspace's key sees nothing of it and can change nothing.
	for _, req := range [][2]string{
		{"GET", fmt.Sprintf("/v1/lists/%d", l.ID)},
		{"GET", fmt.Sprintf("/v1/lists/%d/results", l.ID)},
		{"POST", fmt.Sprintf("/v1/lists/%d/cancel", l.ID)},
		{"DELETE", fmt.Sprintf("/v1/lists/%d", l.ID)},
	} {
		expectProblem(t, e.do(req[0], req[1], b, "", nil), 404, "not_found")
	}
	leads := decode[struct {
		Leads []store.Lead `json:"leads"`
	}](t, e.do("GET", "/v1/leads", a, "", nil)).Leads
	if len(leads) == 0 {
		t.Fatal("no leads in alpha")
	}
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/leads/%d", leads[0].ID), b, "", nil), 404, "not_found")
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/leads/%d", leads[0].ID), b, "", nil), 404, "not_found")
	if got := decode[struct {
		Leads []store.Lead `json:"leads"`
	}](t, e.do("GET", "/v1/leads", b, "", nil)).Leads; len(got) != 0 {
		t.Fatalf("beta sees alpha's leads: %+v", got)
	}
	if got := decode[struct {
		Lists []store.List `json:"lists"`
	}](t, e.do("GET", "/v1/lists", b, "", nil)).Lists; len(got) != 0 {
		t.Fatalf("beta sees alpha's lists: %+v", got)
	}
	// The River UI and /metrics are operator surfaces: tested in
	// TestOperatorSurfaces.
}

func TestBadUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.MaxUploadBytes = 4096; c.MaxRows = 50 })
	key := e.key("uploads")
	post := func(ctype, body string) *http.Response {
		return e.do("POST", "/v1/lists?name=x", key, ctype, strings.NewReader(body))
	}
	p := expectProblem(t, post("text/csv", "name,company\nJane,Acme\n"), 422, "no_email_column")
	if !strings.Contains(p.Detail, `"name", "company"`) {
		t.Errorf("detail does not say what the header has: %q", p.Detail)
	}
	if p := expectProblem(t, post("text/csv", ""), 422, "empty_file"); !strings.Contains(p.Detail, "check the file path") {
		t.Errorf("empty_file does not hint at a wrong path: %q", p.Detail)
	}
	expectProblem(t, post("application/pdf", "%PDF"), 415, "unsupported_media_type")
	expectProblem(t, post("text/csv", "n\xe4me,email\nx,a@b.test\n"), 422, "bad_encoding")
	expectProblem(t, post("text/csv", "email\n"+strings.Repeat("someone@acme.test\n", 300)), 413, "too_large")
	expectProblem(t, post("text/csv", "email\n"+strings.Repeat("a@acme.test\n", 51)), 413, "too_many_rows")
	ragged := "first,last,email,company\n" + strings.Repeat("Jane;Doe;jane@acme.test;Acme\n", 20)
	p = expectProblem(t, post("text/csv", ragged), 422, "ragged_rows")
	if !strings.Contains(p.Detail, "separator") {
		t.Errorf("ragged detail %q", p.Detail)
	}
	// Nothing of a refused upload stays behind.
	if got := decode[struct {
		Lists []store.List `json:"lists"`
	}](t, e.do("GET", "/v1/lists", key, "", nil)).Lists; len(got) != 0 {
		t.Fatalf("refused uploads left lists: %+v", got)
	}
	// A few bad rows are row verdicts, not a failed upload.
	l := e.upload(key, "mixed", "email,name\njane@acme.test,Jane\nbroken\n\"odd\"x@acme.test,Q\n")
	if l.Total != 3 || l.Counts.Undeliverable != 2 {
		t.Fatalf("mixed list %+v", l)
	}

	// Multipart uploads take their name from the file.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "october-leads.csv")
	io.WriteString(fw, "email\njane@acme.test\n")
	mw.Close()
	resp := e.do("POST", "/v1/lists", key, mw.FormDataContentType(), &buf)
	if resp.StatusCode != 202 {
		t.Fatalf("multipart: %d", resp.StatusCode)
	}
	if ml := decode[store.List](t, resp); ml.Name != "october-leads" || ml.Total != 1 {
		t.Fatalf("multipart list %+v", ml)
	}
	var none bytes.Buffer
	mw = multipart.NewWriter(&none)
	mw.WriteField("other", "x")
	mw.Close()
	expectProblem(t, e.do("POST", "/v1/lists", key, mw.FormDataContentType(), &none), 400, "bad_multipart")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.River = nil }) // nobody works the jobs
	key := e.key("cancel")
	resp := e.do("POST", "/v1/lists?name=c", key, "text/csv", strings.NewReader(sample))
	l := decode[store.List](t, resp)
	if l.Status != "queued" {
		t.Fatalf("list %+v", l)
	}
	resp = e.do("POST", fmt.Sprintf("/v1/lists/%d/cancel", l.ID), key, "", nil)
	if c := decode[store.List](t, resp); c.Status != "cancelled" {
		t.Fatalf("cancelled list %+v", c)
	}
	done := e.upload(key, "d", "email\nnot-an-address\n")
	expectProblem(t, e.do("POST", fmt.Sprintf("/v1/lists/%d/cancel", done.ID), key, "", nil), 409, "not_cancellable")
	expectProblem(t, e.do("POST", "/v1/lists/abc/cancel", key, "", nil), 400, "bad_id")
}

func TestVerifyEndpointAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	key := e.key("v")
	resp := e.do("POST", "/v1/verify", key, "application/json", strings.NewReader(`{"email":"john@acme.test"}`))
	if v := decode[verifier.Verdict](t, resp); v.Status != verifier.Deliverable || v.Reply == nil || v.Reply.Code != 250 {
		t.Fatalf("verdict %+v", v)
	}
	expectProblem(t, e.do("POST", "/v1/verify", key, "application/json", strings.NewReader(`{"mail":"x"}`)), 400, "bad_json")
	expectProblem(t, e.do("POST", "/v1/verify", key, "application/json", strings.NewReader(`{"email":" "}`)), 422, "missing_email")
	if r := e.do("GET", "/healthz", "", "", nil); r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
	if r := e.do("GET", "/readyz", "", "", nil); r.StatusCode != 200 {
		t.Fatalf("readyz %d", r.StatusCode)
	}
	expectProblem(t, e.do("GET", "/v2/nothing", key, "", nil), 404, "not_found")
}

func TestDeleteWhileVerifying(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.BatchSize = 50 })
	key := e.key("del")
	var sb strings.Builder
	sb.WriteString("email\n")
	for i := range 3000 {
		fmt.Fprintf(&sb, "person%d@globex.test\n", i)
	}
	resp := e.do("POST", "/v1/lists?name=big", key, "text/csv", strings.NewReader(sb.String()))
	l := decode[store.List](t, resp)
	// Wait until workers are writing, then delete under their feet.
	deadline := time.Now().Add(30 * time.Second)
	for decode[store.List](t, e.do("GET", fmt.Sprintf("/v1/lists/%d", l.ID), key, "", nil)).Processed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/lists/%d", l.ID), key, "", nil); r.StatusCode != 204 {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("delete during verification: %d %s", r.StatusCode, b)
	}
	expectProblem(t, e.do("GET", fmt.Sprintf("/v1/lists/%d/results", l.ID), key, "", nil), 404, "not_found")
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("PUT", "/v1/lists", e.key("m"), "", nil)
	p := expectProblem(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "POST, GET" || !strings.Contains(p.Detail, "PUT") {
		t.Fatalf("Allow %q, detail %q", r.Header.Get("Allow"), p.Detail)
	}
}

// errAfter yields data and then fails, as a client that drops mid-upload.
type errAfter struct {
	data []byte
}

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestAbortedUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	key := e.key("abort")
	var sb strings.Builder
	sb.WriteString("email\n")
	for i := range 20000 {
		fmt.Fprintf(&sb, "p%d@acme.test\n", i)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/lists?name=aborted", &errAfter{data: []byte(sb.String())})
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			t.Fatal("an upload cut short was accepted")
		}
	}
	// The list row and its copied rows were in one transaction that never
	// committed: nothing is visible, now or later.
	if lists := decode[struct {
		Lists []store.List `json:"lists"`
	}](t, e.do("GET", "/v1/lists", key, "", nil)).Lists; len(lists) != 0 {
		t.Fatalf("a half upload is visible: %+v", lists)
	}
}
