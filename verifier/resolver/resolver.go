package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// MX is one mail exchanger of a domain.
type MX struct {
	Host string // lowercase, no trailing dot; "." for a null MX (RFC 7505)
	Pref uint16
}

// Resolver is the seam other packages depend on. [*Client] implements it;
// tests pass fakes.
type Resolver interface {
	// LookupMX returns the MX RRset of name sorted by preference (stable).
	LookupMX(ctx context.Context, name string) ([]MX, error)
	// LookupIP returns the A and AAAA addresses of host, IPv4 first.
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
	// LookupTXT returns one string per TXT record, its character-strings
	// joined (RFC 7208 §3.3).
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

var (
	// ErrNXDomain: the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	ErrNXDomain = errors.New("resolver: no such domain")
	// ErrServFail: every server that answered failed (SERVFAIL, REFUSED or
	// another RCODE that says nothing about the name).
	ErrServFail = errors.New("resolver: server failure")
	// ErrTimeout: no server gave an answer, because of timeouts or network
	// errors, in all attempts.
	ErrTimeout = errors.New("resolver: timeout")
	// ErrInvalidName: the name cannot be a domain name (empty, label over
	// 63 octets, over 253 octets, spaces, non-ASCII: IDNs must come as
	// A-labels).
	ErrInvalidName = errors.New("resolver: invalid domain name")
)

// LookupError is the error every lookup returns. It wraps one of the
// sentinel errors of this package or the caller's context error.
type LookupError struct {
	Name   string // lowercase, without trailing dot
	Type   string // "MX", "A", "AAAA", "TXT"
	Server string // "host:port" of the last server asked; empty if none was
	Detail string // what went wrong, e.g. "rcode REFUSED", "i/o timeout"
	Err    error
}

func (e *LookupError) Error() string {
	// The sentinels carry the package prefix for when they are printed
	// alone; here it is already at the front.
	msg := fmt.Sprintf("resolver: %s %s: %s", e.Type, e.Name, strings.TrimPrefix(e.Err.Error(), "resolver: "))
	switch {
	case e.Detail != "" && e.Server != "":
		msg += " (" + e.Detail + " from " + e.Server + ")"
	case e.Detail != "":
		msg += " (" + e.Detail + ")"
	}
	return msg
}

func (e *LookupError) Unwrap() error { return e.Err }

// Config configures a [Client]. The zero value is usable: servers from
// /etc/resolv.conf and the defaults below.
type Config struct {
	// Servers are recursive resolvers as "host:port" ("host" alone means
	// port 53). Empty means the nameservers of /etc/resolv.conf.
	Servers []string
	// Timeout bounds one attempt at one server, dial to answer. Default 2s.
	Timeout time.Duration
	// Attempts is how many rounds are made over Servers. Default 2.
	Attempts int
	// CacheSize is the most entries kept; default 100,000, negative
	// disables the cache.
	CacheSize int
	// MinTTL and MaxTTL clamp every cache lifetime. MinTTL defaults to 0
	// (the records' own TTL is honoured, and TTL 0 is not cached, RFC 1035
	// §3.2.1); MaxTTL defaults to 1h so that a long verification run does
	// not keep acting on MX records the domain has since changed.
	MinTTL, MaxTTL time.Duration
	// NegativeTTL is how long NXDOMAIN and NODATA are cached when the
	// answer has no SOA to say (RFC 2308 §5). Default 60s.
	NegativeTTL time.Duration
	// FailureTTL is how long a SERVFAIL is cached (RFC 9520). Default 5s,
	// negative disables.
	FailureTTL time.Duration
	// Now is the clock of the cache. Default time.Now.
	Now func() time.Time
}

// Stats counts what a [Client] did since it was made.
type Stats struct {
	UDPQueries  uint64 // queries sent over UDP
	TCPQueries  uint64 // queries sent over TCP (after truncation)
	CacheHits   uint64 // lookups answered from the cache
	CacheMisses uint64 // lookups not in the cache, collapsed ones included
	Collapsed   uint64 // misses that joined a query already in flight
}

// Client is a caching stub resolver. It is safe for concurrent use; share
// one per process.
type Client struct {
	servers     []string
	timeout     time.Duration
	attempts    int
	minTTL      time.Duration
	maxTTL      time.Duration
	negativeTTL time.Duration
	failureTTL  time.Duration
	now         func() time.Time

	cache  *cache // nil when disabled
	flight flightGroup

	udpQueries, tcpQueries     atomic.Uint64
	hits, misses, collapsedCnt atomic.Uint64

	// testHookJoin, when set, runs each time a lookup joins (or starts)
	// the in-flight query for its key, so that tests wait on a signal.
	testHookJoin func()
}

var _ Resolver = (*Client)(nil)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	c := &Client{
		timeout:     cfg.Timeout,
		attempts:    cfg.Attempts,
		minTTL:      cfg.MinTTL,
		maxTTL:      cfg.MaxTTL,
		negativeTTL: cfg.NegativeTTL,
		failureTTL:  cfg.FailureTTL,
		now:         cfg.Now,
	}
	if c.timeout <= 0 {
		c.timeout = 2 * time.Second
	}
	if c.attempts <= 0 {
		c.attempts = 2
	}
	if c.maxTTL <= 0 {
		c.maxTTL = time.Hour
	}
	if c.minTTL < 0 || c.minTTL > c.maxTTL {
		return nil, fmt.Errorf("resolver: MinTTL %v outside 0..MaxTTL (%v)", cfg.MinTTL, c.maxTTL)
	}
	if c.negativeTTL <= 0 {
		c.negativeTTL = time.Minute
	}
	if c.failureTTL == 0 {
		c.failureTTL = 5 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch size := cfg.CacheSize; {
	case size == 0:
		c.cache = newCache(100_000)
	case size > 0:
		c.cache = newCache(size)
	}

	servers := cfg.Servers
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("resolver: no servers configured and %w", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, errors.New("resolver: no servers configured and none in /etc/resolv.conf")
		}
	}
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			// A bare address, IPv6 ones included, gets the DNS port.
			s = net.JoinHostPort(strings.Trim(s, "[]"), "53")
		}
		c.servers = append(c.servers, s)
	}
	return c, nil
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		UDPQueries:  c.udpQueries.Load(),
		TCPQueries:  c.tcpQueries.Load(),
		CacheHits:   c.hits.Load(),
		CacheMisses: c.misses.Load(),
		Collapsed:   c.collapsedCnt.Load(),
	}
}

