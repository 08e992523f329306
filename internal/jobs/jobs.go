// Package jobs holds Touchline's River job kinds and workers. List cleaning
// is one verify_batch job per batch of rows (rows of a domain share a
// batch); a job verifies its rows, writes their verdicts in chunks that
// only fill rows without one, and completes itself in the transaction of
// its last chunk. A worker killed mid-batch loses at most the verdicts of
// its unwritten chunk: River rescues the job, and the retry skips the rows
// already written, so every row ends with exactly one verdict.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/touchline/touchline/internal/metrics"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/verifier"
)

// QueueVerify is the queue of list-cleaning jobs.
const QueueVerify = "verify"

// VerifyBatchArgs names one batch of one list.
type VerifyBatchArgs struct {
	ListID int64 `json:"list_id"`
	Batch  int   `json:"batch"`
}

// Kind implements river.JobArgs.
func (VerifyBatchArgs) Kind() string { return "verify_batch" }

// InsertOpts puts batches on their own queue, unique per list and batch.
func (VerifyBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueVerify, MaxAttempts: 10}
}

// VerifyBatchWorker verifies one batch.
type VerifyBatchWorker struct {
	river.WorkerDefaults[VerifyBatchArgs]
	Store    *store.Store
	Verifier *verifier.Verifier
	Logger   *slog.Logger
	// CacheAge is how old a lead's verdict may be and still be reused
	// (default 30 days).
	CacheAge time.Duration
	// JobTimeout bounds one batch (default 1 minute: a batch does not
	// wait for greylisting, it snoozes, so it runs seconds).
	JobTimeout time.Duration
	// Retry is when a batch whose rows were greylisted or throttled
	// (unknown/greylisted, unknown/temporary_failure) runs again for
	// those rows; RetryBudget is how long such rows keep being retried
	// before their verdict is kept. The Verifier must not wait itself
	// (Config.GreylistRetry < 0). Retry 0 keeps every verdict at once.
	Retry, RetryBudget time.Duration
	// Chunk is how many verdicts are written per transaction (default 50).
	Chunk int
	// Flush is the longest a finished verdict waits to be written (1s).
	Flush time.Duration
}

// Timeout implements river.Worker.
func (w *VerifyBatchWorker) Timeout(*river.Job[VerifyBatchArgs]) time.Duration {
	if w.JobTimeout > 0 {
		return w.JobTimeout
	}
	return time.Minute
}

// retryable reports whether a verdict may change if asked again later:
// waiting is not working, so such a row snoozes the job instead of
// holding a worker (RFC 6647 §2.1: greylisting defers the first attempt).
func retryable(vd verifier.Verdict) bool {
	return vd.Status == verifier.Unknown && (vd.Reason == verifier.ReasonGreylisted || vd.Reason == verifier.ReasonTemporary)
}

