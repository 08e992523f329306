package resolver

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// world is a small DNS of mail domains shared by the read-only tests.
var world = map[string]rrs{
	"example.com. MX": {answer: []string{
		"example.com. 300 IN MX 20 mx-b.example.com.",
		"example.com. 300 IN MX 10 MX-A.Example.COM.",
		"example.com. 300 IN MX 10 mx-c.example.com.",
		"example.com. 300 IN MX 30 mx-d.example.com.",
	}},
	"example.com. A": {answer: []string{"example.com. 300 IN A 192.0.2.10"}},
	// RFC 7505 §3: a single MX with preference 0 and root target.
	"nullmx.example. MX": {answer: []string{"nullmx.example. 300 IN MX 0 ."}},
	// A domain with only an address: NODATA for MX, RFC 5321 §5.1's
	// implicit MX applies.
	"aonly.example. A": {answer: []string{"aonly.example. 300 IN A 192.0.2.20"}},
	// A chain of two CNAMEs to example.com.
	"alias.example. MX": {answer: []string{
		"alias.example. 300 IN CNAME alias2.example.",
		"alias2.example. 300 IN CNAME example.com.",
		"example.com. 300 IN MX 10 mx-a.example.com.",
	}},
	// RFC 6604: the RCODE is about the end of the chain.
	"dangling.example. MX": {rcode: dns.RcodeNameError, answer: []string{
		"dangling.example. 300 IN CNAME gone.example.",
	}},
	"loop.example. MX": {answer: []string{
		"loop.example. 300 IN CNAME loop2.example.",
		"loop2.example. 300 IN CNAME loop.example.",
	}},
	"dual.example. A": {answer: []string{
		"dual.example. 300 IN A 192.0.2.1",
		"dual.example. 300 IN A 192.0.2.2",
	}},
	"dual.example. AAAA": {answer: []string{"dual.example. 300 IN AAAA 2001:db8::1"}},
	"v4.example. A":      {answer: []string{"v4.example. 300 IN A 192.0.2.4"}},
	"v6.example. AAAA":   {answer: []string{"v6.example. 300 IN AAAA 2001:db8::6"}},
	"half.example. A":    {answer: []string{"half.example. 300 IN A 192.0.2.5"}},
	"half.example. AAAA": {rcode: dns.RcodeServerFailure},
	"mxonly.example. MX": {answer: []string{"mxonly.example. 300 IN MX 10 mx.example.com."}},
	"ipfail.example. MX": {answer: []string{"ipfail.example. 300 IN MX 10 mx.example.com."}},
	"ipfail.example. A":  {rcode: dns.RcodeServerFailure},
	// SPF split over two character-strings, RFC 7208 §3.3.
	"example.com. TXT": {answer: []string{
		`example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 " "include:_spf.example.net ~all"`,
		`example.com. 300 IN TXT "google-site-verification=abc123"`,
	}},
	"sel._domainkey.example.com. TXT": {answer: []string{
		`sel._domainkey.example.com. 300 IN TXT "v=DKIM1; k=ed25519; " "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`,
	}},
	// Quotes, backslashes and non-ASCII octets come back as on the wire.
	"escaped.example. TXT": {answer: []string{`escaped.example. 300 IN TXT "say \"hi\" \\o/ " "\195\188"`}},
}