// LookupMX implements [Resolver].
func (c *Client) LookupMX(ctx context.Context, name string) ([]MX, error) {
	rrs, err := c.lookup(ctx, name, dns.TypeMX)
	if err != nil || len(rrs) == 0 {
		return nil, err
	}
	mxs := make([]MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		host := strings.ToLower(mx.Mx)
		if host != "." {
			host = strings.TrimSuffix(host, ".")
		}
		mxs = append(mxs, MX{Host: host, Pref: mx.Preference})
	}
	// RFC 5321 §5.1: lower preference first; equal ones keep the order the
	// server gave, which the caller may randomize.
	slices.SortStableFunc(mxs, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	return mxs, nil
}

// LookupTXT implements [Resolver].
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := c.lookup(ctx, name, dns.TypeTXT)
	if err != nil || len(rrs) == 0 {
		return nil, err
	}
	txts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		var b strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			// RFC 7208 §3.3: the strings are concatenated with no space.
			b.WriteString(unescapeTXT(s))
		}
		txts = append(txts, b.String())
	}
	return txts, nil
}

// LookupIP implements [Resolver]. The A and AAAA queries go out
// concurrently. If either yields addresses they are returned without
// error even when the other failed: a host is reachable on the family that
// works (RFC 8305 §3 treats the two answers independently). Without
// addresses the more telling error wins: NXDOMAIN, then a failure of
// either query, then NODATA as (nil, nil).
func (c *Client) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	var (
		wg         sync.WaitGroup
		a, aaaa    []dns.RR
		aErr, bErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		aaaa, bErr = c.lookup(ctx, host, dns.TypeAAAA)
	}()
	a, aErr = c.lookup(ctx, host, dns.TypeA)
	wg.Wait()

	addrs := make([]netip.Addr, 0, len(a)+len(aaaa))
	for _, rr := range a {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
			addrs = append(addrs, ip)
		}
	}
	for _, rr := range aaaa {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16()); ok {
			addrs = append(addrs, ip)
		}
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	switch {
	case errors.Is(aErr, ErrNXDomain):
		return nil, aErr
	case errors.Is(bErr, ErrNXDomain):
		return nil, bErr
	case aErr != nil:
		return nil, aErr
	default:
		return nil, bErr
	}
}

// answer is what a lookup learned, as cached: the records of the asked
// type at the end of the CNAME chain, or the sentinel error for
// NXDOMAIN/SERVFAIL. No records and no error is NODATA.
type answer struct {
	rrs    []dns.RR
	err    error
	server string
	detail string
}

type cacheKey struct {
	name  string // lowercase FQDN
	qtype uint16
}

