package verifier

import (
	"context"
	"iter"
)

// DefaultWindow is how many addresses VerifyEach keeps in flight by default:
// enough to keep every MX host of a large list busy, small enough that
// memory stays flat however long the list is.
const DefaultWindow = 4096

// VerifyEach verifies the address of every item of items and calls emit
// with the item and its verdict, in input order. At most window items are in
// flight at once (DefaultWindow when window <= 0), so a list of any length is
// streamed in constant memory; within the window, addresses are grouped by
// MX host and verified concurrently. emit runs on the caller's goroutine;
// an error from it stops the run and is returned. Cancelling ctx stops
// reading items; items already read still reach emit, with unknown
// verdicts if they were cut short.
func VerifyEach[T any](ctx context.Context, v *Verifier, window int, items iter.Seq[T], address func(T) string, emit func(T, Verdict) error) error {
	if window <= 0 {
		window = DefaultWindow
	}
	type pending struct {
		item T
		done chan Verdict
	}
	queue := make(chan pending, window)
	stop := make(chan struct{}) // closed when emit failed: stop reading
	go func() {
		defer close(queue)
		for it := range items {
			if ctx.Err() != nil {
				return
			}
			p := pending{item: it, done: make(chan Verdict, 1)}
			select {
			case queue <- p:
			case <-stop:
				return
			}
			go func() { p.done <- v.Verify(ctx, address(p.item)) }()
		}
	}()
	var err error
	for p := range queue {
		vd := <-p.done
		if err != nil {
			continue // drain, so no goroutine is left blocked
		}
		if err = emit(p.item, vd); err != nil {
			close(stop)
		}
	}
	return err
}
