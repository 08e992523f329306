package mailsim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestDNSRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx1.acme.test"})
	mustAddHost(t, w, Host{Name: "mx2.acme.test"})
	mustAddHost(t, w, Host{Name: "mx.private.test", Address: "10.20.30.40"})
	mustAddHost(t, w, Host{Name: "mx6.private.test", Address: "fd00::1"})
	mustAddDomain(t, w, Domain{
		Name: "Acme.Test",
		MX:   []MX{{10, "mx1.acme.test"}, {20, "mx2.acme.test"}},
		Records: []string{
			`acme.test. 300 IN TXT "v=spf1 -all"`,
			`_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:d@acme.test"`,
			`sel._domainkey.acme.test. IN TXT "v=DKIM1; k=rsa; " "p=MIIBIjANBgkq"`,
			`www IN CNAME acme.test.`,
		},
	})
	mustAddDomain(t, w, Domain{Name: "nullmx.test", NullMX: true})
	mustAddDomain(t, w, Domain{Name: "apex.test", Apex: &Host{}})
	mustAddDomain(t, w, Domain{Name: "nomail.test", TTL: 60})

	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			r := query(t, w, "acme.test", dns.TypeMX, network)
			if !r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
				t.Fatalf("MX acme.test: %v", r)
			}
			var mxs []string
			for _, rr := range r.Answer {
				mx := rr.(*dns.MX)
				mxs = append(mxs, fmt.Sprint(mx.Preference, " ", mx.Mx))
				if mx.Hdr.Ttl != 300 {
					t.Errorf("TTL %d, want default 300", mx.Hdr.Ttl)
				}
			}
			if want := []string{"10 mx1.acme.test.", "20 mx2.acme.test."}; !slices.Equal(mxs, want) {
				t.Errorf("MX = %v, want %v", mxs, want)
			}

			r = query(t, w, "MX1.acme.test", dns.TypeA, network)
			ip, _ := w.HostIP("mx1.acme.test")
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != ip.String() {
				t.Errorf("A mx1 = %v, want %s", r.Answer, ip)
			}
			if !strings.HasPrefix(ip.String(), "127.1.") {
				t.Errorf("host IP %s not in 127.1.0.0/16", ip)
			}

			r = query(t, w, "acme.test", dns.TypeTXT, network)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "v=spf1 -all" {
				t.Errorf("TXT acme.test = %v", r.Answer)
			}
			r = query(t, w, "sel._domainkey.acme.test", dns.TypeTXT, network)
			if len(r.Answer) != 1 || !slices.Equal(r.Answer[0].(*dns.TXT).Txt, []string{"v=DKIM1; k=rsa; ", "p=MIIBIjANBgkq"}) {
				t.Errorf("multi-string TXT = %v", r.Answer)
			}
			r = query(t, w, "_dmarc.acme.test", dns.TypeTXT, network)
			if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 300 {
				t.Errorf("DMARC TXT = %v (TTL from the domain expected)", r.Answer)
			}

			r = query(t, w, "www.acme.test", dns.TypeTXT, network)
			if len(r.Answer) != 2 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || r.Answer[1].Header().Rrtype != dns.TypeTXT {
				t.Errorf("CNAME chase = %v", r.Answer)
			}

			r = query(t, w, "acme.test", dns.TypeSOA, network)
			if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("SOA = %v", r.Answer)
			}

			// NXDOMAIN with SOA, NODATA with SOA, empty non-terminal NODATA.
			r = query(t, w, "nobody.acme.test", dns.TypeA, network)
			if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Name != "acme.test." {
				t.Errorf("NXDOMAIN = %v", r)
			}
			r = query(t, w, "mx1.acme.test", dns.TypeAAAA, network)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
				t.Errorf("NODATA = %v", r)
			}
			r = query(t, w, "_domainkey.acme.test", dns.TypeTXT, network)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
				t.Errorf("empty non-terminal = %v", r)
			}
			r = query(t, w, "unknown.example", dns.TypeMX, network)
			if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
				t.Errorf("name outside the world = %v", r)
			}

			r = query(t, w, "mx.private.test", dns.TypeA, network)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.20.30.40" {
				t.Errorf("override A = %v", r.Answer)
			}
			r = query(t, w, "mx6.private.test", dns.TypeAAAA, network)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "fd00::1" {
				t.Errorf("override AAAA = %v", r.Answer)
			}

			r = query(t, w, "nullmx.test", dns.TypeMX, network)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.MX).Mx != "." || r.Answer[0].(*dns.MX).Preference != 0 {
				t.Errorf("null MX = %v", r.Answer)
			}

			r = query(t, w, "apex.test", dns.TypeMX, network)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
				t.Errorf("apex MX = %v, want NODATA", r)
			}
			r = query(t, w, "apex.test", dns.TypeA, network)
			apexIP, _ := w.HostIP("apex.test")
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != apexIP.String() {
				t.Errorf("apex A = %v, want %s", r.Answer, apexIP)
			}

			for _, qt := range []uint16{dns.TypeMX, dns.TypeA} {
				r = query(t, w, "nomail.test", qt, network)
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || r.Ns[0].(*dns.SOA).Minttl != 60 {
					t.Errorf("%s nomail.test = %v", dns.TypeToString[qt], r)
				}
			}
		})
	}
}