// lookup answers (name, qtype) from the cache or, on a miss, through the
// single query in flight for that key.
func (c *Client) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	typ := dns.TypeToString[qtype]
	fqdn, ok := canonicalName(name)
	display := strings.TrimSuffix(fqdn, ".")
	if !ok {
		return nil, &LookupError{Name: strings.ToLower(name), Type: typ, Err: ErrInvalidName}
	}
	if err := ctx.Err(); err != nil {
		return nil, &LookupError{Name: display, Type: typ, Err: err}
	}
	key := cacheKey{fqdn, qtype}
	if c.cache != nil {
		if ans, ok := c.cache.get(key, c.now()); ok {
			c.hits.Add(1)
			return ans.rrs, ans.lookupError(display, typ)
		}
	}
	c.misses.Add(1)
	ans, shared, err := c.flight.do(ctx, key, c.testHookJoin, func(qctx context.Context) answer {
		return c.resolve(qctx, fqdn, qtype)
	})
	if shared {
		c.collapsedCnt.Add(1)
	}
	if err != nil {
		// The caller's own context ended; the query may go on for others.
		return nil, &LookupError{Name: display, Type: typ, Err: err}
	}
	return ans.rrs, ans.lookupError(display, typ)
}

func (a answer) lookupError(name, typ string) error {
	if a.err == nil {
		return nil
	}
	return &LookupError{Name: name, Type: typ, Server: a.server, Detail: a.detail, Err: a.err}
}

// resolve queries the servers for (fqdn, qtype) and caches the outcome.
func (c *Client) resolve(ctx context.Context, fqdn string, qtype uint16) answer {
	resp, ans := c.query(ctx, fqdn, qtype)
	if resp == nil {
		if errors.Is(ans.err, ErrServFail) && c.failureTTL > 0 && c.cache != nil {
			c.cache.put(cacheKey{fqdn, qtype}, ans, c.now().Add(c.failureTTL))
		}
		return ans
	}

	rrs, ttl, final := extract(resp, fqdn, qtype)
	if len(rrs) == 0 {
		// NXDOMAIN or NODATA, RFC 2308 §5: the SOA in the authority
		// section says how long; without one, our fallback.
		neg, ok := negativeTTL(resp)
		if !ok {
			neg = c.negativeTTL
		}
		ttl = min(ttl, neg)
		if resp.Rcode == dns.RcodeNameError {
			ans.err = ErrNXDomain
			if final != fqdn {
				// RFC 6604 §3: the RCODE is about the last name of the chain.
				ans.detail = "CNAME target " + strings.TrimSuffix(final, ".") + " does not exist"
			}
		}
	} else {
		ans.err, ans.detail = nil, ""
	}
	ans.rrs = rrs
	ttl = max(c.minTTL, min(ttl, c.maxTTL))
	if ttl > 0 && c.cache != nil {
		c.cache.put(cacheKey{fqdn, qtype}, ans, c.now().Add(ttl))
	}
	return ans
}

// maxChain bounds CNAME chains: real ones have a few links, and a loop
// must not spin.
const maxChain = 16

// extract follows the CNAME chain from qname through the answer section
// and returns the records of qtype at its end, the smallest TTL met on the
// way (a sentinel of MaxTTL+ if none), and the last name of the chain.
func extract(resp *dns.Msg, qname string, qtype uint16) (rrs []dns.RR, ttl time.Duration, final string) {
	ttl = time.Duration(1<<63 - 1)
	name := qname
	for range maxChain {
		var cname *dns.CNAME
		for _, rr := range resp.Answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, name) {
				continue
			}
			switch {
			case h.Rrtype == qtype:
				rrs = append(rrs, rr)
				ttl = min(ttl, time.Duration(h.Ttl)*time.Second)
			case h.Rrtype == dns.TypeCNAME && cname == nil:
				cname = rr.(*dns.CNAME)
			}
		}
		if len(rrs) > 0 || cname == nil {
			return rrs, ttl, name
		}
		ttl = min(ttl, time.Duration(cname.Hdr.Ttl)*time.Second)
		name = strings.ToLower(dns.Fqdn(cname.Target))
	}
	return nil, ttl, name
}

// negativeTTL reads the negative caching time from the SOA in the
// authority section: min(SOA TTL, SOA MINIMUM), RFC 2308 §5.
func negativeTTL(resp *dns.Msg) (time.Duration, bool) {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second, true
		}
	}
	return 0, false
}

// canonicalName returns name as a lowercase FQDN, or false if it cannot be
// one. Beyond dns.IsDomainName it refuses what an email domain or a
// DKIM/DMARC name never holds and what would need zone-file escaping:
// spaces, backslashes, control and non-ASCII bytes (IDNs come as A-labels,
// RFC 5890 §2.3.2.1).
func canonicalName(name string) (string, bool) {
	name = strings.ToLower(name)
	if name == "" || name == "." {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; b <= ' ' || b >= 0x7f || b == '\\' || b == '"' || b == '(' || b == ')' || b == ';' {
			return "", false
		}
	}
	fqdn := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return "", false
	}
	return fqdn, true
}

// unescapeTXT undoes the presentation escaping miekg/dns applies to
// character-strings (\" \\ and \DDD for bytes outside printable ASCII), so
// callers see the octets that were on the wire (RFC 1035 §5.1).
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
