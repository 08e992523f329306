package sequencer

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/store"
)

// PruneInboundArgs is the periodic job that drops raw inbound messages
// past their retention.
type PruneInboundArgs struct{}

// Kind implements river.JobArgs.
func (PruneInboundArgs) Kind() string { return "prune_inbound" }

// PruneInboundWorker drops the raw bytes of inbound messages older than
// Retention, in batches, keeping what classified them. Retention 0 keeps
// everything.
type PruneInboundWorker struct {
	river.WorkerDefaults[PruneInboundArgs]
	Store     *store.Store
	Retention time.Duration
	Now       func() time.Time
}

// Work implements river.Worker.
func (w *PruneInboundWorker) Work(ctx context.Context, job *river.Job[PruneInboundArgs]) error {
	if w.Retention <= 0 {
		return nil
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	cutoff := now().Add(-w.Retention)
	const batch = 5000
	for {
		n, err := w.Store.PruneInboundRaw(ctx, cutoff, batch)
		if err != nil || n < batch {
			return err
		}
	}
}
