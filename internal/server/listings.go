package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/internal/store"
)

// listingRoutes list and edit what exists: cadences, a cadence's
// enrollments, webhooks (and prospects for a CRM: GET /v1/leads
// ?format=csv, in listLeads).
func (s *Server) listingRoutes() []route {
	return []route{
		{"GET", "/v1/cadences", true, s.listCadences},
		{"GET", "/v1/cadences/{id}/enrollments", true, s.listCadenceEnrollments},
		{"DELETE", "/v1/webhooks/{id}", true, s.deleteWebhook},
		{"PATCH", "/v1/mailboxes/{id}", true, s.patchMailbox},
		{"DELETE", "/v1/mailboxes/{id}", true, s.deleteMailbox},
	}
}

// listCadences lists the workspace's cadences, the running ones first.
func (s *Server) listCadences(w http.ResponseWriter, r *http.Request) {
	cs, err := s.cfg.Store.ListCadences(r.Context(), workspaceOf(r).ID, 1000)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cadences": cs})
}

var enrollmentStates = map[string]bool{"active": true, "paused": true, "finished": true, "stopped": true}

// listCadenceEnrollments pages through a cadence's enrollments, ?state=
// to filter, ?limit= (1-1000, default 100), ?cursor=.
func (s *Server) listCadenceEnrollments(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && !enrollmentStates[state] {
		problem(w, http.StatusBadRequest, "bad_state", "Bad state", fmt.Sprintf("state %q: want active, paused, finished or stopped", state))
		return
	}
	after, limit, ok := page(w, q, 100, 1000)
	if !ok {
		return
	}
	es, next, err := s.cfg.Store.CadenceEnrollments(r.Context(), workspaceOf(r).ID, id, state, after, limit)
	if err != nil {
		s.seqError(w, r, err, "Cadence")
		return
	}
	resp := map[string]any{"enrollments": es}
	if next != 0 {
		resp["next_cursor"] = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.DeleteWebhook(r.Context(), workspaceOf(r).ID, id); err != nil {
		s.notFoundOr(w, r, err, "Webhook")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// leadsCSV exports every lead the filter selects (all pages), for a CRM:
// GET /v1/leads?stage=prospect&format=csv. Cells a spreadsheet would run
// as formulas are neutralized.
func (s *Server) leadsCSV(w http.ResponseWriter, r *http.Request, f store.LeadFilter) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="leads.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "email", "first_name", "last_name", "company", "title", "timezone", "stage", "verification_status", "verification_reason", "created_at", "updated_at"})
	f.Limit = 500
	for {
		leads, next, err := s.cfg.Store.ListLeads(r.Context(), workspaceOf(r).ID, f)
		if err != nil {
			s.log.Warn("leads export ended early", "err", err)
			break
		}
		for _, l := range leads {
			status, reason := "", ""
			if l.Verification != nil {
				status, reason = l.Verification.Status, l.Verification.Reason
			}
			row := []string{strconv.FormatInt(l.ID, 10), l.Email, l.FirstName, l.LastName, l.Company, l.Title, l.Timezone, l.Stage, status, reason,
				l.CreatedAt.UTC().Format(time.RFC3339), l.UpdatedAt.UTC().Format(time.RFC3339)}
			for i := range row {
				row[i] = listfile.SafeCell(row[i])
			}
			cw.Write(row)
		}
		if next == 0 {
			break
		}
		f.After = next
	}
	cw.Flush()
}

// patchMailbox changes a mailbox's daily cap, spacing and jitter, or
// pauses ({"paused": true, "reason": "..."}) and resumes it.
func (s *Server) patchMailbox(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		DailyCap          *int    `json:"daily_cap"`
		MinSpacingSeconds *int    `json:"min_spacing_seconds"`
		JitterSeconds     *int    `json:"jitter_seconds"`
		Paused            *bool   `json:"paused"`
		Reason            *string `json:"reason"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	var bad []string
	if req.DailyCap != nil && (*req.DailyCap < 1 || *req.DailyCap > 100_000) {
		bad = append(bad, fmt.Sprintf("daily_cap %d: want 1 to 100000", *req.DailyCap))
	}
	if req.MinSpacingSeconds != nil && (*req.MinSpacingSeconds < 0 || *req.MinSpacingSeconds > 86400) {
		bad = append(bad, fmt.Sprintf("min_spacing_seconds %d: want 0 to 86400", *req.MinSpacingSeconds))
	}
	if req.JitterSeconds != nil && (*req.JitterSeconds < 0 || *req.JitterSeconds > 86400) {
		bad = append(bad, fmt.Sprintf("jitter_seconds %d: want 0 to 86400", *req.JitterSeconds))
	}
	if req.Reason != nil && (req.Paused == nil || !*req.Paused) {
		bad = append(bad, "reason goes with \"paused\": true")
	}
	if req.DailyCap == nil && req.MinSpacingSeconds == nil && req.JitterSeconds == nil && req.Paused == nil {
		bad = append(bad, "nothing to change: give daily_cap, min_spacing_seconds, jitter_seconds or paused")
	}
	if len(bad) > 0 {
		problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid mailbox change", strings.Join(bad, "; "))
		return
	}
	p := store.MailboxPatch{DailyCap: req.DailyCap, MinSpacingSeconds: req.MinSpacingSeconds, JitterSeconds: req.JitterSeconds}
	if req.Paused != nil {
		reason := ""
		if *req.Paused {
			reason = "paused by a person"
			if req.Reason != nil && strings.TrimSpace(*req.Reason) != "" {
				reason = strings.TrimSpace(*req.Reason)
			}
		}
		p.PausedReason = &reason
	}
	m, err := s.cfg.Store.UpdateMailbox(r.Context(), workspaceOf(r).ID, id, p)
	if err != nil {
		s.notFoundOr(w, r, err, "Mailbox")
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// deleteMailbox removes a mailbox; its running enrollments stop with the
// reason mailbox_deleted (store.DeleteMailbox).
func (s *Server) deleteMailbox(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	stopped, err := s.cfg.Store.DeleteMailbox(r.Context(), workspaceOf(r).ID, id)
	if err != nil {
		s.seqError(w, r, err, "Mailbox")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": id, "enrollments_stopped": stopped})
}
