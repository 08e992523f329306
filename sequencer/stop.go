package sequencer

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/store"
)

// stopEnrollment stops an active or paused enrollment for reason and, if
// it did, emits enrollment.stopped in the same transaction: a stop nobody
// hears of is a lead left hanging. It reports whether it stopped it (false:
// already stopped or finished). client may be nil inside a worker.
func (e *Engine) stopEnrollment(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], en store.Enrollment, lead store.Lead, reason string) (bool, error) {
	ok, err := e.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"active", "paused"}, "stopped", reason)
	if err != nil || !ok {
		return false, err
	}
	return true, e.emit(ctx, tx, client, en.Workspace, "enrollment.stopped", map[string]any{
		"lead_id": lead.ID, "email": lead.Email, "enrollment_id": en.ID, "reason": reason})
}
