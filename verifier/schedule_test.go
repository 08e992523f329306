package verifier_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

// verifyMany verifies n addresses local0..local(n-1) at domain at once;
// the first half exist.
func verifyMany(t *testing.T, v *verifier.Verifier, domain string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			vd := v.Verify(context.Background(), fmt.Sprintf("p%d@%s", i, domain))
			if i < n/2 {
				want(t, vd, verifier.Deliverable, verifier.ReasonAccepted)
			} else {
				want(t, vd, verifier.Undeliverable, verifier.ReasonMailboxNotFound)
			}
		})
	}
	wg.Wait()
}

// patient gives the lab a resolver that waits out a busy machine: these
// tests start hundreds of verifications at once.
func patient(l *lab) {
	l.t.Helper()
	res, err := resolver.New(resolver.Config{Servers: []string{l.world.DNSAddr()}, Timeout: 5 * time.Second, Attempts: 2})
	if err != nil {
		l.t.Fatal(err)
	}
	l.cfg.Resolver = res
	l.cfg.CommandTimeout, l.cfg.BannerTimeout = 10*time.Second, 10*time.Second
}

func halfExist(n int) map[string]mailsim.Mailbox {
	boxes := map[string]mailsim.Mailbox{}
	for i := range n / 2 {
		boxes[fmt.Sprintf("p%d", i)] = mailsim.Exists
	}
	return boxes
}

// TestRecipientsShareTransactions checks that many recipients ride one
// transaction: RSET comes only when a transaction holds
// RcptPerTransaction recipients, and every reply is still read on its own.
func TestRecipientsShareTransactions(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{SMTPLatency: 2 * time.Millisecond})
	const n = 200
	l.strict("many.test", mailsim.Host{}, halfExist(n))
	l.cfg.PerHost = 1
	patient(l)
	v := l.verifier()
	verifyMany(t, v, "many.test", n)
	v.Close()
	st := l.world.HostStats("mx.many.test")
	per := v.Config().RcptPerTransaction
	// n addresses and one catch-all probe.
	if st.Rcpt != n+1 {
		t.Errorf("%d RCPTs for %d recipients", st.Rcpt, n+1)
	}
	if maxRset := (st.Rcpt + per - 1) / per; st.Rset > maxRset {
		t.Errorf("%d RSETs for %d RCPTs at %d per transaction: RSET sent when not needed", st.Rset, st.Rcpt, per)
	}
	if st.Mail != st.Rset+st.Connections {
		t.Errorf("%d MAIL, %d RSET, %d connections: one MAIL per transaction expected", st.Mail, st.Rset, st.Connections)
	}
}

// TestConnectionsAdapt checks that a host with work gets more sessions
// while it answers cleanly, and that a host limiting connections is
// backed off to its limit, asked beyond it once at most, and named.
func TestConnectionsAdapt(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{SMTPLatency: 5 * time.Millisecond})
	const n = 600
	l.strict("open.test", mailsim.Host{}, halfExist(n))
	l.strict("limited.test", mailsim.Host{MaxConns: 2}, halfExist(n))
	l.cfg.PerHost = 4
	patient(l)
	v := l.verifier()
	var wg sync.WaitGroup
	for _, d := range []string{"open.test", "limited.test"} {
		wg.Go(func() { verifyMany(t, v, d, n) })
	}
	wg.Wait()
	open, limited := l.world.HostStats("mx.open.test"), l.world.HostStats("mx.limited.test")
	if open.MaxConcurrent < 2 || open.MaxConcurrent > 4 {
		t.Errorf("open.test: %d sessions at once; want more than one (it keeps up) and at most PerHost 4", open.MaxConcurrent)
	}
	if limited.MaxConcurrent > 3 || limited.Sent421 > 2 {
		t.Errorf("limited.test (2 connections): %d at once, %d refused with 421", limited.MaxConcurrent, limited.Sent421)
	}
	th := v.Throttled()
	i := slices.IndexFunc(th, func(x verifier.Throttle) bool { return x.Host == "mx.limited.test" })
	if limited.Sent421 > 0 && (i < 0 || th[i].Sessions > 2) {
		t.Errorf("throttles %+v: limited.test missing or above its limit", th)
	}
	if slices.ContainsFunc(th, func(x verifier.Throttle) bool { return x.Host == "mx.open.test" }) {
		t.Errorf("throttles %+v: open.test never throttled", th)
	}
}

