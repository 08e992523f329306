package verifier_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

// BenchmarkVerifyList verifies lists spread over 500 simulated domains with
// 30 ms added to every SMTP reply and 5 ms to every DNS answer, as a list
// cleaned over the Internet would see. It reports addresses per second and
// the peak live heap (verifier and simulated world together); the two
// sizes show whether memory stays flat as the list grows.
//
//	go test -run '^$' -bench VerifyList -benchtime 1x ./verifier
func BenchmarkVerifyList(b *testing.B) {
	const domains = 500
	w, err := mailsim.New(mailsim.Options{SMTPLatency: 30 * time.Millisecond, DNSLatency: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	styles := []string{"postfix", "gmail", "m365", "exim", "exchange", "yahoo"}
	for d := range domains {
		name := fmt.Sprintf("company%03d.test", d)
		host := "mx." + name
		if err := w.AddHost(mailsim.Host{Name: host, StartTLS: d%2 == 0, Style: styles[d%len(styles)]}); err != nil {
			b.Fatal(err)
		}
		boxes := map[string]mailsim.Mailbox{}
		for i := range 200 {
			if i%10 < 7 { // 70% of the people still work there
				boxes[fmt.Sprintf("person%d", i)] = mailsim.Exists
			}
		}
		if err := w.AddDomain(mailsim.Domain{Name: name, MX: []mailsim.MX{{Pref: 10, Host: host}}, Mailboxes: boxes, CatchAll: d%25 == 0}); err != nil {
			b.Fatal(err)
		}
	}
	for _, size := range []int{10_000, 40_000} {
		b.Run(fmt.Sprintf("addresses=%d", size), func(b *testing.B) {
			// Random order: a list is not sorted by domain.
			rng := rand.New(rand.NewPCG(1, 2))
			addrs := make([]string, size)
			for i := range addrs {
				addrs[i] = fmt.Sprintf("person%d@company%03d.test", rng.IntN(size/domains), rng.IntN(domains))
			}
			for b.Loop() {
				res, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}})
				if err != nil {
					b.Fatal(err)
				}
				v, err := verifier.New(verifier.Config{
					Resolver: res, Dialer: &mailsim.Dialer{}, SMTPPort: w.SMTPPort(),
					HeloName: testHelo, MailFrom: "verify@touchline.test",
					AllowMXNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
					Concurrency:     256,
				})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				peak, stop := samplePeakHeap()
				start := time.Now()
				counts := map[verifier.Reason]int{}
				seq := func(yield func(string) bool) {
					for _, a := range addrs {
						if !yield(a) {
							return
						}
					}
				}
				err = verifier.VerifyEach(context.Background(), v, 0, seq, func(s string) string { return s },
					func(_ string, vd verifier.Verdict) error { counts[vd.Reason]++; return nil })
				el := time.Since(start)
				stop()
				v.Close()
				if err != nil {
					b.Fatal(err)
				}
				if bad := size - counts[verifier.ReasonAccepted] - counts[verifier.ReasonMailboxNotFound] - counts[verifier.ReasonCatchAll]; bad != 0 {
					b.Fatalf("%d addresses got another verdict: %v", bad, counts)
				}
				b.ReportMetric(float64(size)/el.Seconds(), "addr/s")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
			}
		})
	}
}

// samplePeakHeap samples the live heap every 10 ms until stop is called.
func samplePeakHeap() (*atomic.Uint64, func()) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak, func() { close(done); <-finished }
}
