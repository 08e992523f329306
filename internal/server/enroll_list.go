package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/touchline/touchline/sequencer"
)

// enrollChunk is how many leads go to the sequencer at once: its own
// limit for one request.
const enrollChunk = 10_000

// enrollList enrolls the leads of a cleaned list whose verdict is one of
// statuses (default: deliverable) and answers with counts per outcome,
// not a row per lead: a list has thousands. The leads pass the same gate
// as any enrollment (suppressions, verdicts, the cadence's risky_policy).
func (s *Server) enrollList(w http.ResponseWriter, r *http.Request, cadenceID, listID int64, want []string, req sequencer.EnrollRequest) {
	if len(req.LeadIDs) > 0 || len(req.Leads) > 0 {
		problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid enrollment", "give list_id, or leads / lead_ids, not both")
		return
	}
	if listID <= 0 {
		problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid enrollment", "statuses goes with list_id: the ID of a cleaned list")
		return
	}
	if len(want) == 0 {
		want = []string{"deliverable"}
	}
	for _, st := range want {
		if !statuses[st] {
			problem(w, http.StatusUnprocessableEntity, "invalid", "Invalid enrollment", fmt.Sprintf("statuses: %q: want deliverable, undeliverable, risky or unknown", st))
			return
		}
	}
	ws := workspaceOf(r).ID
	// The cadence first: a missing cadence is the 404 that matters.
	if _, err := s.cfg.Store.GetCadence(r.Context(), ws, cadenceID); err != nil {
		s.notFoundOr(w, r, err, "Cadence")
		return
	}
	l, ids, err := s.cfg.Store.ListLeadIDs(r.Context(), ws, listID, want)
	if err != nil {
		s.seqError(w, r, err, "List")
		return
	}
	if l.Status == "queued" || l.Status == "running" {
		problem(w, http.StatusConflict, "list_not_done", "List still verifying",
			fmt.Sprintf("list %d is %s (%d of %d rows verified); enroll it when its status is done", l.ID, l.Status, l.Processed, l.Total))
		return
	}
	counts := map[string]int{}
	skipped := map[string]int{}
	for start := 0; start < len(ids); start += enrollChunk {
		chunk := ids[start:min(start+enrollChunk, len(ids))]
		out, err := s.cfg.Sequencer.Enroll(r.Context(), ws, cadenceID, sequencer.EnrollRequest{LeadIDs: chunk, Start: req.Start})
		if err != nil {
			s.seqError(w, r, err, "Cadence")
			return
		}
		for _, o := range out {
			counts[o.Outcome]++
			if o.Outcome != "enrolled" {
				skipped[o.Reason]++
			}
		}
	}
	reasons := make([]string, 0, len(skipped))
	for k := range skipped {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	writeJSON(w, http.StatusOK, map[string]any{
		"list_id": l.ID, "statuses": want, "leads": len(ids),
		"enrolled": counts["enrolled"], "skipped": counts["skipped"], "skipped_by_reason": skipped,
		"summary": summary(counts["enrolled"], skipped, reasons),
	})
}

func summary(enrolled int, skipped map[string]int, reasons []string) string {
	parts := []string{fmt.Sprintf("%d enrolled", enrolled)}
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%d skipped (%s)", skipped[r], r))
	}
	return strings.Join(parts, ", ")
}
