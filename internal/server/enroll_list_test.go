package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestEnrollList puts a cleaned list's deliverable leads into a cadence
// with one request, and answers with counts per outcome.
func TestEnrollList(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key, other := e.key("enl-a"), e.key("enl-b")
	ws := workspaceID(t, e.env, key)
	var sb strings.Builder
	sb.WriteString("email,first_name\n")
	for i := range 10 {
		fmt.Fprintf(&sb, "lead%d@prospect.test,Lead%d\n", i, i)
	}
	sb.WriteString("nobody1@prospect.test,X\nnobody2@prospect.test,Y\nlead0@prospect.test,Again\n")
	l := e.wait(key, e.upload(key, "q4", sb.String()).ID)
	if l.Counts.Deliverable != 11 || l.Counts.Undeliverable != 2 {
		t.Fatalf("list counts %+v", l.Counts)
	}
	c := e.activeCadence(key, twoEmails()...)
	if err := e.st.Suppress(ctx, ws, "lead2@prospect.test", "unsubscribed"); err != nil {
		t.Fatal(err)
	}
	if out := e.enroll(key, c.ID, map[string]any{"leads": []map[string]any{{"email": "lead3@prospect.test"}}}); out[0].Outcome != "enrolled" {
		t.Fatalf("pre-enrollment %+v", out)
	}

	type listOut struct {
		ListID   int64          `json:"list_id"`
		Leads    int            `json:"leads"`
		Enrolled int            `json:"enrolled"`
		Skipped  int            `json:"skipped"`
		ByReason map[string]int `json:"skipped_by_reason"`
		Summary  string         `json:"summary"`
	}
	path := fmt.Sprintf("/v1/cadences/%d/enrollments", c.ID)
	got := unmarshal[listOut](t, expectStatus(t, e.post(path, key, map[string]any{"list_id": l.ID, "statuses": []string{"deliverable"}}), http.StatusOK))
	// 10 leads (lead0 twice in the list is one lead): 8 enrolled, one
	// suppressed, one enrolled before.
	if got.Leads != 10 || got.Enrolled != 8 || got.Skipped != 2 || got.ByReason["suppressed"] != 1 || got.ByReason["already_enrolled"] != 1 {
		t.Errorf("deliverable: %+v", got)
	}
	if got.Summary != "8 enrolled, 1 skipped (already_enrolled), 1 skipped (suppressed)" {
		t.Errorf("summary %q", got.Summary)
	}
	// The default is deliverable; again, everyone is enrolled already.
	got = unmarshal[listOut](t, expectStatus(t, e.post(path, key, map[string]any{"list_id": l.ID}), http.StatusOK))
	if got.Enrolled != 0 || got.ByReason["already_enrolled"] != 9 {
		t.Errorf("again: %+v", got)
	}
	// Undeliverable leads asked for explicitly are still refused by the gate.
	got = unmarshal[listOut](t, expectStatus(t, e.post(path, key, map[string]any{"list_id": l.ID, "statuses": []string{"undeliverable"}}), http.StatusOK))
	if got.Leads != 2 || got.Enrolled != 0 || got.Skipped != 2 {
		t.Errorf("undeliverable: %+v", got)
	}

	p := expectProblem(t, e.post(path, key, map[string]any{"list_id": l.ID + 1000}), http.StatusNotFound, "not_found")
	if want := fmt.Sprintf("list %d not found", l.ID+1000); p.Title != "List not found" || !strings.Contains(p.Detail, want) {
		t.Errorf("missing list: %q / %q", p.Title, p.Detail)
	}
	// Another workspace's cadence can't take this list, nor this
	// cadence another workspace's list.
	oc := e.activeCadence(other, twoEmails()...)
	expectProblem(t, e.post(fmt.Sprintf("/v1/cadences/%d/enrollments", oc.ID), other, map[string]any{"list_id": l.ID}), http.StatusNotFound, "not_found")
	expectProblem(t, e.post(fmt.Sprintf("/v1/cadences/%d/enrollments", oc.ID), key, map[string]any{"list_id": l.ID}), http.StatusNotFound, "not_found")
	for _, body := range []map[string]any{
		{"list_id": l.ID, "statuses": []string{"great"}},
		{"list_id": l.ID, "lead_ids": []int64{1}},
		{"statuses": []string{"deliverable"}},
	} {
		expectProblem(t, e.post(path, key, body), http.StatusUnprocessableEntity, "invalid")
	}
	var n int
	if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM enrollments WHERE cadence_id = $1`, c.ID).Scan(&n); err != nil || n != 9 {
		t.Errorf("enrollments of the cadence: %d (%v), want 9", n, err)
	}
}