// TestProviderSharesSessions checks that the hosts of one provider (one
// registrable domain) share its session budget.
func TestProviderSharesSessions(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{SMTPLatency: 5 * time.Millisecond})
	const n = 300
	l.host(mailsim.Host{Name: "mx1.provider.test"})
	l.host(mailsim.Host{Name: "mx2.provider.test"})
	l.domain(mailsim.Domain{Name: "a.test", MX: []mailsim.MX{{Pref: 10, Host: "mx1.provider.test"}}, Mailboxes: halfExist(n)})
	l.domain(mailsim.Domain{Name: "b.test", MX: []mailsim.MX{{Pref: 10, Host: "mx2.provider.test"}}, Mailboxes: halfExist(n)})
	l.cfg.PerHost, l.cfg.PerProvider = 8, 1
	patient(l)
	v := l.verifier()
	var wg sync.WaitGroup
	for _, d := range []string{"a.test", "b.test"} {
		wg.Go(func() { verifyMany(t, v, d, n) })
	}
	wg.Wait()
	for _, h := range []string{"mx1.provider.test", "mx2.provider.test"} {
		if st := l.world.HostStats(h); st.MaxConcurrent != 1 {
			t.Errorf("%s: %d sessions at once; the provider allows 1", h, st.MaxConcurrent)
		}
	}
}

// gateDialer holds connections to one IP until gate is closed.
type gateDialer struct {
	inner verifier.Dialer
	ip    string
	gate  chan struct{}
}

func (d *gateDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if host, _, _ := net.SplitHostPort(address); host == d.ip {
		select {
		case <-d.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return d.inner.DialContext(ctx, network, address)
}

// TestSlowRowDoesNotBlockTheList checks that rows behind a slow one are
// verified while it waits, with a window of 4, and still come out in
// input order, through the spill file.
func TestSlowRowDoesNotBlockTheList(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	const n = 200
	l.strict("slow.test", mailsim.Host{}, map[string]mailsim.Mailbox{"a": mailsim.Exists})
	l.strict("fast.test", mailsim.Host{}, halfExist(n))
	patient(l)
	ip, _ := l.world.HostIP("mx.slow.test")
	gd := &gateDialer{inner: l.cfg.Dialer, ip: ip.String(), gate: make(chan struct{})}
	l.cfg.Dialer = gd
	l.cfg.ConnectTimeout = 3 * time.Minute // the gate, not the timeout, decides
	v := l.verifier()
	// The gate to the slow host opens only once every fast row was
	// asked: with head-of-line blocking that never happens.
	go func() {
		deadline := time.Now().Add(2 * time.Minute)
		for l.world.HostStats("mx.fast.test").Rcpt < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		close(gd.gate)
	}()
	rows := []string{"a@slow.test"}
	for i := range n {
		rows = append(rows, fmt.Sprintf("p%d@fast.test", i))
	}
	var encoded atomic.Int64
	spill := verifier.Spill[string]{
		Dir:    t.TempDir(),
		Encode: func(s string) ([]byte, error) { encoded.Add(1); return []byte(s), nil },
		Decode: func(b []byte) (string, error) { return string(b), nil },
	}
	var got []string
	err := verifier.VerifyEachSpill(context.Background(), v, 4, spill, slices.Values(rows), func(s string) string { return s },
		func(s string, vd verifier.Verdict) error {
			if len(got) == 0 && l.world.HostStats("mx.fast.test").Rcpt < n {
				t.Errorf("the slow first row came out before the rows behind it were asked: the gate timed out")
			}
			got = append(got, s)
			wantReason := verifier.ReasonAccepted
			if i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, "p"), "@fast.test")); strings.HasSuffix(s, "fast.test") && i >= n/2 {
				wantReason = verifier.ReasonMailboxNotFound
			}
			if vd.Reason != wantReason || vd.Input != s {
				t.Errorf("%s: %s/%s (input %q)", s, vd.Status, vd.Reason, vd.Input)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, rows) {
		t.Fatalf("rows out of order: %v", got[:min(10, len(got))])
	}
	if encoded.Load() == 0 {
		t.Fatal("nothing was spilled: the test does not test the spill file")
	}
	if files, _ := os.ReadDir(spill.Dir); len(files) != 0 {
		t.Fatalf("spill file left behind: %v", files)
	}
}
