package resolver

import (
	"context"
	"sync"
)

// flightGroup collapses concurrent lookups of the same key into one query,
// like golang.org/x/sync/singleflight, with one difference that matters
// here: each caller waits under its own context. The query runs detached
// from any one caller and is cancelled only when every caller waiting on
// it has given up, so a verifier goroutine hitting its deadline does not
// fail the hundred others waiting for gmail.com's MX.
type flightGroup struct {
	mu    sync.Mutex
	calls map[cacheKey]*flightCall
}

type flightCall struct {
	done    chan struct{} // closed when ans is set
	ans     answer
	waiters int // guarded by flightGroup.mu
	cancel  context.CancelFunc
}

// do returns fn's answer for k, running fn only if no call for k is in
// flight. shared reports whether the caller joined another's call. err is
// non-nil only when ctx ended before the answer came.
func (g *flightGroup) do(ctx context.Context, k cacheKey, joined func(), fn func(context.Context) answer) (ans answer, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[cacheKey]*flightCall)
	}
	call, shared := g.calls[k]
	if shared {
		call.waiters++
	} else {
		// WithoutCancel keeps ctx's values but not its deadline: the query
		// is bounded by Timeout × Attempts × servers instead.
		qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		call = &flightCall{done: make(chan struct{}), waiters: 1, cancel: cancel}
		g.calls[k] = call
		go func() {
			defer cancel()
			a := fn(qctx)
			g.mu.Lock()
			if g.calls[k] == call {
				delete(g.calls, k)
			}
			g.mu.Unlock()
			call.ans = a
			close(call.done)
		}()
	}
	g.mu.Unlock()
	if joined != nil {
		joined()
	}

	select {
	case <-call.done:
		return call.ans, shared, nil
	case <-ctx.Done():
		g.mu.Lock()
		call.waiters--
		if call.waiters == 0 {
			// Nobody is left to read the answer: stop the query, and let
			// the next caller start a fresh one rather than join a
			// cancelled call.
			call.cancel()
			if g.calls[k] == call {
				delete(g.calls, k)
			}
		}
		g.mu.Unlock()
		return answer{}, shared, ctx.Err()
	}
}