// Work implements river.Worker.
func (w *VerifyBatchWorker) Work(ctx context.Context, job *river.Job[VerifyBatchArgs]) error {
	cacheAge := cmpOr(w.CacheAge, 30*24*time.Hour)
	chunk := max(w.Chunk, 1)
	if w.Chunk == 0 {
		chunk = 50
	}
	flushEvery := cmpOr(w.Flush, time.Second)
	b, err := w.Store.PendingBatch(ctx, job.Args.ListID, job.Args.Batch, cacheAge)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the list was deleted
	}
	if err != nil {
		return fmt.Errorf("load batch %d of list %d: %w", job.Args.Batch, job.Args.ListID, err)
	}
	complete := func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	}
	if b.List.Status == "cancelled" || b.List.Status == "failed" || len(b.Rows) == 0 {
		return w.Store.SaveVerdicts(ctx, b.List, nil, complete)
	}
	if err := w.Store.MarkRunning(ctx, b.List.ID); err != nil {
		return err
	}

	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan store.RowVerdict, len(b.Rows))
	var wg sync.WaitGroup
	for _, r := range b.Rows {
		if r.LeadCache != nil {
			v := *r.LeadCache
			v.Detail = cached(v.Detail)
			results <- store.RowVerdict{RowNum: r.RowNum, Fields: r.Fields, Verdict: v}
			continue
		}
		wg.Go(func() {
			// All rows at once: the verifier groups them by MX host and
			// caps connections itself.
			vd := w.Verifier.Verify(vctx, r.Email)
			metrics.Verifications.WithLabelValues(string(vd.Status)).Inc()
			results <- store.RowVerdict{RowNum: r.RowNum, Fields: r.Fields, Verdict: vd}
		})
	}
	go func() { wg.Wait(); close(results) }()

	// Snoozes count as attempts in River, so the attempt number says how
	// many times this batch already waited (a rescue after a crash counts
	// too, which only shortens the wait).
	retry := w.Retry > 0 && time.Duration(job.Attempt)*w.Retry <= w.RetryBudget
	held := 0
	var pending []store.RowVerdict
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				if held > 0 {
					// Keep what is known; the rest is asked again when
					// the job wakes.
					if err := w.Store.SaveVerdicts(ctx, b.List, pending, nil); err != nil {
						return err
					}
					return river.JobSnooze(w.Retry)
				}
				// The last chunk and the job's completion commit together.
				return w.Store.SaveVerdicts(ctx, b.List, pending, complete)
			}
			if vctx.Err() != nil && r.Verdict.Reason == verifier.ReasonTimeout {
				continue // cut short by cancellation: leave the row for no one
			}
			if retry && retryable(r.Verdict) {
				held++
				continue
			}
			pending = append(pending, r)
			if len(pending) < chunk {
				continue
			}
		case <-tick.C:
			if len(pending) == 0 {
				continue
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := w.Store.SaveVerdicts(ctx, b.List, pending, nil); err != nil {
			return err
		}
		pending = pending[:0]
		if st, err := w.Store.ListStatus(ctx, b.List.ID); err == nil && st == "cancelled" {
			cancel()
		} else if errors.Is(err, store.ErrNotFound) {
			cancel()
		}
	}
}

func cached(detail string) string {
	if detail == "" {
		return "verdict reused from an earlier verification"
	}
	return detail + " (verdict reused from an earlier verification)"
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Enqueuer returns the function store.Ingest calls inside an upload's
// transaction to insert one job per batch.
func Enqueuer(client *river.Client[pgx.Tx]) func(ctx context.Context, tx pgx.Tx, listID int64, batches int) error {
	return func(ctx context.Context, tx pgx.Tx, listID int64, batches int) error {
		params := make([]river.InsertManyParams, batches)
		for i := range params {
			params[i] = river.InsertManyParams{Args: VerifyBatchArgs{ListID: listID, Batch: i + 1}}
		}
		_, err := client.InsertManyFastTx(ctx, tx, params)
		return err
	}
}

// Config sets up a River client for Touchline.
type Config struct {
	// Workers is how many batches one process works at once; 0 makes an
	// insert-only client (an API process started with --no-workers).
	Workers int
	Worker  *VerifyBatchWorker
	// RescueAfter is when a job whose process died is retried; it must
	// exceed the job timeout.
	RescueAfter time.Duration
	Logger      *slog.Logger
	// Register adds more workers (the sequencer's touches), with the
	// queues they use and how many jobs of each run at once.
	Register func(*river.Workers) error
	Queues   map[string]int
	// Periodic jobs run on the leader process (e.g. polling mailboxes).
	Periodic []*river.PeriodicJob
}

// NewClient returns a River client on the store's pool.
func NewClient(st *store.Store, cfg Config) (*river.Client[pgx.Tx], error) {
	rc := &river.Config{
		Logger: cfg.Logger,
		// Tuned per FIELD-NOTES: defaults pick up work about 0.5 s late.
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
	}
	if cfg.Workers > 0 {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, cfg.Worker); err != nil {
			return nil, err
		}
		if cfg.Register != nil {
			if err := cfg.Register(workers); err != nil {
				return nil, err
			}
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{QueueVerify: {MaxWorkers: cfg.Workers}}
		for q, n := range cfg.Queues {
			rc.Queues[q] = river.QueueConfig{MaxWorkers: n}
		}
		rc.PeriodicJobs = cfg.Periodic
		rc.JobTimeout = cfg.Worker.Timeout(nil)
		rc.RescueStuckJobsAfter = rc.JobTimeout + time.Minute
		if cfg.RescueAfter > rc.JobTimeout {
			rc.RescueStuckJobsAfter = cfg.RescueAfter
		}
	}
	return river.NewClient(riverpgxv5.New(st.Pool()), rc)
}
