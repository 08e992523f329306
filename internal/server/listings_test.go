package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// TestListingRoutes lists cadences and a cadence's enrollments (by state,
// paged), deletes a webhook, and exports prospects as CSV, each within
// the caller's workspace.
func TestListingRoutes(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key, other := e.key("lst-a"), e.key("lst-b")
	ws := workspaceID(t, e.env, key)
	c := e.activeCadence(key, twoEmails()...)
	oc := e.activeCadence(other, twoEmails()...)
	out := e.enroll(key, c.ID, map[string]any{"leads": []map[string]any{
		{"email": "lead1@prospect.test", "first_name": "=HYPERLINK(\"x\")"}, {"email": "lead2@prospect.test"}, {"email": "lead3@prospect.test"}}})
	e.post(fmt.Sprintf("/v1/enrollments/%d/stop", out[1].EnrollmentID), key, nil).Body.Close()

	cs := unmarshal[struct{ Cadences []store.Cadence }](t, expectStatus(t, e.do("GET", "/v1/cadences", key, "", nil), http.StatusOK)).Cadences
	if len(cs) != 1 || cs[0].ID != c.ID {
		t.Errorf("cadences %+v, want only %d", cs, c.ID)
	}

	type page struct {
		Enrollments []store.CadenceEnrollment `json:"enrollments"`
		NextCursor  string                    `json:"next_cursor"`
	}
	path := fmt.Sprintf("/v1/cadences/%d/enrollments", c.ID)
	stopped := unmarshal[page](t, expectStatus(t, e.do("GET", path+"?state=stopped", key, "", nil), http.StatusOK))
	if len(stopped.Enrollments) != 1 || stopped.Enrollments[0].Email != "lead2@prospect.test" || stopped.NextCursor != "" {
		t.Errorf("stopped: %+v", stopped)
	}
	p1 := unmarshal[page](t, expectStatus(t, e.do("GET", path+"?limit=2", key, "", nil), http.StatusOK))
	p2 := unmarshal[page](t, expectStatus(t, e.do("GET", path+"?limit=2&cursor="+p1.NextCursor, key, "", nil), http.StatusOK))
	if len(p1.Enrollments) != 2 || p1.NextCursor == "" || len(p2.Enrollments) != 1 || p2.NextCursor != "" || p2.Enrollments[0].Email != "lead3@prospect.test" {
		t.Errorf("pages %+v / %+v", p1, p2)
	}
	expectProblem(t, e.do("GET", path+"?state=gone", key, "", nil), http.StatusBadRequest, "bad_state")
	pr := expectProblem(t, e.do("GET", fmt.Sprintf("/v1/cadences/%d/enrollments", oc.ID), key, "", nil), http.StatusNotFound, "not_found")
	if pr.Title != "Cadence not found" || !strings.Contains(pr.Detail, fmt.Sprintf("cadence %d not found", oc.ID)) {
		t.Errorf("other workspace's cadence: %q / %q", pr.Title, pr.Detail)
	}

	// Webhooks: deleted by their own workspace only.
	hook := unmarshal[struct{ Webhook store.Webhook }](t, expectStatus(t, e.post("/v1/webhooks", key,
		map[string]any{"url": "https://hooks.example/tl", "events": []string{"lead.promoted"}}), http.StatusCreated)).Webhook
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/webhooks/%d", hook.ID), other, "", nil), http.StatusNotFound, "not_found")
	expectStatus(t, e.do("DELETE", fmt.Sprintf("/v1/webhooks/%d", hook.ID), key, "", nil), http.StatusNoContent)
	if hs, _ := e.st.ListWebhooks(ctx, ws); len(hs) != 0 {
		t.Errorf("webhooks after delete: %+v", hs)
	}
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/webhooks/%d", hook.ID), key, "", nil), http.StatusNotFound, "not_found")

	// A mailbox's caps and pause, changed by a person.
	mb := c.MailboxIDs[0]
	mpath := fmt.Sprintf("/v1/mailboxes/%d", mb)
	m := unmarshal[store.Mailbox](t, expectStatus(t, e.do("PATCH", mpath, key, "application/json",
		strings.NewReader(`{"daily_cap":25,"min_spacing_seconds":120,"paused":true,"reason":"domain warming"}`)), http.StatusOK))
	if m.DailyCap != 25 || m.MinSpacingSeconds != 120 || m.JitterSeconds != 0 || m.PausedReason != "domain warming" {
		t.Errorf("patched mailbox %+v", m)
	}
	m = unmarshal[store.Mailbox](t, expectStatus(t, e.do("PATCH", mpath, key, "application/json", strings.NewReader(`{"paused":false}`)), http.StatusOK))
	if m.DailyCap != 25 || m.PausedReason != "" {
		t.Errorf("resumed mailbox %+v", m)
	}
	for _, body := range []string{`{"daily_cap":0}`, `{"min_spacing_seconds":-1}`, `{}`, `{"reason":"x"}`} {
		expectProblem(t, e.do("PATCH", mpath, key, "application/json", strings.NewReader(body)), http.StatusUnprocessableEntity, "invalid")
	}
	expectProblem(t, e.do("PATCH", mpath, key, "application/json", strings.NewReader(`{"daily_cap":"x"}`)), http.StatusBadRequest, "bad_json")
	expectProblem(t, e.do("PATCH", fmt.Sprintf("/v1/mailboxes/%d", oc.MailboxIDs[0]), key, "application/json", strings.NewReader(`{"daily_cap":5}`)), http.StatusNotFound, "not_found")

	// Deleting a mailbox stops its running enrollments with a reason; the
	// last mailbox of a cadence is refused.
	m2 := e.createMailbox(key, func() map[string]any { in := e.senderMailbox(); in["from_address"] = "bo@sender.test"; return in }())
	c2 := e.createCadence(key, sequencer.Spec{Name: "two mailboxes", Steps: twoEmails(), Window: sendertest.AllDay(), MailboxIDs: []int64{mb, m2.ID}}).Cadence
	on2 := e.enroll(key, c2.ID, map[string]any{"leads": []map[string]any{{"email": "lead7@prospect.test"}}})
	if en := e.enrollment(key, on2[0].EnrollmentID); en.MailboxID == nil || *en.MailboxID != m2.ID {
		t.Fatalf("enrollment on %v, want the idle mailbox %d", en.MailboxID, m2.ID)
	}
	del := unmarshal[map[string]int64](t, expectStatus(t, e.do("DELETE", fmt.Sprintf("/v1/mailboxes/%d", m2.ID), key, "", nil), http.StatusOK))
	if del["enrollments_stopped"] != 1 {
		t.Errorf("delete answered %v", del)
	}
	if en := e.enrollment(key, on2[0].EnrollmentID); en.State != "stopped" || en.StateReason != "mailbox_deleted" || en.Touches[0].Status != "skipped" {
		t.Errorf("enrollment after its mailbox was deleted: %+v", en)
	}
	if got, _ := e.st.GetCadence(ctx, ws, c2.ID); len(got.MailboxIDs) != 1 || got.MailboxIDs[0] != mb {
		t.Errorf("cadence still names %v", got.MailboxIDs)
	}
	pr = expectProblem(t, e.do("DELETE", mpath, key, "", nil), http.StatusConflict, "conflict")
	if !strings.Contains(pr.Detail, "only mailbox of cadence") {
		t.Errorf("last mailbox: %q", pr.Detail)
	}
	expectProblem(t, e.do("DELETE", fmt.Sprintf("/v1/mailboxes/%d", m2.ID), key, "", nil), http.StatusNotFound, "not_found")

	// Prospects for the CRM: every page, formulas neutralized.
	if err := e.st.InTx(ctx, func(tx pgx.Tx) error {
		_, err := e.st.PromoteLead(ctx, tx, ws, out[0].LeadID, "prospect", "replied")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	body := expectStatus(t, e.do("GET", "/v1/leads?stage=prospect&format=csv", key, "", nil), http.StatusOK)
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][1] != "email" || recs[1][1] != "lead1@prospect.test" || recs[1][7] != "prospect" || !strings.HasPrefix(recs[1][2], "'=") {
		t.Errorf("prospects CSV (%v):\n%s", err, body)
	}
	if body := expectStatus(t, e.do("GET", "/v1/leads?format=csv", other, "", nil), http.StatusOK); strings.Count(string(body), "\n") != 1 {
		t.Errorf("other workspace's export:\n%s", body)
	}
	expectProblem(t, e.do("GET", "/v1/leads?format=xml", key, "", nil), http.StatusBadRequest, "bad_format")
}
