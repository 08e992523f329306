package netpolicy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

func TestPublic(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "::", "0.1.2.3",
		"10.0.0.1", "172.16.5.4", "192.168.1.1", "fd00::1", "fc00::1",
		"169.254.169.254", "fe80::1", "fe80::1%eth0",
		"100.64.0.1", "100.127.255.254", // CGNAT, RFC 6598
		"224.0.0.1", "239.255.255.250", "ff02::1", "ff05::2",
		"255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "203.0.113.9",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:0.0.0.0",
		"64:ff9b::7f00:1",    // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
		"64:ff9b:1::1",
		"2002:7f00:1::1", // 6to4 of 127.0.0.1
		"2002:a00:1::1",  // 6to4 of 10.0.0.1
		"2001::1",        // Teredo
		"::127.0.0.1",    // IPv4-compatible
		"2001:db8::1", "fec0::1", "100::1",
	}
	public := []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2002:808:808::1", "100.63.255.255", "100.128.0.1", "172.32.0.1"}
	for _, s := range refused {
		if Public(netip.MustParseAddr(s)) {
			t.Errorf("%s: public, want refused", s)
		}
		if err := (*Policy)(nil).Check(netip.MustParseAddr(s)); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: Check = %v", s, err)
		}
	}
	for _, s := range public {
		if !Public(netip.MustParseAddr(s)) {
			t.Errorf("%s: refused, want public", s)
		}
	}
}

func TestAllowNetworks(t *testing.T) {
	nets, err := ParseNetworks([]string{"127.0.0.0/8, 10.1.2.3", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	p := New(nets...)
	for s, want := range map[string]bool{
		"127.0.0.1": true, "::ffff:127.0.0.1": true, "10.1.2.3": true, "10.1.2.4": false,
		"fd12::1": true, "169.254.169.254": false, "::1": false, "8.8.8.8": true,
	} {
		if got := p.Allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("allow %v: %s allowed = %v, want %v", nets, s, got, want)
		}
	}
	if _, err := ParseNetworks([]string{"localhost"}); err == nil || !strings.Contains(err.Error(), "not a network") {
		t.Errorf("ParseNetworks(localhost) = %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://hooks.example.com/touchline", ""},
		{"http://hooks.example.com:8080/x", ""},
		{"http://127.0.0.1:8080/", "refused by policy"},
		{"http://localhost/", "refused by policy"},
		{"http://api.localhost./", "refused by policy"},
		{"http://0.0.0.0/", "refused by policy"},
		{"http://[::ffff:127.0.0.1]/", "refused by policy"},
		{"http://[::1]:9/", "refused by policy"},
		{"http://169.254.169.254/latest/meta-data/", "refused by policy"},
		{"http://100.100.100.200/", "refused by policy"},
		{"https://user:pass@hooks.example.com/", "credentials in the URL"},
		{"https://token@hooks.example.com/", "credentials in the URL"},
		{"ftp://hooks.example.com/", "not an http(s) URL"},
		{"hooks.example.com/x", "not an http(s) URL"},
		{"http:///x", "not an http(s) URL"},
	} {
		err := (*Policy)(nil).CheckURL(tc.url)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckURL(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
	if err := New(Loopback...).CheckURL("http://127.0.0.1:8080/"); err != nil {
		t.Errorf("loopback allowed: %v", err)
	}
}

// listen returns a loopback listener that counts the connections it gets.
func listen(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// rebinder is a DNS server that answers every A question with 127.0.0.1:
// a name that is not an IP literal, so only the dial-time check can catch
// it.
func rebinder(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0}, A: net.IPv4(127, 0, 0, 1)})
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func TestDialRefusesAtConnectTime(t *testing.T) {
	addr, conns := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	d := &Dialer{Resolver: rebinder(t)}
	for _, target := range []string{addr, "localhost:" + port, "[::ffff:127.0.0.1]:" + port, "rebind.example.com:" + port} {
		c, err := d.DialContext(context.Background(), "tcp", target)
		if err == nil {
			c.Close()
			t.Fatalf("%s: dialed", target)
		}
		// A name's resolution is not told: that would map the operator's
		// DNS for the tenant.
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "refused by policy") ||
			(strings.HasPrefix(target, "rebind") && strings.Contains(err.Error(), "127.0.0.1")) {
			t.Errorf("%s: %v", target, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the loopback listener", n)
	}
	// Allowed explicitly, the same name connects.
	d.Policy = New(Loopback...)
	c, err := d.DialContext(context.Background(), "tcp", "rebind.example.com:"+port)
	if err != nil {
		t.Fatalf("allowed loopback: %v", err)
	}
	c.Close()
}

// What a tenant sees of a failed connection says nothing of what answered.
func TestDialErrorsTellNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens: "connection refused"
	d := New(Loopback...).Dialer(0)
	_, err = d.DialContext(context.Background(), "tcp", closed)
	if err == nil || err.Error() != "could not connect to "+closed {
		t.Fatalf("closed port: %v", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("the cause is gone from the chain: %#v", err)
	}
}

func TestHTTPClientRedirectsAndPolicy(t *testing.T) {
	var inner atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/secret", http.StatusFound)
	}))
	defer redirector.Close()
	// Loopback allowed (a lab): the redirect is answered, not followed.
	resp, err := New(Loopback...).HTTPClient(0).Post(redirector.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || inner.Load() != 0 {
		t.Fatalf("redirect: status %d, target hit %d times", resp.StatusCode, inner.Load())
	}
	// Default policy: loopback refused.
	_, err = (*Policy)(nil).HTTPClient(0).Post(target.URL, "application/json", strings.NewReader("{}"))
	if !errors.Is(err, ErrRefused) || inner.Load() != 0 {
		t.Fatalf("default policy to loopback: %v (target hit %d)", err, inner.Load())
	}
}
