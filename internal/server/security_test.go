package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
)

// Issue 13, item 1: any workspace's key opened the River UI (every
// workspace's jobs, cancel, retry, pause) and /metrics. Now only an
// operator key or the admin password does, and a state-changing call from
// another origin is refused.
func TestOperatorSurfaces(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		reached []string
	)
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), reached...) }
	e := newEnv(t, func(c *server.Config) {
		c.RiverUI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			reached = append(reached, r.Method+" "+r.URL.Path)
			mu.Unlock()
			io.WriteString(w, `{"ok":true}`)
		})
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "touchline_up 1\n") })
	})
	ws := e.key("tenant")
	op, err := e.st.CreateOperatorKey(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/riverui/", "/riverui/api/jobs?state=running", "/metrics"} {
		if r := e.do("GET", path, "", "", nil); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without auth: %d", path, r.StatusCode)
		}
		expectProblem(t, e.do("GET", path, ws, "", nil), 403, "operator_only")
		expectProblem(t, e.do("GET", path, "tl_notakey", "", nil), 401, "unauthorized")
		if r := e.do("GET", path, op, "", nil); r.StatusCode != 200 {
			t.Errorf("%s with an operator key: %d", path, r.StatusCode)
		}
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.SetBasicAuth("admin", "s3cret")
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
			t.Errorf("%s with the admin password: %v %v", path, r, err)
		} else {
			r.Body.Close()
		}
		req.SetBasicAuth("admin", "guess")
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 401 {
			t.Errorf("%s with a wrong password: %v %v", path, r, err)
		} else {
			r.Body.Close()
		}
	}
	// A workspace key cannot cancel or pause either.
	expectProblem(t, e.do("POST", "/riverui/api/jobs/cancel", ws, "application/json", strings.NewReader(`{"ids":["1"]}`)), 403, "operator_only")
	expectProblem(t, e.do("PUT", "/riverui/api/queues/verify/pause", ws, "", nil), 403, "operator_only")

	// CSRF: the browser adds Basic credentials by itself, so a page on
	// another origin must not be able to cancel jobs or pause a queue.
	mu.Lock()
	reached = nil
	mu.Unlock()
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/riverui/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`))
		req.SetBasicAuth("admin", "s3cret")
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, r, 403, "cross_origin")
	}
	if got := seen(); len(got) != 0 {
		t.Fatalf("cross-origin requests reached the River UI: %v", got)
	}
	// River UI's own page (same origin) still works, and so does a client
	// that is not a browser.
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "same-origin"}, {"Origin": e.srv.URL}, {}} {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/riverui/api/queues/verify/pause", nil)
		req.SetBasicAuth("admin", "s3cret")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("same-origin pause %v: %d", h, r.StatusCode)
		}
	}
	if got := seen(); len(got) != 3 {
		t.Fatalf("same-origin requests reached: %v", got)
	}
	// The operator key opens no workspace's API, nor the dashboard.
	expectProblem(t, e.do("GET", "/v1/lists", op, "", nil), 401, "unauthorized")
	if _, err := e.st.APIKeyID(context.Background(), op); err != store.ErrUnauthorized {
		t.Errorf("dashboard sign-in with an operator key: %v", err)
	}
}

// Issue 13, item 7: keys could be listed and revoked only in SQL.
func TestAPIKeysListAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a1, a2, b := e.key("keys-a"), e.key("keys-a"), e.key("keys-b")
	type page struct {
		APIKeys []store.APIKey `json:"api_keys"`
	}
	r := e.do("GET", "/v1/api-keys", a1, "", nil)
	if r.StatusCode != 200 {
		t.Fatalf("list: %d", r.StatusCode)
	}
	body, _ := io.ReadAll(r.Body)
	if strings.Contains(string(body), a1) || strings.Contains(string(body), a2) || strings.Contains(string(body), "hash") {
		t.Fatalf("the list shows a key: %s", body)
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.APIKeys) != 2 || !strings.HasPrefix(a1, p.APIKeys[0].Prefix) || !strings.HasPrefix(a2, p.APIKeys[1].Prefix) ||
		p.APIKeys[0].LastUsedAt == nil || p.APIKeys[0].RevokedAt != nil || len(p.APIKeys[0].Prefix) < 6 || len(p.APIKeys[0].Prefix) > 12 {
		t.Fatalf("keys of keys-a: %+v", p.APIKeys)
	}
	bKeys := decode[page](t, e.do("GET", "/v1/api-keys", b, "", nil)).APIKeys
	if len(bKeys) != 1 {
		t.Fatalf("keys of keys-b: %+v", bKeys)
	}
	// Another workspace's key: 404, and it stays live.
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/api-keys/%d", bKeys[0].ID), a1, "", nil), 404, "not_found")
	if r := e.do("GET", "/v1/lists", b, "", nil); r.StatusCode != 200 {
		t.Fatalf("b's key after a's attempt: %d", r.StatusCode)
	}
	expectProblem(t, e.do("DELETE", "/v1/api-keys/abc", a1, "", nil), 400, "bad_id")
	// Revoke a2 with a1: a2 is refused at once, its dashboard session ends.
	a2ID := p.APIKeys[1].ID
	sessionKey, err := e.st.APIKeyID(context.Background(), a2)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/api-keys/%d", a2ID), a1, "", nil); r.StatusCode != 204 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	expectProblem(t, e.do("GET", "/v1/lists", a2, "", nil), 401, "unauthorized")
	if _, err := e.st.KeyWorkspace(context.Background(), sessionKey); err != store.ErrUnauthorized {
		t.Fatalf("the revoked key's dashboard session: %v", err)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/api-keys/%d", a2ID), a1, "", nil); r.StatusCode != 204 {
		t.Fatalf("second revoke: %d", r.StatusCode)
	}
	p = decode[page](t, e.do("GET", "/v1/api-keys", a1, "", nil))
	if p.APIKeys[1].RevokedAt == nil || p.APIKeys[0].RevokedAt != nil {
		t.Fatalf("after revoke: %+v", p.APIKeys)
	}
}
