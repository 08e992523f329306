package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/touchline/touchline/verifier/domaincheck"
	"github.com/touchline/touchline/verifier/resolver"
)

// domainCache keeps the SPF/DKIM/DMARC audit of each sending domain (and
// DKIM selector) for a while, so a page that refreshes every few seconds
// does not ask DNS every time. An audit runs once at a time per domain, in
// the background: a page waits a little for it, then shows the previous
// result (or "checking") and gets the new one on its next refresh.
type domainCache struct {
	res resolver.Resolver
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[domainKey]*domainEntry
}

type domainKey struct{ domain, selector string }

type domainEntry struct {
	rep *domaincheck.Report // the latest finished audit, nil before the first
	err error
	at  time.Time     // when rep was made
	run chan struct{} // closed when the audit in flight ends; nil when none
}

// domainAuditTimeout bounds one audit: a domain whose DNS hangs must not
// hold a goroutine for longer.
const domainAuditTimeout = 30 * time.Second

func newDomainCache(res resolver.Resolver, ttl time.Duration, now func() time.Time) *domainCache {
	return &domainCache{res: res, ttl: ttl, now: now, entries: map[domainKey]*domainEntry{}}
}

// audit returns the audit of domain with the DKIM selector (empty: the
// common selectors), waiting at most wait for one to finish. rep is nil
// while the first audit of the domain runs.
func (c *domainCache) audit(ctx context.Context, domain, selector string, wait time.Duration) (rep *domaincheck.Report, err error) {
	k := domainKey{domain, selector}
	c.mu.Lock()
	e := c.entries[k]
	if e == nil {
		e = &domainEntry{}
		c.entries[k] = e
	}
	fresh := e.at.Add(c.ttl).After(c.now())
	if (e.rep == nil && e.err == nil) || !fresh {
		if e.run == nil {
			e.run = make(chan struct{})
			go c.run(k, e)
		}
	} else {
		rep, err = e.rep, e.err
		c.mu.Unlock()
		return rep, err
	}
	run := e.run
	c.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-run:
	case <-t.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.rep, e.err
}

func (c *domainCache) run(k domainKey, e *domainEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), domainAuditTimeout)
	defer cancel()
	opts := domaincheck.Options{Resolver: c.res}
	if k.selector != "" {
		opts.DKIMSelectors = []string{k.selector}
	}
	rep, err := domaincheck.Run(ctx, k.domain, opts)
	c.mu.Lock()
	e.rep, e.err, e.at = rep, err, c.now()
	close(e.run)
	e.run = nil
	c.mu.Unlock()
}
