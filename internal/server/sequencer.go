package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier/domaincheck"
)

func (s *Server) sequencerRoutes() []route {
	return []route{
		{"POST", "/v1/mailboxes", true, s.createMailbox},
		{"GET", "/v1/mailboxes", true, s.listMailboxes},
		{"POST", "/v1/mailboxes/{id}/resume", true, s.resumeMailbox},
		{"POST", "/v1/leads/{id}/disposition", true, s.disposition},
		{"POST", "/v1/cadences", true, s.createCadence},
		{"GET", "/v1/cadences/{id}", true, s.getCadence},
		{"POST", "/v1/cadences/{id}/launch", true, s.launchCadence},
		{"POST", "/v1/cadences/{id}/pause", true, s.cadenceAction("pause")},
		{"POST", "/v1/cadences/{id}/resume", true, s.cadenceAction("resume")},
		{"POST", "/v1/cadences/{id}/archive", true, s.cadenceAction("archive")},
		{"GET", "/v1/cadences/{id}/schedule", true, s.cadenceSchedule},
		{"POST", "/v1/cadences/{id}/enrollments", true, s.enroll},
		{"GET", "/v1/enrollments/{id}", true, s.getEnrollment},
		{"POST", "/v1/enrollments/{id}/pause", true, s.enrollmentAction("pause")},
		{"POST", "/v1/enrollments/{id}/resume", true, s.enrollmentAction("resume")},
		{"POST", "/v1/enrollments/{id}/stop", true, s.enrollmentAction("stop")},
		{"GET", "/v1/tasks", true, s.listTasks},
		{"POST", "/v1/tasks/{id}/complete", true, s.completeTask},
		{"GET", "/v1/inbound", true, s.listInbound},
		{"GET", "/v1/stats", true, s.stats},
		{"POST", "/v1/webhooks", true, s.createWebhook},
		{"GET", "/v1/webhooks", true, s.listWebhooks},
		{"GET", "/v1/events", true, s.listEvents},
		{"POST", "/v1/inbound/{id}/reclassify", true, s.reclassify},
		{"GET", "/v1/inbound/{id}/raw", true, s.inboundRaw},
		{"GET", "/u/{token}", false, s.unsubscribePage},
		{"POST", "/u/{token}", false, s.unsubscribe},
	}
}

// decodeBody reads a JSON body strictly, answering the problem itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, http.StatusBadRequest, "bad_json", "Bad request body", err.Error())
		return false
	}
	return true
}

func (s *Server) noSequencer(w http.ResponseWriter) bool {
	if s.cfg.Sequencer == nil {
		problem(w, http.StatusServiceUnavailable, "sequencer_disabled", "Sequencer not configured",
			"set TOUCHLINE_SECRET_KEY (32 bytes, e.g. openssl rand -base64 32) to store mailbox secrets and run cadences")
		return true
	}
	return false
}

