package sequencer

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/store"
)

// stopEnrollments is the one way an enrollment stops, whatever stops it: a
// reply, a colleague's reply, an unsubscribe (by mail or one click), a
// complaint, a bounce, the verification gate, a touch that cannot be sent,
// a person. In tx, it stops the active or paused enrollments which
// selects, with reason, and emits enrollment.stopped for each one it
// stopped (none for those already stopped or finished), so the event
// log and the webhooks see every stop exactly once. client inserts the
// webhook jobs outside a worker (nil inside one).
func (e *Engine) stopEnrollments(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], ws int64, which store.StopWhich, reason string) ([]store.StoppedEnrollment, error) {
	stopped, err := e.Store.StopEnrollments(ctx, tx, ws, which, reason)
	if err != nil {
		return nil, err
	}
	for _, s := range stopped {
		if err := e.emit(ctx, tx, client, ws, "enrollment.stopped", map[string]any{"enrollment_id": s.ID, "lead_id": s.LeadID,
			"email": s.Email, "cadence_id": s.CadenceID, "reason": reason}); err != nil {
			return nil, err
		}
	}
	return stopped, nil
}

// unsubscribe suppresses a lead's address at once, everywhere in the
// workspace, and stops its enrollments with reason; kind is the lead
// event /v1/stats counts ("unsubscribe" or "complaint"), recorded with
// data once per lead and kind: an unsubscribe posted twice (mail clients
// retry RFC 8058 POSTs), or mailed after a click, is one unsubscribe.
// Every way to unsubscribe - a reply, the List-Unsubscribe mailto:
// address, the one-click POST and the page it confirms from - ends here.
func (e *Engine) unsubscribe(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], tm store.TouchMatch, kind, reason string, data map[string]any) error {
	if err := e.Store.SuppressTx(ctx, tx, tm.Workspace, tm.LeadEmail, reason); err != nil {
		return err
	}
	if _, err := e.stopEnrollments(ctx, tx, client, tm.Workspace, store.StopWhich{LeadID: tm.LeadID}, reason); err != nil {
		return err
	}
	n, err := e.Store.CountLeadEvents(ctx, tx, tm.Workspace, tm.LeadID, kind)
	if err != nil || n > 0 {
		return err
	}
	data["enrollment_id"] = tm.EnrollmentID
	if tm.Step > 0 {
		data["step"] = tm.Step
	}
	return e.Store.LeadEvent(ctx, tx, tm.Workspace, tm.LeadID, kind, data)
}

// unsubscribeLocalPrefix starts the local part of the List-Unsubscribe
// mailto: address, unsubscribe+TOKEN@ the bounce domain (Engine.compose
// writes it).
const unsubscribeLocalPrefix = "unsubscribe+"
