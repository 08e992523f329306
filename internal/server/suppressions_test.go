package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/touchline/touchline/internal/store"
)

type suppressionPage struct {
	Suppressions []store.Suppression `json:"suppressions"`
	NextCursor   string              `json:"next_cursor"`
}

type importResult struct{ Received, Added, Already int }

func (e *seqEnv) importSuppressions(key, ctype, body string) importResult {
	e.t.Helper()
	got := unmarshal[struct {
		Received int `json:"received"`
		Added    int `json:"added"`
		Already  int `json:"already_suppressed"`
	}](e.t, expectStatus(e.t, e.do("POST", "/v1/suppressions", key, ctype, strings.NewReader(body)), http.StatusOK))
	return importResult{got.Received, got.Added, got.Already}
}

func (e *seqEnv) suppressions(key, query string) suppressionPage {
	e.t.Helper()
	return unmarshal[suppressionPage](e.t, expectStatus(e.t, e.do("GET", "/v1/suppressions"+query, key, "", nil), http.StatusOK))
}

// TestSuppressionsAPI imports a do-not-contact list as JSON and CSV,
// refuses bad imports whole, pages, filters and exports it, keeps it to
// its workspace, and shows that the gate and the claim's lookup honour
// imported addresses and domains until they are deleted.
func TestSuppressionsAPI(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key, other := e.key("dnc-a"), e.key("dnc-b")
	ws := workspaceID(t, e.env, key)

	if got, want := e.importSuppressions(key, "application/x-www-form-urlencoded", // what curl -d sends
		`{"reason":"customer","addresses":["CFO@Initech.test"],"domains":["rival.test","@Other-Rival.test"]}`), (importResult{3, 3, 0}); got != want {
		t.Errorf("JSON import: %+v, want %+v", got, want)
	}
	// A reason per row, ?reason= for the rest; one address already there.
	resp := e.do("POST", "/v1/suppressions?reason=imported+from+Outreach", key, "text/csv",
		strings.NewReader("Email,Reason\ncfo@initech.test,again\nold.bounce@hooli.test,bounced in Outreach\n\nangry@soylent.test,\n"))
	if got := unmarshal[map[string]int](t, expectStatus(t, resp, http.StatusOK)); got["added"] != 2 || got["already_suppressed"] != 1 {
		t.Errorf("CSV import: %v, want 2 added, 1 already", got)
	}

	// Bad imports: all or nothing, with the row named.
	for _, tc := range []struct {
		name, ctype, body, code, want string
		status                        int
	}{
		{"bad address", "text/csv", "email,reason\nok@initech.test,x\nnot-an-address,x\n", "invalid_suppressions", "line 3", 422},
		{"no reason", "text/csv", "email\nsomeone@initech.test\n", "invalid_suppressions", "no reason", 422},
		{"domain with a local part", "application/json", `{"reason":"x","domains":["a@b.test"]}`, "invalid_suppressions", "domains[0]", 422},
		{"bad domain", "application/json", `{"reason":"x","domains":["-bad-.test"]}`, "invalid_suppressions", "not a domain", 422},
		{"no column", "text/csv", "name,company\nJane,Acme\n", "bad_suppressions", "no email, address, domain or value column", 422},
		{"empty", "text/csv", "", "empty_file", "check the file path", 422},
		{"unknown JSON field", "application/json", `{"reason":"x","emails":["a@b.test"]}`, "bad_suppressions", "addresses", 422},
	} {
		p := expectProblem(t, e.do("POST", "/v1/suppressions", key, tc.ctype, strings.NewReader(tc.body)), tc.status, tc.code)
		if !strings.Contains(p.Detail, tc.want) {
			t.Errorf("%s: detail %q lacks %q", tc.name, p.Detail, tc.want)
		}
	}
	if n := len(e.suppressions(key, "?limit=1000").Suppressions); n != 5 {
		t.Errorf("after the refused imports the list has %d entries, want 5", n)
	}

	// Paging, oldest first, and filters.
	p1 := e.suppressions(key, "?limit=2")
	if len(p1.Suppressions) != 2 || p1.NextCursor == "" || p1.Suppressions[0].Value != "cfo@initech.test" || p1.Suppressions[0].Source != "import" {
		t.Fatalf("first page %+v", p1)
	}
	p2 := e.suppressions(key, "?limit=2&cursor="+p1.NextCursor)
	p3 := e.suppressions(key, "?limit=2&cursor="+p2.NextCursor)
	if len(p2.Suppressions) != 2 || len(p3.Suppressions) != 1 || p3.NextCursor != "" {
		t.Errorf("pages of 2, 2 and 1 expected: %d, %d (next %q)", len(p2.Suppressions), len(p3.Suppressions), p3.NextCursor)
	}
	domains := e.suppressions(key, "?kind=domain").Suppressions
	if len(domains) != 2 || domains[0].Value != "rival.test" || domains[1].Value != "other-rival.test" || domains[0].Reason != "customer" {
		t.Errorf("domains %+v", domains)
	}
	if q := e.suppressions(key, "?q=SOYLENT").Suppressions; len(q) != 1 || q[0].Reason != "imported from Outreach" {
		t.Errorf("?q=SOYLENT: %+v", q)
	}
	expectProblem(t, e.do("GET", "/v1/suppressions?kind=ip", key, "", nil), 400, "bad_kind")
	expectProblem(t, e.do("GET", "/v1/suppressions?limit=0", key, "", nil), 400, "bad_limit")

	// The CSV export holds every entry, and imports again as it is.
	resp = e.do("GET", "/v1/suppressions?format=csv", key, "", nil)
	body := expectStatus(t, resp, http.StatusOK)
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) != 6 || strings.Join(recs[0], ",") != "kind,value,reason,source,created_at" || recs[2][0] != "domain" || recs[2][1] != "rival.test" {
		t.Fatalf("export (%v):\n%s", err, body)
	}
	if got := e.importSuppressions(other, "text/csv", string(body)); got.Added != 5 {
		t.Errorf("re-importing the export into another workspace added %d, want 5", got.Added)
	}

	// Another workspace's entries are its own.
	if got := e.suppressions(other, "?q=rival").Suppressions; len(got) != 2 || got[0].ID == domains[0].ID {
		t.Errorf("other workspace sees %+v", got)
	}
	pr := expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/suppressions/%d", domains[0].ID), other, "", nil), 404, "not_found")
	if want := fmt.Sprintf("no suppression with ID %d", domains[0].ID); !strings.Contains(pr.Detail, want) || pr.Title != "Suppression not found" {
		t.Errorf("404: %q / %q, want %q", pr.Title, pr.Detail, want)
	}

	// Enforced: by the gate at enrollment, and by the claim's lookup
	// (the same one ClaimTouch makes in its statement), for an address
	// and for every address at a domain.
	c := e.activeCadence(key, twoEmails()...)
	out := e.enroll(key, c.ID, map[string]any{"leads": []map[string]any{
		{"email": "anyone@rival.test"}, {"email": "cfo@initech.test"}, {"email": "ceo@initech.test"}}})
	if out[0].Outcome != "skipped" || out[0].Reason != "suppressed" || out[1].Reason != "suppressed" || out[2].Outcome != "enrolled" {
		t.Errorf("enrollment outcomes %+v", out)
	}
	if sup, err := e.st.SuppressedTx(ctx, nil, ws, "sales@other-rival.test", "other-rival.test"); err != nil || !sup {
		t.Errorf("claim lookup for a suppressed domain: %v %v", sup, err)
	}

	// Deleted: the domain may be mailed again.
	expectStatus(t, e.do("DELETE", fmt.Sprintf("/v1/suppressions/%d", domains[0].ID), key, "", nil), http.StatusNoContent)
	if out := e.enroll(key, c.ID, map[string]any{"leads": []map[string]any{{"email": "anyone@rival.test"}}}); out[0].Outcome != "enrolled" {
		t.Errorf("after the delete: %+v", out)
	}
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/suppressions/%d", domains[0].ID), key, "", nil), 404, "not_found")
}