// seqError maps sequencer and store errors to problems.
func (s *Server) seqError(w http.ResponseWriter, r *http.Request, err error, what string) {
	var br *sequencer.BadRequest
	var ve *sequencer.ValidationError
	var pe *sequencer.PreflightError
	var nf *store.NotFoundError
	switch {
	case errors.As(err, &nf):
		// The resource the request named, not the one the route is
		// about: a cadence naming a missing mailbox answers "Mailbox
		// not found".
		title := strings.ToUpper(nf.Resource[:1]) + nf.Resource[1:] + " not found"
		problem(w, http.StatusNotFound, "not_found", title, nf.Error())
	case errors.As(err, &br):
		problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid "+strings.ToLower(what), strings.Join(br.Problems, "; "))
	case errors.As(err, &ve):
		problem(w, http.StatusUnprocessableEntity, "invalid_cadence", "Invalid cadence", strings.Join(ve.Problems, "; "))
	case errors.As(err, &pe):
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]any{
			"type": "https://touchline.dev/problems/preflight_failed", "title": "Launch refused: sending domains fail checks",
			"status": 422, "code": "preflight_failed", "failures": pe.Failures,
			"detail": fmt.Sprintf("%d SPF/DKIM/DMARC checks fail; fix them, or launch with {\"force\": true}", len(pe.Failures)),
		})
	case errors.Is(err, store.ErrConflict):
		problem(w, http.StatusConflict, "conflict", "Conflict", strings.TrimPrefix(err.Error(), "store: conflict: "))
	case errors.Is(err, store.ErrNotFound):
		problem(w, http.StatusNotFound, "not_found", what+" not found", strings.TrimPrefix(err.Error(), "store: "))
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) createMailbox(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	var in sequencer.MailboxInput
	if !decodeBody(w, r, &in) {
		return
	}
	m, err := s.cfg.Sequencer.CreateMailbox(r.Context(), workspaceOf(r).ID, in)
	if err != nil {
		s.seqError(w, r, err, "Mailbox")
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// bulkSenderThreshold is the daily volume past which Gmail treats a
// sending domain as a bulk sender, permanently.
const bulkSenderThreshold = 5000

func (s *Server) listMailboxes(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r).ID
	ms, err := s.cfg.Store.ListMailboxes(r.Context(), ws)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	sent, err := s.cfg.Store.MailboxSentToday(r.Context(), ws)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	backoffs, err := s.cfg.Store.WorkspaceBackoffs(r.Context(), ws)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type mailboxOut struct {
		store.Mailbox
		SentToday int             `json:"sent_today"`
		Backoffs  []store.Backoff `json:"backoffs"`
	}
	type domainOut struct {
		Domain     string `json:"domain"`
		SentToday  int    `json:"sent_today"`
		BulkSender bool   `json:"bulk_sender"`
	}
	out := []mailboxOut{}
	byDomain := map[string]int{}
	var order []string
	for _, m := range ms {
		out = append(out, mailboxOut{m, sent[m.ID], append([]store.Backoff{}, backoffs[m.ID]...)})
		d := domaincheck.OrganizationalDomain(m.FromAddress[strings.LastIndexByte(m.FromAddress, '@')+1:])
		if _, ok := byDomain[d]; !ok {
			order = append(order, d)
		}
		byDomain[d] += sent[m.ID]
	}
	domains := []domainOut{}
	for _, d := range order {
		domains = append(domains, domainOut{d, byDomain[d], byDomain[d] >= bulkSenderThreshold})
	}
	writeJSON(w, http.StatusOK, map[string]any{"mailboxes": out, "sending_domains": domains})
}

func (s *Server) resumeMailbox(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.ResumeMailbox(r.Context(), workspaceOf(r).ID, id); err != nil {
		s.notFoundOr(w, r, err, "Mailbox")
		return
	}
	m, err := s.cfg.Store.GetMailbox(r.Context(), workspaceOf(r).ID, id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// disposition gives a lead its outcome: every lead gets one.
func (s *Server) disposition(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		Disposition string `json:"disposition"`
		Reason      string `json:"reason"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	switch req.Disposition {
	case "convert", "recycle", "disqualify":
	default:
		problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid disposition", fmt.Sprintf("disposition %q: want convert, recycle or disqualify", req.Disposition))
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid disposition", "a reason is required")
		return
	}
	disposition := s.cfg.Store.Disposition
	if s.cfg.Sequencer != nil {
		// Reports the enrollments it stops (enrollment.stopped).
		disposition = s.cfg.Sequencer.Disposition
	}
	l, err := disposition(r.Context(), workspaceOf(r).ID, id, req.Disposition, req.Reason)
	if err != nil {
		s.notFoundOr(w, r, err, "Lead")
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	hook, secret, err := s.cfg.Sequencer.CreateWebhook(r.Context(), workspaceOf(r).ID, req.URL, req.Events)
	if err != nil {
		s.seqError(w, r, err, "Webhook")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": hook, "secret": secret})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.cfg.Store.ListWebhooks(r.Context(), workspaceOf(r).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hooks})
}

// listEvents lists what Touchline reported, oldest first, after a cursor.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			problem(w, http.StatusBadRequest, "bad_after", "Bad after", fmt.Sprintf("after=%q: want the id of the last event you have (0 for the first)", v))
			return
		}
		after = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			problem(w, http.StatusBadRequest, "bad_limit", "Bad limit", fmt.Sprintf("limit=%q: want 1 to 1000", v))
			return
		}
		limit = n
	}
	typ := q.Get("type")
	if typ != "" && !slices.Contains(sequencer.WebhookEvents, typ) {
		problem(w, http.StatusBadRequest, "bad_type", "Bad event type", fmt.Sprintf("type=%q: want one of %s", typ, strings.Join(sequencer.WebhookEvents, ", ")))
		return
	}
	events, err := s.cfg.Store.ListEvents(r.Context(), workspaceOf(r).ID, typ, after, limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if events == nil {
		events = []store.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
}

// stats reports outcomes per day, and per step and A/B variant.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now().UTC()
	f := store.StatsFilter{From: now.AddDate(0, 0, -30), To: now.Add(24 * time.Hour)}
	for name, dst := range map[string]*int64{"cadence_id": &f.CadenceID, "mailbox_id": &f.MailboxID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				problem(w, http.StatusBadRequest, "bad_id", "Bad "+name, fmt.Sprintf("%q is not an ID", v))
				return
			}
			*dst = n
		}
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				if t, err = time.Parse("2006-01-02", v); err != nil {
					problem(w, http.StatusBadRequest, "bad_"+name, "Bad "+name, name+" is a date (2026-11-01) or an RFC 3339 time")
					return
				}
			}
			*dst = t
		}
	}
	if iv := q.Get("interval"); iv != "" && iv != "day" {
		problem(w, http.StatusBadRequest, "bad_interval", "Bad interval", "interval is day")
		return
	}
	if !f.To.After(f.From) || f.To.Sub(f.From) > 366*24*time.Hour {
		problem(w, http.StatusBadRequest, "bad_range", "Bad range", "to must be after from, at most a year apart")
		return
	}
	periods, steps, err := s.cfg.Store.Stats(r.Context(), workspaceOf(r).ID, f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if periods == nil {
		periods = []store.PeriodStats{}
	}
	if steps == nil {
		steps = []store.StepStats{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": f.From, "to": f.To, "interval": "day", "periods": periods, "steps": steps})
}

func (s *Server) listInbound(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var lead int64
	if v := q.Get("lead_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			problem(w, http.StatusBadRequest, "bad_id", "Bad lead_id", fmt.Sprintf("%q is not an ID", v))
			return
		}
		lead = n
	}
	msgs, err := s.cfg.Store.ListInbound(r.Context(), workspaceOf(r).ID, q.Get("class"), lead, 100)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

// inboundRaw serves a stored message as received, for auditing.
func (s *Server) inboundRaw(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	raw, truncated, pruned, err := s.cfg.Store.InboundRaw(r.Context(), workspaceOf(r).ID, id)
	switch {
	case err != nil:
		s.notFoundOr(w, r, err, "Inbound message")
		return
	case pruned != nil || raw == nil:
		when := ""
		if pruned != nil {
			when = " (pruned " + pruned.UTC().Format(time.RFC3339) + ")"
		}
		problem(w, http.StatusGone, "raw_pruned", "Raw message no longer kept",
			fmt.Sprintf("inbound message %d was kept raw until its retention passed%s; its classification is still in GET /v1/inbound", id, when))
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("X-Touchline-Truncated", strconv.FormatBool(truncated))
	w.Write(raw)
}

// reclassify corrects a message's class and replays its effects.
func (s *Server) reclassify(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		Class string `json:"class"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	inbox := &sequencer.Inbox{Engine: s.cfg.Sequencer.Engine, River: s.cfg.Sequencer.River}
	rec, err := inbox.Reclassify(r.Context(), workspaceOf(r).ID, id, classify.Class(req.Class))
	if err != nil {
		s.seqError(w, r, err, "Inbound message")
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) createCadence(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	var spec sequencer.Spec
	if !decodeBody(w, r, &spec) {
		return
	}
	c, warnings, err := s.cfg.Sequencer.CreateCadence(r.Context(), workspaceOf(r).ID, spec)
	if err != nil {
		s.seqError(w, r, err, "Cadence")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"cadence": c, "warnings": warnings})
}

func (s *Server) getCadence(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	c, err := s.cfg.Store.GetCadence(r.Context(), workspaceOf(r).ID, id)
	if err != nil {
		s.notFoundOr(w, r, err, "Cadence")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) launchCadence(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		Force bool `json:"force"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &req) {
		return
	}
	c, err := s.cfg.Sequencer.Launch(r.Context(), workspaceOf(r).ID, id, req.Force)
	if err != nil {
		s.seqError(w, r, err, "Cadence")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) cadenceAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.noSequencer(w) {
			return
		}
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		c, err := s.cfg.Sequencer.SetCadenceStatus(r.Context(), workspaceOf(r).ID, id, action)
		if err != nil {
			s.seqError(w, r, err, "Cadence")
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

func (s *Server) cadenceSchedule(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	start := time.Now()
	if v := q.Get("start"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			problem(w, http.StatusBadRequest, "bad_start", "Bad start", "start is an RFC 3339 time, e.g. 2026-11-23T09:00:00Z")
			return
		}
		start = t
	}
	var leadID int64
	if v := q.Get("lead_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			problem(w, http.StatusBadRequest, "bad_id", "Bad lead_id", fmt.Sprintf("%q is not an ID", v))
			return
		}
		leadID = n
	}
	steps, err := s.cfg.Sequencer.DryRun(r.Context(), workspaceOf(r).ID, id, leadID, start)
	if err != nil {
		s.seqError(w, r, err, "Cadence")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"steps": steps})
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		sequencer.EnrollRequest
		// A cleaned list straight into the cadence (enroll_list.go).
		ListID   int64    `json:"list_id"`
		Statuses []string `json:"statuses"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.ListID != 0 || req.Statuses != nil {
		s.enrollList(w, r, id, req.ListID, req.Statuses, req.EnrollRequest)
		return
	}
	out, err := s.cfg.Sequencer.Enroll(r.Context(), workspaceOf(r).ID, id, req.EnrollRequest)
	if err != nil {
		s.seqError(w, r, err, "Cadence")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

func (s *Server) getEnrollment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	e, err := s.cfg.Store.GetEnrollment(r.Context(), workspaceOf(r).ID, id)
	if err != nil {
		s.notFoundOr(w, r, err, "Enrollment")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) enrollmentAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.noSequencer(w) {
			return
		}
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		e, err := s.cfg.Sequencer.SetEnrollmentState(r.Context(), workspaceOf(r).ID, id, action)
		if err != nil {
			s.seqError(w, r, err, "Enrollment")
			return
		}
		writeJSON(w, http.StatusOK, e)
	}
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var before time.Time
	if v := q.Get("due_before"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			problem(w, http.StatusBadRequest, "bad_due_before", "Bad due_before", "due_before is an RFC 3339 time")
			return
		}
		before = t
	}
	tasks, err := s.cfg.Store.ListTasks(r.Context(), workspaceOf(r).ID, before, q.Get("assignee"))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": tasks})
}

func (s *Server) completeTask(w http.ResponseWriter, r *http.Request) {
	if s.noSequencer(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		Outcome string `json:"outcome"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &req) {
		return
	}
	if req.Outcome == "" {
		req.Outcome = "done"
	}
	t, err := s.cfg.Sequencer.CompleteTask(r.Context(), workspaceOf(r).ID, id, req.Outcome)
	if err != nil {
		s.seqError(w, r, err, "Task")
		return
	}
	writeJSON(w, http.StatusOK, t)
}

var unsubscribeTmpl = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribe</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #444;background:#222;color:#fff;cursor:pointer}</style>
</head><body>
{{if .Done}}<h1>You are unsubscribed</h1><p>You will not receive further emails from this sender.</p>
{{else}}<h1>Unsubscribe?</h1><p>Stop all further emails from this sender to you.</p>
<form method="post"><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>`))

// unsubscribePage only shows a confirmation: mail scanners follow GET
// links, and an unsubscribe must not happen without the person.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Sequencer == nil || s.cfg.Sequencer.CheckUnsubscribe(r.PathValue("token")) != nil {
		problem(w, http.StatusNotFound, "not_found", "Unknown link", "this unsubscribe link is not valid")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	unsubscribeTmpl.Execute(w, map[string]bool{"Done": false})
}

// unsubscribe is the RFC 8058 one-click endpoint: a POST suppresses at once.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Sequencer == nil {
		problem(w, http.StatusNotFound, "not_found", "Unknown link", "this unsubscribe link is not valid")
		return
	}
	if err := s.cfg.Sequencer.Unsubscribe(r.Context(), r.PathValue("token")); err != nil {
		if errors.Is(err, sequencer.ErrBadToken) {
			problem(w, http.StatusNotFound, "not_found", "Unknown link", "this unsubscribe link is not valid")
			return
		}
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	unsubscribeTmpl.Execute(w, map[string]bool{"Done": true})
}