func TestDNSRecordOutsideDomain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	err := w.AddDomain(Domain{Name: "acme.test", Records: []string{`other.test. IN TXT "x"`}})
	if err == nil {
		t.Fatal("record outside the domain accepted")
	}
	if err := w.AddDomain(Domain{Name: "acme.test", Records: []string{`@ IN BOGUS x`}}); err == nil {
		t.Fatal("unparsable record accepted")
	}
}

func TestDNSFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddDomain(t, w, Domain{Name: "nx.test", DNSFault: NXDomain, MX: []MX{{10, "mx.nx.test"}}})
	mustAddDomain(t, w, Domain{Name: "servfail.test", DNSFault: ServFail, MX: []MX{{10, "mx.servfail.test"}}})
	mustAddDomain(t, w, Domain{Name: "timeout.test", DNSFault: Timeout, MX: []MX{{10, "mx.timeout.test"}}})
	mustAddDomain(t, w, Domain{Name: "tc.test", DNSFault: Truncate, MX: []MX{{10, "mx.tc.test"}}})
	mustAddHost(t, w, Host{Name: "mx.servfail.test"})

	r := query(t, w, "nx.test", dns.TypeMX, "udp")
	if r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Errorf("NXDOMAIN fault = %v", r)
	}
	// The fault covers the zone, host names in it included.
	for _, name := range []string{"servfail.test", "mx.servfail.test"} {
		if r := query(t, w, name, dns.TypeA, "udp"); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("SERVFAIL fault on %s = %v", name, r)
		}
	}

	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	m := new(dns.Msg).SetQuestion("timeout.test.", dns.TypeMX)
	if r, _, err := c.Exchange(m, w.DNSAddr()); err == nil {
		t.Errorf("timeout fault answered: %v", r)
	}

	r = query(t, w, "tc.test", dns.TypeMX, "udp")
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP truncate fault = %v", r)
	}
	r = query(t, w, "tc.test", dns.TypeMX, "tcp")
	if r.Truncated || len(r.Answer) != 1 {
		t.Errorf("TCP after truncation = %v", r)
	}

	// A fault can be lifted while the world runs.
	mustAddDomain(t, w, Domain{Name: "nx.test", MX: []MX{{10, "mx.nx.test"}}})
	if r := query(t, w, "nx.test", dns.TypeMX, "udp"); len(r.Answer) != 1 {
		t.Errorf("after replacing the domain = %v", r)
	}
}

func TestDNSLargeAnswerTruncatedOverUDP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	var recs []string
	for i := range 20 {
		recs = append(recs, fmt.Sprintf(`@ IN TXT "verification-token-%02d=%s"`, i, strings.Repeat("x", 40)))
	}
	mustAddDomain(t, w, Domain{Name: "big.test", Records: recs})

	r := query(t, w, "big.test", dns.TypeTXT, "udp")
	if !r.Truncated || len(r.Answer) >= 20 {
		t.Errorf("plain UDP: TC=%v with %d answers, want truncation", r.Truncated, len(r.Answer))
	}
	r, err := exchange(w, "big.test", dns.TypeTXT, "udp", true)
	if err != nil || r.Truncated || len(r.Answer) != 20 || r.IsEdns0() == nil {
		t.Errorf("EDNS0 4096: %v, %v", r, err)
	}
	if r := query(t, w, "big.test", dns.TypeTXT, "tcp"); len(r.Answer) != 20 {
		t.Errorf("TCP: %d answers", len(r.Answer))
	}
}

// TestDNSLatencyIsConcurrent guards against a server that serialises
// queries: 40 queries with 150 ms latency each would take 6 s in turn.
func TestDNSLatencyIsConcurrent(t *testing.T) {
	t.Parallel()
	const latency = 150 * time.Millisecond
	w := newWorld(t, Options{DNSLatency: latency})
	mustAddDomain(t, w, Domain{Name: "slow.test", MX: []MX{{10, "mx.slow.test"}}})

	start := time.Now()
	var wg sync.WaitGroup
	for i := range 40 {
		network := []string{"udp", "tcp"}[i%2]
		wg.Go(func() {
			if _, err := exchange(w, "slow.test", dns.TypeMX, network, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if elapsed < latency || elapsed > 20*latency { // in turn: 40 latencies
		t.Errorf("40 concurrent queries took %v with %v latency", elapsed, latency)
	}
}

func TestWorldsGetDistinctPorts(t *testing.T) {
	t.Parallel()
	a, b := newWorld(t, Options{}), newWorld(t, Options{})
	if a.SMTPPort() == b.SMTPPort() || a.DNSAddr() == b.DNSAddr() {
		t.Errorf("two worlds share ports: %d/%s and %d/%s", a.SMTPPort(), a.DNSAddr(), b.SMTPPort(), b.DNSAddr())
	}
	mustAddHost(t, a, Host{Name: "mx.a.test"})
	mustAddHost(t, b, Host{Name: "mx.b.test"})
	ca, cb := dial(t, a, "mx.a.test"), dial(t, b, "mx.b.test")
	if !strings.Contains(ca.expect(220), "mx.a.test") || !strings.Contains(cb.expect(220), "mx.b.test") {
		t.Error("wrong banners")
	}
}
