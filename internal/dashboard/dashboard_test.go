package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/dashboard"
	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hrig is the API with the dashboard mounted, on a fresh database, with no
// DNS: the mailbox audits say so and the rest shows.
type hrig struct {
	t     *testing.T
	st    *store.Store
	srv   *httptest.Server
	clock *clock
	key   []byte
}

func newHandlerRig(t *testing.T, tls bool, sessionKey []byte) *hrig {
	t.Helper()
	st, _ := storetest.New(t)
	r := &hrig{t: t, st: st, clock: &clock{t: time.Now()}, key: sessionKey}
	h := server.New(server.Config{Store: st, Dashboard: dashboard.New(dashboard.Config{Store: st, SessionKey: sessionKey, Now: r.clock.Now,
		Logger: slog.New(slog.DiscardHandler)})}).Handler()
	if tls {
		r.srv = httptest.NewTLSServer(h)
	} else {
		r.srv = httptest.NewServer(h)
	}
	t.Cleanup(r.srv.Close)
	return r
}

var testSessionKey = bytes.Repeat([]byte("k"), 32)

// workspace makes a workspace and an API key of it.
func (r *hrig) workspace(name string) (store.Workspace, string) {
	r.t.Helper()
	ctx := context.Background()
	ws, err := r.st.EnsureWorkspace(ctx, name)
	if err != nil {
		r.t.Fatal(err)
	}
	k, err := r.st.CreateAPIKey(ctx, ws.ID, "dashboard test")
	if err != nil {
		r.t.Fatal(err)
	}
	return ws, k
}

