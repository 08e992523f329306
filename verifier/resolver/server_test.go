package resolver

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testServer is a scripted DNS server on 127.0.0.1, UDP and TCP on the
// same port, counting the queries it receives.
type testServer struct {
	addr     string
	udp, tcp atomic.Int64
}

func (s *testServer) queries() int64 { return s.udp.Load() + s.tcp.Load() }

// handlerFunc answers one query; tcp says which transport it came over.
// Returning nil drops the query.
type handlerFunc func(r *dns.Msg, tcp bool) *dns.Msg

func startServer(t *testing.T, h handlerFunc) *testServer {
	t.Helper()
	s := &testServer{}
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	// The kernel picks the UDP port; TCP must then get the same one, which
	// another test may hold: try a few.
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("no UDP+TCP port pair: %v", err)
	}
	s.addr = pc.LocalAddr().String()

	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		tcp := w.RemoteAddr().Network() == "tcp"
		if tcp {
			s.tcp.Add(1)
		} else {
			s.udp.Add(1)
		}
		if resp := h(r, tcp); resp != nil {
			w.WriteMsg(resp)
		}
	})
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: handler},
		{Listener: ln, Handler: handler},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.ShutdownContext(ctx)
		})
	}
	return s
}

// rrs is a scripted answer: records in zone-file syntax.
type rrs struct {
	rcode  int      // default NOERROR
	answer []string // answer section
	ns     []string // authority section; nil gets the zone SOA for negative answers
	noSOA  bool     // send negative answers without SOA
}

// testSOA has TTL 300 and MINIMUM 30: negative answers live 30 s.
const testSOA = "example. 300 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 30"

// zone answers from a map keyed "name TYPE" (lowercase FQDN). A name with
// some key but not the asked type gets NODATA; an unknown name NXDOMAIN;
// both with testSOA in the authority section (RFC 2308 §3).
func zone(t *testing.T, z map[string]rrs) handlerFunc {
	return func(r *dns.Msg, tcp bool) *dns.Msg {
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		set, ok := z[name+" "+dns.TypeToString[q.Qtype]]
		if !ok {
			set.rcode = dns.RcodeNameError
			for k := range z {
				if strings.HasPrefix(k, name+" ") {
					set.rcode = dns.RcodeSuccess
				}
			}
		}
		m.Rcode = set.rcode
		m.Answer = parseRRs(t, set.answer)
		m.Ns = parseRRs(t, set.ns)
		if len(m.Answer) == 0 && set.ns == nil && !set.noSOA && m.Rcode != dns.RcodeServerFailure {
			m.Ns = parseRRs(t, []string{testSOA})
		}
		return m
	}
}

func parseRRs(t *testing.T, ss []string) []dns.RR {
	var out []dns.RR
	for _, s := range ss {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Errorf("bad test RR %q: %v", s, err)
			continue
		}
		out = append(out, rr)
	}
	return out
}

// rcodeServer answers every query with rcode and nothing else.
func rcodeServer(rcode int) handlerFunc {
	return func(r *dns.Msg, tcp bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		return m
	}
}

// dropServer never answers; seen, if not nil, gets a signal per query.
func dropServer(seen chan<- struct{}) handlerFunc {
	return func(r *dns.Msg, tcp bool) *dns.Msg {
		if seen != nil {
			seen <- struct{}{}
		}
		return nil
	}
}

// fakeClock is the cache's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClient is a Client for the given servers, with a test-friendly
// timeout unless cfg sets one.
func newClient(t *testing.T, cfg Config, servers ...*testServer) *Client {
	t.Helper()
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, s.addr)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