func TestLookupMX(t *testing.T) {
	t.Parallel()
	c := newClient(t, Config{}, startServer(t, zone(t, world)))
	tests := []struct {
		name    string
		in      string
		want    []MX
		wantErr error
	}{
		{"sorted stable by preference", "example.com", []MX{
			{"mx-a.example.com", 10}, {"mx-c.example.com", 10}, {"mx-b.example.com", 20}, {"mx-d.example.com", 30},
		}, nil},
		{"uppercase with trailing dot", "EXAMPLE.Com.", []MX{
			{"mx-a.example.com", 10}, {"mx-c.example.com", 10}, {"mx-b.example.com", 20}, {"mx-d.example.com", 30},
		}, nil},
		{"null MX", "nullmx.example", []MX{{".", 0}}, nil},
		{"NODATA is not an error", "aonly.example", nil, nil},
		{"NXDOMAIN", "missing.example", nil, ErrNXDomain},
		{"CNAME chain", "alias.example", []MX{{"mx-a.example.com", 10}}, nil},
		{"CNAME to a missing name", "dangling.example", nil, ErrNXDomain},
		{"CNAME loop ends", "loop.example", nil, nil},
		{"space in name", "exa mple.com", nil, ErrInvalidName},
		{"empty name", "", nil, ErrInvalidName},
		{"root", ".", nil, ErrInvalidName},
		{"empty label", "a..example", nil, ErrInvalidName},
		{"U-label", "bücher.example", nil, ErrInvalidName},
		{"label over 63 octets", strings.Repeat("a", 64) + ".example", nil, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.LookupMX(context.Background(), tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("LookupMX(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("LookupMX(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLookupIP(t *testing.T) {
	t.Parallel()
	c := newClient(t, Config{}, startServer(t, zone(t, world)))
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		name    string
		in      string
		want    []netip.Addr
		wantErr error
	}{
		{"A and AAAA, IPv4 first", "dual.example", addrs("192.0.2.1", "192.0.2.2", "2001:db8::1"), nil},
		{"A only", "v4.example", addrs("192.0.2.4"), nil},
		{"AAAA only", "V6.EXAMPLE.", addrs("2001:db8::6"), nil},
		{"AAAA fails, A answers", "half.example", addrs("192.0.2.5"), nil},
		{"no address records", "mxonly.example", nil, nil},
		{"A fails, AAAA NODATA", "ipfail.example", nil, ErrServFail},
		{"NXDOMAIN", "missing.example", nil, ErrNXDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.LookupIP(context.Background(), tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("LookupIP(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("LookupIP(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// The A query must not wait for the AAAA answer: the server holds back A
// until it has seen AAAA, which a sequential client would never send.
func TestLookupIPConcurrent(t *testing.T) {
	t.Parallel()
	answer := zone(t, world)
	aaaaSeen := make(chan struct{})
	var once sync.Once
	s := startServer(t, func(r *dns.Msg, tcp bool) *dns.Msg {
		switch r.Question[0].Qtype {
		case dns.TypeAAAA:
			once.Do(func() { close(aaaaSeen) })
		case dns.TypeA:
			select {
			case <-aaaaSeen:
			case <-time.After(5 * time.Second):
				t.Error("A answered without an AAAA query in flight")
			}
		}
		return answer(r, tcp)
	})
	c := newClient(t, Config{Timeout: 10 * time.Second}, s)
	got, err := c.LookupIP(context.Background(), "dual.example")
	if err != nil || len(got) != 3 {
		t.Fatalf("LookupIP = %v, %v", got, err)
	}
}

func TestLookupTXT(t *testing.T) {
	t.Parallel()
	c := newClient(t, Config{}, startServer(t, zone(t, world)))
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{"SPF in two strings, and a second record", "example.com", []string{
			"v=spf1 ip4:192.0.2.0/24 include:_spf.example.net ~all",
			"google-site-verification=abc123",
		}, nil},
		{"DKIM key under an underscore label", "sel._domainkey.example.com", []string{
			"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		}, nil},
		{"escapes undone", "escaped.example", []string{`say "hi" \o/ ü`}, nil},
		{"NODATA", "aonly.example", nil, nil},
		{"NXDOMAIN", "_dmarc.missing.example", nil, ErrNXDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.LookupTXT(context.Background(), tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("LookupTXT(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("LookupTXT(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The query carries RD and an EDNS0 OPT with 1232 bytes.
func TestQueryFlags(t *testing.T) {
	t.Parallel()
	answer := zone(t, world)
	type seen struct {
		rd      bool
		udpSize uint16
	}
	got := make(chan seen, 1)
	s := startServer(t, func(r *dns.Msg, tcp bool) *dns.Msg {
		var sz uint16
		if opt := r.IsEdns0(); opt != nil {
			sz = opt.UDPSize()
		}
		got <- seen{r.RecursionDesired, sz}
		return answer(r, tcp)
	})
	c := newClient(t, Config{}, s)
	if _, err := c.LookupMX(context.Background(), "example.com"); err != nil {
		t.Fatal(err)
	}
	if q := <-got; !q.rd || q.udpSize != 1232 {
		t.Errorf("query RD=%v EDNS0 size=%d, want RD and 1232", q.rd, q.udpSize)
	}
}

func TestFailover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first handlerFunc
	}{
		{"SERVFAIL", rcodeServer(dns.RcodeServerFailure)},
		{"REFUSED", rcodeServer(dns.RcodeRefused)},
		{"NOTIMP", rcodeServer(dns.RcodeNotImplemented)},
		{"drops packets", dropServer(nil)},
		{"answers another question", func(r *dns.Msg, tcp bool) *dns.Msg {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Question[0].Name = "evil.example."
			m.Answer = parseRRs(t, []string{"evil.example. 300 IN MX 10 mx.evil.example."})
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := startServer(t, tt.first)
			good := startServer(t, zone(t, world))
			c := newClient(t, Config{Timeout: 100 * time.Millisecond}, bad, good)
			got, err := c.LookupMX(context.Background(), "nullmx.example")
			if err != nil || !slices.Equal(got, []MX{{".", 0}}) {
				t.Fatalf("LookupMX = %v, %v; want the second server's answer", got, err)
			}
			if bad.queries() != 1 || good.queries() != 1 {
				t.Errorf("queries: first server %d, second %d; want 1 and 1", bad.queries(), good.queries())
			}
		})
	}
}

// When no server helps, every server is tried Attempts times and the error
// says why.
func TestAllServersFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		servers []handlerFunc
		wantErr error
		wantMsg string
	}{
		{"all SERVFAIL", []handlerFunc{rcodeServer(dns.RcodeServerFailure), rcodeServer(dns.RcodeServerFailure)},
			ErrServFail, "resolver: MX example.com: server failure (rcode SERVFAIL from "},
		{"all drop", []handlerFunc{dropServer(nil), dropServer(nil)},
			ErrTimeout, "resolver: MX example.com: timeout ("},
		// A failure answer says more than silence.
		{"one drops, one REFUSED", []handlerFunc{dropServer(nil), rcodeServer(dns.RcodeRefused)},
			ErrServFail, "resolver: MX example.com: server failure (rcode REFUSED from "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var servers []*testServer
			for _, h := range tt.servers {
				servers = append(servers, startServer(t, h))
			}
			c := newClient(t, Config{Timeout: 50 * time.Millisecond, Attempts: 2}, servers...)
			_, err := c.LookupMX(context.Background(), "example.com")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			var le *LookupError
			if !errors.As(err, &le) || le.Name != "example.com" || le.Type != "MX" {
				t.Errorf("error %#v is not a LookupError for MX example.com", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("error text %q, want prefix %q", err.Error(), tt.wantMsg)
			}
			for i, s := range servers {
				if s.queries() != 2 {
					t.Errorf("server %d got %d queries, want 2 (one per attempt)", i, s.queries())
				}
			}
			if st := c.Stats(); st.UDPQueries != 4 {
				t.Errorf("Stats().UDPQueries = %d, want 4", st.UDPQueries)
			}
		})
	}
}

// A truncated UDP answer is asked again over TCP, RFC 7766 §5.
func TestTruncationRetriesOverTCP(t *testing.T) {
	t.Parallel()
	answer := zone(t, world)
	s := startServer(t, func(r *dns.Msg, tcp bool) *dns.Msg {
		if tcp {
			return answer(r, tcp)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		return m
	})
	c := newClient(t, Config{}, s)
	got, err := c.LookupMX(context.Background(), "example.com")
	if err != nil || len(got) != 4 {
		t.Fatalf("LookupMX = %v, %v; want the 4 MX records from TCP", got, err)
	}
	if s.udp.Load() != 1 || s.tcp.Load() != 1 {
		t.Errorf("server saw %d UDP and %d TCP queries, want 1 and 1", s.udp.Load(), s.tcp.Load())
	}
	if st := c.Stats(); st.UDPQueries != 1 || st.TCPQueries != 1 {
		t.Errorf("Stats = %+v, want 1 UDP and 1 TCP", st)
	}
}

// RFC 6891 §7: a server that answers FORMERR without OPT is asked again
// without EDNS.
func TestFormErrRetriesWithoutEDNS(t *testing.T) {
	t.Parallel()
	answer := zone(t, world)
	s := startServer(t, func(r *dns.Msg, tcp bool) *dns.Msg {
		if r.IsEdns0() != nil {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeFormatError)
			m.Extra = nil
			return m
		}
		return answer(r, tcp)
	})
	c := newClient(t, Config{}, s)
	got, err := c.LookupMX(context.Background(), "nullmx.example")
	if err != nil || len(got) != 1 {
		t.Fatalf("LookupMX = %v, %v", got, err)
	}
	if s.udp.Load() != 2 {
		t.Errorf("server saw %d queries, want 2", s.udp.Load())
	}
}

// step is one lookup at a moment of the fake clock, and whether it must
// reach the server.
type step struct {
	at    time.Duration // since the first lookup
	query bool          // true: a miss that reaches the server
}

func runSteps(t *testing.T, c *Client, clock *fakeClock, s *testServer, lookup func() error, steps []step) {
	t.Helper()
	var elapsed time.Duration
	want := int64(0)
	for i, st := range steps {
		clock.Advance(st.at - elapsed)
		elapsed = st.at
		if err := lookup(); err != nil && !errors.Is(err, ErrNXDomain) && !errors.Is(err, ErrServFail) {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.query {
			want++
		}
		if got := s.queries(); got != want {
			t.Fatalf("step %d at %v: server saw %d queries, want %d", i, st.at, got, want)
		}
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		set   rrs
		cfg   Config
		steps []step
	}{
		{"record TTL", rrs{answer: []string{"t.example. 300 IN MX 10 mx.example."}}, Config{},
			[]step{{0, true}, {299 * time.Second, false}, {300 * time.Second, true}, {301 * time.Second, false}}},
		{"RRset minimum", rrs{answer: []string{
			"t.example. 300 IN MX 10 mx1.example.",
			"t.example. 100 IN MX 20 mx2.example.",
		}}, Config{},
			[]step{{0, true}, {99 * time.Second, false}, {100 * time.Second, true}}},
		{"CNAME TTL bounds the chain", rrs{answer: []string{
			"t.example. 60 IN CNAME u.example.",
			"u.example. 300 IN MX 10 mx.example.",
		}}, Config{},
			[]step{{0, true}, {59 * time.Second, false}, {60 * time.Second, true}}},
		{"MaxTTL clamps", rrs{answer: []string{"t.example. 86400 IN MX 10 mx.example."}}, Config{MaxTTL: 10 * time.Second},
			[]step{{0, true}, {9 * time.Second, false}, {10 * time.Second, true}}},
		{"default MaxTTL is 1h", rrs{answer: []string{"t.example. 86400 IN MX 10 mx.example."}}, Config{},
			[]step{{0, true}, {time.Hour - time.Second, false}, {time.Hour, true}}},
		{"TTL 0 is not cached", rrs{answer: []string{"t.example. 0 IN MX 10 mx.example."}}, Config{},
			[]step{{0, true}, {0, true}}},
		{"MinTTL raises TTL 0", rrs{answer: []string{"t.example. 0 IN MX 10 mx.example."}}, Config{MinTTL: 5 * time.Second},
			[]step{{0, true}, {4 * time.Second, false}, {5 * time.Second, true}}},
		{"cache disabled", rrs{answer: []string{"t.example. 300 IN MX 10 mx.example."}}, Config{CacheSize: -1},
			[]step{{0, true}, {0, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, zone(t, map[string]rrs{"t.example. MX": tt.set}))
			clock := newFakeClock()
			tt.cfg.Now = clock.Now
			c := newClient(t, tt.cfg, s)
			runSteps(t, c, clock, s, func() error {
				got, err := c.LookupMX(context.Background(), "t.example")
				if err == nil && len(got) == 0 {
					t.Error("cached answer lost its records")
				}
				return err
			}, tt.steps)
		})
	}
}

// RFC 2308 §5: NXDOMAIN and NODATA live min(SOA TTL, SOA MINIMUM).
func TestNegativeCaching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		z       map[string]rrs
		lookup  string
		wantErr error
		steps   []step
	}{
		{"NXDOMAIN, SOA MINIMUM smaller", map[string]rrs{}, "gone.example", ErrNXDomain,
			[]step{{0, true}, {29 * time.Second, false}, {30 * time.Second, true}}},
		{"NODATA, SOA TTL smaller", map[string]rrs{"t.example. A": {
			answer: []string{"t.example. 300 IN A 192.0.2.1"},
		}, "t.example. MX": {ns: []string{"example. 20 IN SOA ns.example. h.example. 1 3600 600 86400 3600"}}},
			"t.example", nil,
			[]step{{0, true}, {19 * time.Second, false}, {20 * time.Second, true}}},
		{"NXDOMAIN without SOA: 60s fallback", map[string]rrs{"gone.example. MX": {rcode: dns.RcodeNameError, noSOA: true}},
			"gone.example", ErrNXDomain,
			[]step{{0, true}, {59 * time.Second, false}, {60 * time.Second, true}}},
		{"NODATA through a CNAME with a shorter TTL", map[string]rrs{"t.example. MX": {answer: []string{
			"t.example. 10 IN CNAME u.example.",
		}}}, "t.example", nil,
			[]step{{0, true}, {9 * time.Second, false}, {10 * time.Second, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, zone(t, tt.z))
			clock := newFakeClock()
			c := newClient(t, Config{Now: clock.Now}, s)
			runSteps(t, c, clock, s, func() error {
				got, err := c.LookupMX(context.Background(), tt.lookup)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || got != nil {
					t.Errorf("LookupMX = %v, %v; want nil, %v", got, err, tt.wantErr)
				}
				return nil
			}, tt.steps)
			if st := c.Stats(); st.CacheHits == 0 {
				t.Errorf("Stats = %+v, want cache hits", st)
			}
		})
	}
}

// SERVFAIL is cached for FailureTTL (RFC 9520); timeouts are not cached.
func TestFailureCaching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server handlerFunc
		cfg    Config
		steps  []step
	}{
		{"SERVFAIL for 5s by default", rcodeServer(dns.RcodeServerFailure), Config{Attempts: 1},
			[]step{{0, true}, {4 * time.Second, false}, {5 * time.Second, true}}},
		{"SERVFAIL caching disabled", rcodeServer(dns.RcodeServerFailure), Config{Attempts: 1, FailureTTL: -1},
			[]step{{0, true}, {0, true}}},
		{"timeouts are not cached", dropServer(nil), Config{Attempts: 1, Timeout: 20 * time.Millisecond},
			[]step{{0, true}, {0, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tt.server)
			clock := newFakeClock()
			tt.cfg.Now = clock.Now
			c := newClient(t, tt.cfg, s)
			runSteps(t, c, clock, s, func() error {
				_, err := c.LookupMX(context.Background(), "example.com")
				if err == nil {
					t.Error("lookup succeeded against a failing server")
				}
				return nil
			}, tt.steps)
		})
	}
}

// Names differing in case or trailing dot share one cache entry.
func TestCacheKeyCanonical(t *testing.T) {
	t.Parallel()
	s := startServer(t, zone(t, world))
	c := newClient(t, Config{}, s)
	for _, name := range []string{"example.com", "EXAMPLE.COM", "Example.Com.", "example.com."} {
		if _, err := c.LookupMX(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if s.queries() != 1 {
		t.Errorf("server saw %d queries, want 1", s.queries())
	}
	if st := c.Stats(); st.CacheHits != 3 || st.CacheMisses != 1 {
		t.Errorf("Stats = %+v, want 3 hits and 1 miss", st)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	s := startServer(t, zone(t, map[string]rrs{
		"a.example. MX": {answer: []string{"a.example. 300 IN MX 10 mx.example."}},
		"b.example. MX": {answer: []string{"b.example. 300 IN MX 10 mx.example."}},
		"c.example. MX": {answer: []string{"c.example. 300 IN MX 10 mx.example."}},
	}))
	c := newClient(t, Config{CacheSize: 2}, s)
	for i, st := range []struct {
		name  string
		query bool
	}{
		{"a", true}, {"b", true}, {"a", false}, // a is now the most recent
		{"c", true},  // evicts b
		{"a", false}, // still there
		{"b", true},  // was evicted
	} {
		before := s.queries()
		if _, err := c.LookupMX(context.Background(), st.name+".example"); err != nil {
			t.Fatal(err)
		}
		if sent := s.queries() > before; sent != st.query {
			t.Errorf("step %d (%s): query sent = %v, want %v", i, st.name, sent, st.query)
		}
	}
	if n := c.cache.len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
}

// N concurrent lookups of one name send one query.
func TestSingleflight(t *testing.T) {
	t.Parallel()
	const n = 50
	answer := zone(t, world)
	release := make(chan struct{})
	s := startServer(t, func(r *dns.Msg, tcp bool) *dns.Msg {
		<-release
		return answer(r, tcp)
	})
	c := newClient(t, Config{Timeout: 10 * time.Second}, s)
	var joined sync.WaitGroup
	joined.Add(n)
	c.testHookJoin = joined.Done

	results := make(chan error, n)
	for range n {
		go func() {
			got, err := c.LookupMX(context.Background(), "example.com")
			if err == nil && len(got) != 4 {
				err = errors.New("wrong answer")
			}
			results <- err
		}()
	}
	joined.Wait() // every lookup is waiting on the one query
	close(release)
	for range n {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if s.queries() != 1 {
		t.Errorf("server saw %d queries, want 1", s.queries())
	}
	if st := c.Stats(); st.UDPQueries != 1 || st.CacheMisses != n || st.Collapsed != n-1 {
		t.Errorf("Stats = %+v, want 1 UDP query, %d misses, %d collapsed", st, n, n-1)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()

	t.Run("cancel while waiting for a silent server", func(t *testing.T) {
		t.Parallel()
		seen := make(chan struct{}, 4)
		s := startServer(t, dropServer(seen))
		c := newClient(t, Config{Timeout: time.Minute}, s)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.LookupMX(ctx, "example.com")
			done <- err
		}()
		<-seen
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("lookup did not return after cancel")
		}
		// The abandoned query must be gone: a new lookup sends a new one.
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() {
			c.LookupMX(ctx2, "example.com")
		}()
		<-seen
		cancel2()
	})

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, dropServer(nil))
		c := newClient(t, Config{Timeout: time.Minute}, s)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.LookupTXT(ctx, "example.com")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, zone(t, world))
		c := newClient(t, Config{}, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.LookupIP(ctx, "dual.example"); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if s.queries() != 0 {
			t.Errorf("server saw %d queries, want 0", s.queries())
		}
	})

	// One caller giving up must not fail another waiting on the same query.
	t.Run("other waiters keep the query", func(t *testing.T) {
		t.Parallel()
		answer := zone(t, world)
		release := make(chan struct{})
		s := startServer(t, func(r *dns.Msg, tcp bool) *dns.Msg {
			<-release
			return answer(r, tcp)
		})
		c := newClient(t, Config{Timeout: 10 * time.Second}, s)
		var joined sync.WaitGroup
		joined.Add(2)
		c.testHookJoin = joined.Done

		ctx1, cancel1 := context.WithCancel(context.Background())
		first, second := make(chan error, 1), make(chan error, 1)
		go func() { _, err := c.LookupMX(ctx1, "example.com"); first <- err }()
		go func() { _, err := c.LookupMX(context.Background(), "example.com"); second <- err }()
		joined.Wait()
		cancel1()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Errorf("first: error = %v, want context.Canceled", err)
		}
		close(release)
		if err := <-second; err != nil {
			t.Errorf("second: error = %v, want the answer", err)
		}
		if s.queries() != 1 {
			t.Errorf("server saw %d queries, want 1", s.queries())
		}
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Servers: []string{"192.0.2.53", "2001:db8::53", "[2001:db8::54]:5353", "127.0.0.1:5300"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.53:53", "[2001:db8::53]:53", "[2001:db8::54]:5353", "127.0.0.1:5300"}
	if !slices.Equal(c.servers, want) {
		t.Errorf("servers = %q, want %q", c.servers, want)
	}
	if c.timeout != 2*time.Second || c.attempts != 2 || c.maxTTL != time.Hour || c.cache.max != 100_000 {
		t.Errorf("defaults: timeout %v attempts %d maxTTL %v cache %d", c.timeout, c.attempts, c.maxTTL, c.cache.max)
	}
	if _, err := New(Config{Servers: []string{"127.0.0.1"}, MinTTL: 2 * time.Hour}); err == nil {
		t.Error("MinTTL above MaxTTL accepted")
	}
}
