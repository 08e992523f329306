package resolver

import (
	"container/list"
	"sync"
	"time"
)

// cache is a size-bounded LRU of answers, each with its own expiry.
// One mutex is enough: a lookup holds it for a map access while a query
// costs a network round trip.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*list.Element
	lru     list.List // front: most recently used; values are *cacheEntry
}

type cacheEntry struct {
	key     cacheKey
	ans     answer
	expires time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[cacheKey]*list.Element)}
}

// get returns the live entry for k. An expired one is dropped on the spot,
// so a stale answer is never served (RFC 1035 §3.2.1: TTL is the time an
// RR may be cached).
func (c *cache) get(k cacheKey, now time.Time) (answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return answer{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, k)
		return answer{}, false
	}
	c.lru.MoveToFront(el)
	return e.ans, true
}

func (c *cache) put(k cacheKey, ans answer, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		e := el.Value.(*cacheEntry)
		e.ans, e.expires = ans, expires
		c.lru.MoveToFront(el)
		return
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, ans: ans, expires: expires})
	for c.lru.Len() > c.max {
		// Least recently used goes first; an expired entry nobody asks for
		// again drifts to the back and goes the same way.
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.entries, el.Value.(*cacheEntry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