// list uploads a CSV without verification jobs: rows that fail syntax get
// their verdict at once, the others wait.
func (r *hrig) list(ws int64, name, csv string) store.List {
	r.t.Helper()
	lr, err := listfile.NewReader(strings.NewReader(csv), "")
	if err != nil {
		r.t.Fatal(err)
	}
	l, err := r.st.Ingest(context.Background(), ws, name, lr, store.IngestOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return l
}

func (r *hrig) mailbox(ws int64, from string) store.Mailbox {
	r.t.Helper()
	m, err := r.st.CreateMailbox(context.Background(), ws, store.Mailbox{FromAddress: from, SMTPHost: "smtp.example.test", SMTPPort: 587,
		SMTPSecurity: "starttls", DailyCap: 50, Timezone: "UTC"}, func(int64) (store.Sealed, error) { return store.Sealed{}, nil })
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *hrig) inbound(ws int64, from, class, snippet string) int64 {
	r.t.Helper()
	var id int64
	err := r.st.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		id, _, err = r.st.InsertInbound(context.Background(), tx, store.InboundRecord{Workspace: &ws, Source: "imap", EnvelopeTo: []string{},
			MessageID: fmt.Sprintf("<%d@test>", time.Now().UnixNano()), Raw: []byte("From: " + from + "\r\nSubject: Re: hi\r\n\r\n" + snippet + "\r\n"),
			Class: class, Rule: "test_rule", Detail: map[string]any{"snippet": snippet}})
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// do sends a request without following redirects.
func (r *hrig) do(method, path string, form url.Values, cookie *http.Cookie, hdr ...string) (*http.Response, string) {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	c := r.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn posts the key and returns the session cookie.
func (r *hrig) signIn(key string) *http.Cookie {
	r.t.Helper()
	resp, body := r.do("POST", "/login", url.Values{"api_key": {key}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		r.t.Fatalf("sign-in: %s, Location %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	c := sessionCookie(resp)
	if c == nil || c.Value == "" {
		r.t.Fatalf("sign-in set no session cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	return c
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == dashboard.CookieName {
			return c
		}
	}
	return nil
}

func wantRedirect(t *testing.T, resp *http.Response, to string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
		t.Fatalf("%s, Location %q; want 303 to %s", resp.Status, resp.Header.Get("Location"), to)
	}
}

// wantCleared checks the response deletes the session cookie.
func wantCleared(t *testing.T, resp *http.Response) {
	t.Helper()
	c := sessionCookie(resp)
	if c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("session cookie not cleared: %v", resp.Header.Values("Set-Cookie"))
	}
}

var testidRE = regexp.MustCompile(`data-testid="([^"]+)"[^>]*>([^<]*)<`)

// testids maps each data-testid of a page to its element's text.
func testids(page string) map[string]string {
	out := map[string]string{}
	for _, m := range testidRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = strings.TrimSpace(m[2])
	}
	return out
}

func TestSignInFlow(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	_, key := r.workspace("acme")

	resp, _ := r.do("GET", "/", nil, nil)
	wantRedirect(t, resp, "/login")

	resp, body := r.do("GET", "/login", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="api_key"`) {
		t.Fatalf("GET /login: %s\n%s", resp.Status, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	for _, tc := range []struct{ key, want string }{
		{"tl_notakey", "unknown or revoked"},
		{"  ", "Paste an API key"},
	} {
		resp, body = r.do("POST", "/login", url.Values{"api_key": {tc.key}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, tc.want) || !strings.Contains(body, `data-testid="login-error"`) {
			t.Fatalf("key %q: %s, want 401 with %q\n%s", tc.key, resp.Status, tc.want, body)
		}
		if sessionCookie(resp) != nil {
			t.Fatalf("key %q set a session cookie", tc.key)
		}
		if strings.Contains(body, tc.key) && strings.TrimSpace(tc.key) != "" {
			t.Fatalf("the refused key is echoed back")
		}
	}

	resp, _ = r.do("POST", "/login", url.Values{"api_key": {" " + key + "\n"}}, nil)
	wantRedirect(t, resp, "/")
	c := sessionCookie(resp)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" || c.MaxAge != int((12*time.Hour).Seconds()) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP, Path=/, 12 h", c)
	}
	if strings.Contains(c.Value, key) || strings.Contains(c.Value, key[3:]) {
		t.Fatal("the cookie holds the API key")
	}

	resp, body = r.do("GET", "/", nil, c)
	if resp.StatusCode != 200 {
		t.Fatalf("GET / signed in: %s", resp.Status)
	}
	ids := testids(body)
	if ids["workspace"] != "acme" {
		t.Fatalf("workspace shown %q", ids["workspace"])
	}
	for _, id := range []string{"kpi-sent", "kpi-replies", "kpi-hard-bounces", "kpi-prospects", "cadences-empty", "mailboxes-empty", "lists-empty", "replies-empty"} {
		if _, ok := ids[id]; !ok {
			t.Errorf("no %s on an empty workspace's page", id)
		}
	}
	if ids["kpi-sent"] != "0" {
		t.Errorf("kpi-sent %q on an empty workspace", ids["kpi-sent"])
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}

	resp, _ = r.do("GET", "/login", nil, c)
	wantRedirect(t, resp, "/")

	resp, _ = r.do("POST", "/logout", nil, c)
	wantRedirect(t, resp, "/login")
	wantCleared(t, resp)
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, true, testSessionKey)
	_, key := r.workspace("acme")
	if c := r.signIn(key); !c.Secure {
		t.Fatalf("cookie over TLS without Secure: %+v", c)
	}
}

func TestRefusedSessions(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	acme, key := r.workspace("acme")
	globex, _ := r.workspace("globex")
	c := r.signIn(key)
	if resp, _ := r.do("GET", "/", nil, c); resp.StatusCode != 200 {
		t.Fatalf("fresh session: %s", resp.Status)
	}
	s, err := dashboard.ParseSession(testSessionKey, c.Value, r.clock.Now())
	if err != nil || s.Workspace != acme.ID {
		t.Fatalf("cookie %+v, %v", s, err)
	}

	tampered := *c
	tampered.Value = c.Value[:len(c.Value)-2] + map[bool]string{true: "AA", false: "AB"}[!strings.HasSuffix(c.Value, "AA")]
	other := *c // validly signed, naming another workspace than the key's
	other.Value = dashboard.SignSession(testSessionKey, dashboard.Session{Workspace: globex.ID, KeyID: s.KeyID, Expires: s.Expires})
	foreign := *c // right form, wrong key
	foreign.Value = dashboard.SignSession(bytes.Repeat([]byte("x"), 32), s)
	for name, ck := range map[string]*http.Cookie{"tampered": &tampered, "other workspace": &other, "another server's key": &foreign} {
		t.Run(name, func(t *testing.T) {
			resp, _ := r.do("GET", "/", nil, ck)
			wantRedirect(t, resp, "/login")
			wantCleared(t, resp)
		})
	}

	r.clock.Add(12*time.Hour + time.Second)
	resp, _ := r.do("GET", "/", nil, c)
	wantRedirect(t, resp, "/login")
	wantCleared(t, resp)

	// Revoking the key ends the sessions opened with it.
	c2 := r.signIn(key)
	if resp, _ := r.do("GET", "/", nil, c2); resp.StatusCode != 200 {
		t.Fatalf("second session: %s", resp.Status)
	}
	if _, err := r.st.Pool().Exec(context.Background(), `UPDATE api_keys SET revoked_at = now() WHERE workspace_id = $1`, acme.ID); err != nil {
		t.Fatal(err)
	}
	resp, _ = r.do("GET", "/", nil, c2)
	wantRedirect(t, resp, "/login")
	resp, body := r.do("POST", "/login", url.Values{"api_key": {key}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Fatalf("revoked key signs in: %s", resp.Status)
	}
}

func TestCrossSiteSignInRefused(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	_, key := r.workspace("acme")
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://evil.example"}} {
		resp, _ := r.do("POST", "/login", url.Values{"api_key": {key}}, nil, hdr...)
		if resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != nil {
			t.Fatalf("POST /login with %s: %s; want 403 and no cookie", hdr, resp.Status)
		}
	}
	resp, _ := r.do("POST", "/login", url.Values{"api_key": {key}}, nil, "Sec-Fetch-Site", "same-origin", "Origin", r.srv.URL)
	wantRedirect(t, resp, "/")
}

func TestSignInDisabledWithoutSessionKey(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, nil)
	_, key := r.workspace("acme")
	resp, body := r.do("GET", "/login", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "TOUCHLINE_SECRET_KEY") {
		t.Fatalf("GET /login without a session key: %s\n%s", resp.Status, body)
	}
	resp, _ = r.do("POST", "/login", url.Values{"api_key": {key}}, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || sessionCookie(resp) != nil {
		t.Fatalf("POST /login without a session key: %s", resp.Status)
	}
	resp, _ = r.do("GET", "/", nil, nil)
	wantRedirect(t, resp, "/login")
}

// TestWorkspaceIsolation: each session sees its workspace's lists,
// mailboxes and replies, and none of the other's.
func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	type seeded struct {
		ws             store.Workspace
		key            string
		list, mailbox  string
		inbound        int64
		snippet, lName string
	}
	var all []seeded
	for _, name := range []string{"acme", "globex"} {
		ws, key := r.workspace(name)
		l := r.list(ws.ID, name+"-q3", "email\nnot-an-address\njane@"+name+".test\n")
		m := r.mailbox(ws.ID, "rep@"+name+".test")
		id := r.inbound(ws.ID, "Jane <jane@"+name+".test>", "human_reply", "Sounds good, "+name+" is in")
		all = append(all, seeded{ws: ws, key: key, list: fmt.Sprintf("list-%d", l.ID), mailbox: fmt.Sprintf("mailbox-%d", m.ID),
			inbound: id, snippet: "Sounds good, " + name + " is in", lName: l.Name})
	}
	for i, s := range all {
		o := all[1-i]
		_, body := r.do("GET", "/", nil, r.signIn(s.key))
		ids := testids(body)
		if ids["workspace"] != s.ws.Name {
			t.Fatalf("%s: workspace %q", s.ws.Name, ids["workspace"])
		}
		if ids[s.list+"-name"] != s.lName || ids[s.list+"-processed"] != "1" || ids[s.list+"-total"] != "2" ||
			ids[s.list+"-undeliverable"] != "1" || ids[s.list+"-status"] != "queued" {
			t.Errorf("%s: list row %q %q/%q %q %q", s.ws.Name, ids[s.list+"-name"], ids[s.list+"-processed"], ids[s.list+"-total"],
				ids[s.list+"-undeliverable"], ids[s.list+"-status"])
		}
		if ids[s.mailbox+"-from"] != "rep@"+s.ws.Name+".test" || ids[s.mailbox+"-state"] != "sending" {
			t.Errorf("%s: mailbox %q %q", s.ws.Name, ids[s.mailbox+"-from"], ids[s.mailbox+"-state"])
		}
		if !strings.Contains(ids[s.mailbox+"-audit"], "not checked") {
			t.Errorf("%s: audit without a resolver: %q", s.ws.Name, ids[s.mailbox+"-audit"])
		}
		in := fmt.Sprintf("inbound-%d", s.inbound)
		if ids[in+"-class"] != "human_reply" || ids[in+"-snippet"] != s.snippet || ids[in+"-lead"] != "unmatched" {
			t.Errorf("%s: reply %q %q %q", s.ws.Name, ids[in+"-class"], ids[in+"-snippet"], ids[in+"-lead"])
		}
		if !strings.Contains(body, "jane@"+s.ws.Name+".test") {
			t.Errorf("%s: the reply's From is not shown", s.ws.Name)
		}
		for _, leak := range []string{o.list + "-", o.mailbox + "-", fmt.Sprintf("inbound-%d-", o.inbound), o.snippet, "rep@" + o.ws.Name} {
			if strings.Contains(body, leak) {
				t.Errorf("%s's page shows %q of %s", s.ws.Name, leak, o.ws.Name)
			}
		}
	}
}

// TestMountedBesideAPI: the dashboard's routes sit beside the API's, which
// keeps its problem answers for everything else.
func TestMountedBesideAPI(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	_, key := r.workspace("acme")
	_, page := r.do("GET", "/login", nil, nil)
	css := regexp.MustCompile(`href="(/assets/style\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if css == nil {
		t.Fatalf("no versioned stylesheet in the login page")
	}
	resp, body := r.do("GET", css[1], nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(body, "--accent") {
		t.Fatalf("GET %s: %s %q %q", css[1], resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	resp, _ = r.do("GET", css[1], nil, nil, "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %s", resp.Status)
	}
	if resp, _ := r.do("GET", "/assets/dashboard.js", nil, nil); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("GET /assets/dashboard.js: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp, _ := r.do("GET", "/assets/nope.css", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("GET /assets/nope.css: %s", resp.Status)
	}
	resp, body = r.do("GET", "/nope", nil, nil)
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "not_found") {
		t.Fatalf("GET /nope: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	resp, _ = r.do("DELETE", "/v1/lists", nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("DELETE /v1/lists: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp, _ := r.do("GET", "/v1/lists", nil, nil, "Authorization", "Bearer "+key); resp.StatusCode != 200 {
		t.Fatalf("GET /v1/lists: %s", resp.Status)
	}
	if resp, _ := r.do("GET", "/logout", nil, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /logout: %s, want 405 (sign-out is a POST)", resp.Status)
	}

	// Without a dashboard, / stays an API 404.
	st, _ := storetest.New(t)
	bare := httptest.NewServer(server.New(server.Config{Store: st}).Handler())
	defer bare.Close()
	res, err := http.Get(bare.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("GET / without a dashboard: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
}

// A mailbox backing off a provider that refused the sender says so, and
// how slowly it now sends there.
func TestMailboxBackoffShown(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	ws, key := r.workspace("acme")
	m := r.mailbox(ws.ID, "rep@acme.test")
	ctx := context.Background()
	for range 2 {
		if err := r.st.InTx(ctx, func(tx pgx.Tx) error {
			_, err := r.st.RecordSenderRejection(ctx, tx, store.SenderRejection{Workspace: ws.ID, MailboxID: m.ID, Provider: "bigmail.test",
				AtSend: true, Status: "5.7.26", Reason: "authentication"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, body := r.do("GET", "/", nil, r.signIn(key))
	got := testids(body)[fmt.Sprintf("mailbox-%d-backoff-bigmail.test", m.ID)]
	if got != "slowed for bigmail.test: one send every 10 min" {
		t.Fatalf("back-off shown as %q", got)
	}
}

func TestSuppressionsShown(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	ws, key := r.workspace("acme")
	other, _ := r.workspace("other")
	ctx := context.Background()
	_, body := r.do("GET", "/", nil, r.signIn(key))
	if ids := testids(body); ids["suppressions-empty"] == "" || ids["suppressed-emails"] != "0" || ids["suppressed-domains"] != "0" {
		t.Fatalf("empty list shown as %q, %q / %q", ids["suppressed-emails"], ids["suppressed-domains"], ids["suppressions-empty"])
	}
	if _, err := r.st.AddSuppressions(ctx, ws.ID, []store.SuppressionInput{{Value: "cfo@initech.test", Reason: "customer"}, {Value: "@rival.test", Reason: "competitor"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.Suppress(ctx, ws.ID, "gone@hooli.test", "unsubscribed"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.AddSuppressions(ctx, other.ID, []store.SuppressionInput{{Value: "secret@other.test", Reason: "x"}}); err != nil {
		t.Fatal(err)
	}
	_, body = r.do("GET", "/", nil, r.signIn(key))
	ids := testids(body)
	if ids["suppressed-emails"] != "2" || ids["suppressed-domains"] != "1" {
		t.Errorf("counts shown as %q addresses, %q domains", ids["suppressed-emails"], ids["suppressed-domains"])
	}
	var values []string
	for id, v := range ids {
		if strings.HasSuffix(id, "-value") && strings.HasPrefix(id, "suppression-") {
			values = append(values, v)
		}
	}
	joined := strings.Join(values, "|")
	for _, want := range []string{"cfo@initech.test", "every address at rival.test", "gone@hooli.test"} {
		if !strings.Contains(joined, want) {
			t.Errorf("entries %q lack %q", joined, want)
		}
	}
	if strings.Contains(body, "secret@other.test") {
		t.Error("another workspace's entry shows")
	}
}
