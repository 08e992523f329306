package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/migrations"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/sequencer/template"
)

// TestEveryRouteKeepsToItsWorkspace walks the server's whole route table
// (so a route added later cannot be forgotten: an unknown one fails here)
// with workspace B's key against workspace A's IDs. Every route with an
// {id} answers 404 and changes nothing; every collection shows B nothing
// of A's.
func TestEveryRouteKeepsToItsWorkspace(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	a, b := e.key("tenant-a"), e.key("tenant-b")
	wsA := workspaceID(t, e.env, a)

	// Workspace A: one of everything.
	list := e.upload(a, "a-secret-list", "email\njane@acme.test\n")
	c := e.activeCadence(a,
		sequencer.Step{Channel: "call", Delay: "0", Title: "a-secret-call"},
		sequencer.Step{Channel: "email", Delay: "1h", Subject: "Hi", Body: "Hi."})
	enrolled := e.enroll(a, c.ID, map[string]any{"start": "now", "leads": []map[string]string{{"email": "lead9@prospect.test", "first_name": "Kim"}}})
	if len(enrolled) != 1 || enrolled[0].Outcome != "enrolled" {
		t.Fatalf("enroll: %+v", enrolled)
	}
	lead := store.Lead{ID: enrolled[0].LeadID}
	var taskID int64
	eventually(t, "A's call task appears", func() bool {
		if ts := e.tasks(a); len(ts) > 0 {
			taskID = ts[0].ID
		}
		return taskID != 0
	})
	var inboundID int64
	var err error
	if err := e.st.InTx(ctx, func(tx pgx.Tx) error {
		inboundID, _, err = e.st.InsertInbound(ctx, tx, store.InboundRecord{Workspace: &wsA, Source: "smtp", EnvelopeTo: []string{},
			MessageID: "<a-secret@prospect.test>", Raw: []byte("Subject: a-secret-reply\r\n\r\nhi\r\n"), Class: "human_reply", Rule: "human", Detail: map[string]any{}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hook := unmarshal[struct {
		Webhook struct {
			ID int64 `json:"id"`
		} `json:"webhook"`
	}](t, expectStatus(t, e.post("/v1/webhooks", a, map[string]any{"url": "https://a-secret-hook.example.com/x", "events": []string{"lead.promoted"}}), 201))
	e.importSuppressions(a, "application/json", `{"reason":"a-secret-reason","addresses":["a-secret-dnc@rival.test"]}`)
	dnc := e.suppressions(a, "")
	if len(dnc.Suppressions) != 1 {
		t.Fatalf("A's do-not-contact list: %+v", dnc)
	}
	aKeys, err := e.st.ListAPIKeys(ctx, wsA)
	if err != nil || len(aKeys) == 0 {
		t.Fatal(err)
	}
	ids := map[string]int64{
		"lists": list.ID, "leads": lead.ID, "cadences": c.ID, "mailboxes": c.MailboxIDs[0],
		"enrollments": enrolled[0].EnrollmentID, "tasks": taskID, "inbound": inboundID, "api-keys": aKeys[0].ID,
		"webhooks": hook.Webhook.ID, "suppressions": dnc.Suppressions[0].ID,
	}
	// What B must never see in a collection.
	secrets := []string{"a-secret-list", "jane@acme.test", "lead9@prospect.test", "a-secret-call", "a-secret-reply", "a-secret-hook", senderAddress, aKeys[0].Prefix, "a-secret-dnc", "a-secret-reason"}
	// Bodies that pass validation, so that 404 is about the ID.
	bodies := map[string]string{
		"POST /v1/leads/{id}/disposition":    `{"disposition":"disqualify","reason":"test"}`,
		"POST /v1/inbound/{id}/reclassify":   `{"class":"human_reply"}`,
		"POST /v1/cadences/{id}/enrollments": fmt.Sprintf(`{"lead_ids":[%d],"start":"now"}`, lead.ID),
		"POST /v1/cadences/{id}/launch":      `{}`,
		"POST /v1/tasks/{id}/complete":       `{}`,
		"POST /v1/enrollments/{id}/pause":    `{}`,
		"POST /v1/enrollments/{id}/resume":   `{}`,
		"POST /v1/enrollments/{id}/stop":     `{}`,
		"POST /v1/cadences/{id}/pause":       `{}`,
		"POST /v1/cadences/{id}/resume":      `{}`,
		"POST /v1/cadences/{id}/archive":     `{}`,
		"POST /v1/mailboxes/{id}/resume":     `{}`,
		"PATCH /v1/mailboxes/{id}":           `{"daily_cap":5}`,
		"POST /v1/lists/{id}/cancel":         `{}`,
		"POST /v1/cadences":                  fmt.Sprintf(`{"name":"x","steps":[{"channel":"call","title":"t"}],"mailbox_ids":[%d]}`, c.MailboxIDs[0]),
		"POST /v1/webhooks":                  `{"url":"https://b.example.com/","events":["lead.promoted"]}`,
		"POST /v1/verify":                    `{"email":"x@acme.test"}`,
		"POST /v1/mailboxes":                 `{}`,
		"POST /v1/lists":                     "email\nb@acme.test\n",
		"GET /v1/cadences/{id}/schedule":     "",
		"GET /v1/lists/{id}/results":         "",
		"GET /v1/inbound/{id}/raw":           "",
		"DELETE /v1/api-keys/{id}":           "",
		"DELETE /v1/lists/{id}":              "",
		"DELETE /v1/leads/{id}":              "",
		"GET /v1/leads/{id}":                 "",
		"GET /v1/lists/{id}":                 "",
		"GET /v1/cadences/{id}":              "",
		"GET /v1/enrollments/{id}":           "",
	}
	// Routes with no tenant data, and creations that take no other
	// workspace's ID except where a body above names one.
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /v1/openapi.json": true, "GET /u/{token}": true, "POST /u/{token}": true}
	creations := map[string]bool{"POST /v1/lists": true, "POST /v1/verify": true, "POST /v1/mailboxes": true, "POST /v1/webhooks": true, "POST /v1/suppressions": true}

	routes := server.New(e.cfg).Routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes in the table", len(routes))
	}
	for _, r := range routes {
		name := r.Method + " " + r.Path
		if !r.Auth {
			if !public[name] {
				t.Errorf("%s takes no API key: add it to this test's public routes if it shows no tenant data", name)
			}
			continue
		}
		if !strings.Contains(r.Path, "{id}") {
			if r.Method != "GET" {
				if creations[name] {
					continue
				}
				if body, ok := bodies[name]; ok {
					// A creation that names A's rows must not reach them.
					resp := e.do(r.Method, r.Path, b, "application/json", strings.NewReader(body))
					if resp.StatusCode/100 == 2 {
						t.Errorf("%s with A's IDs: %d", name, resp.StatusCode)
					}
					continue
				}
				t.Errorf("%s: a new route; add it to this test", name)
				continue
			}
			resp := e.do("GET", r.Path, b, "", nil)
			body, _ := io.ReadAll(resp.Body)
			for _, s := range secrets {
				if strings.Contains(string(body), s) {
					t.Errorf("%s shows B %q of workspace A: %.300s", name, s, body)
				}
			}
			continue
		}
		resource := strings.Split(strings.TrimPrefix(r.Path, "/v1/"), "/")[0]
		id, ok := ids[resource]
		if !ok {
			t.Errorf("%s: no ID of A's for %q; add one to this test", name, resource)
			continue
		}
		body, ok := bodies[name]
		if !ok && r.Method != "GET" && r.Method != "DELETE" {
			t.Errorf("%s: a new route; give it a valid body in this test", name)
			continue
		}
		path := strings.Replace(r.Path, "{id}", fmt.Sprint(id), 1)
		var rd io.Reader
		ctype := ""
		if body != "" {
			rd, ctype = strings.NewReader(body), "application/json"
		}
		resp := e.do(r.Method, path, b, ctype, rd)
		if resp.StatusCode != 404 {
			got, _ := io.ReadAll(resp.Body)
			t.Errorf("%s %s with B's key: %d %s, want 404", r.Method, path, resp.StatusCode, got)
		}
	}

	// Nothing of A's changed.
	if l, err := e.st.GetList(ctx, wsA, list.ID); err != nil || l.Status == "cancelled" {
		t.Errorf("A's list: %+v %v", l, err)
	}
	if en, err := e.st.GetEnrollment(ctx, wsA, enrolled[0].EnrollmentID); err != nil || en.State != "active" {
		t.Errorf("A's enrollment: %+v %v", en, err)
	}
	if cad, err := e.st.GetCadence(ctx, wsA, c.ID); err != nil || cad.Status != "active" {
		t.Errorf("A's cadence: %+v %v", cad, err)
	}
	if _, err := e.st.Authenticate(ctx, a); err != nil {
		t.Errorf("A's key: %v", err)
	}
	if ts := e.tasks(a); len(ts) == 0 {
		t.Error("A's task is gone")
	}
	if got := e.suppressions(a, ""); len(got.Suppressions) != 1 {
		t.Errorf("A's do-not-contact list: %+v", got)
	}
	if m, err := e.st.GetMailbox(ctx, wsA, c.MailboxIDs[0]); err != nil || m.DailyCap == 5 {
		t.Errorf("A's mailbox: cap %d, %v", m.DailyCap, err)
	}
}

// Issue 13, item 5: workspace 0 meant "any workspace" in GetMailbox,
// GetCadence and GetEnrollment. There is no such workspace now.
func TestNoWildcardWorkspace(t *testing.T) {
	t.Parallel()
	st := newDBTB(t)
	ctx := context.Background()
	ws, _ := st.EnsureWorkspace(ctx, "w")
	other, _ := st.EnsureWorkspace(ctx, "other")
	m, err := st.CreateMailbox(ctx, ws.ID, store.Mailbox{FromAddress: "a@sender.test", SMTPHost: "smtp.sender.test", SMTPPort: 587, SMTPSecurity: "starttls",
		DailyCap: 10, Timezone: "UTC"}, func(int64) (store.Sealed, error) { return store.Sealed{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	spec := sequencer.Spec{Name: "c", Steps: []sequencer.Step{{Channel: "call", Title: "t"}}, MailboxIDs: []int64{m.ID}}
	if _, _, err := sequencer.Compile(spec, template.Standard()); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{0, other.ID} {
		if _, err := st.GetMailbox(ctx, w, m.ID); err != store.ErrNotFound {
			t.Errorf("GetMailbox(ws %d) of workspace %d's mailbox: %v", w, ws.ID, err)
		}
	}
	if got, err := st.GetMailbox(ctx, ws.ID, m.ID); err != nil || got.ID != m.ID {
		t.Fatalf("own mailbox: %v", err)
	}
}

// legacyWebhookArgs is a webhook job as queued before jobs carried their
// workspace (migration 011).
type legacyWebhookArgs struct {
	WebhookID int64  `json:"webhook_id"`
	EventID   string `json:"event_id"`
}

func (legacyWebhookArgs) Kind() string { return "webhook" }

// Migration 011 gives jobs queued before it their workspace, so that a
// delivery queued across the upgrade is not lost to the workspace check.
func TestMigrationGivesQueuedJobsTheirWorkspace(t *testing.T) {
	t.Parallel()
	e := newSeqEnv(t)
	ctx := context.Background()
	key := e.key("upgrade")
	ws := workspaceID(t, e.env, key)
	hook, err := e.st.CreateWebhook(ctx, ws, "https://hooks.example.com/", []string{"lead.promoted"}, func(int64) (string, error) { return "sealed", nil })
	if err != nil {
		t.Fatal(err)
	}
	job, err := e.op.River.Insert(ctx, legacyWebhookArgs{WebhookID: hook.ID, EventID: "evt_old"},
		&river.InsertOpts{Queue: sequencer.QueueSend, ScheduledAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	sql, err := migrations.FS.ReadFile("011_job_workspaces.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool().Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	var args []byte
	if err := e.st.Pool().QueryRow(ctx, `SELECT args FROM river_job WHERE id = $1`, job.Job.ID).Scan(&args); err != nil {
		t.Fatal(err)
	}
	var got sequencer.WebhookArgs
	if err := json.Unmarshal(args, &got); err != nil || got.Workspace != ws || got.WebhookID != hook.ID || got.EventID != "evt_old" {
		t.Fatalf("job args after the migration: %s (%v)", args, err)
	}
}
