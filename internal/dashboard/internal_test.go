package dashboard

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/verifier/resolver"
)

func TestNiceScale(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, top, step float64 }{
		{0, 0.01, 0.002}, {0.05, 0.05, 0.01}, {0.0375, 0.04, 0.01}, {0.1, 0.1, 0.02}, {0.13, 0.15, 0.05}, {0.6, 0.6, 0.2}, {1.3, 1, 0.5},
	} {
		top, step := niceScale(c.in)
		if diff(top, c.top) > 1e-9 || diff(step, c.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", c.in, top, step, c.top, c.step)
		}
	}
}

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestRateChart: a point per day with sends at its rate, a break in the
// line for a day without, and a scale that holds the highest rate.
func TestRateChart(t *testing.T) {
	t.Parallel()
	day := func(i, sent, bounced int) store.PeriodStats {
		p := store.PeriodStats{Period: time.Date(2026, 3, 1+i, 0, 0, 0, 0, time.UTC)}
		p.Sent, p.HardBounces = sent, bounced
		return p
	}
	days := []store.PeriodStats{day(0, 40, 1), day(1, 0, 0), day(2, 10, 2), day(3, 20, 0)}
	c := rateChart("bounce", "Bounce rate", "hard-bounced", days, func(p store.PeriodStats) int { return p.HardBounces }, 0.05, 0.03, "guardrail")
	if len(c.Points) != 3 || len(c.Lines) != 2 || len(c.Bars) != 3 {
		t.Fatalf("%d points, %d line runs, %d bars; want 3, 2, 3", len(c.Points), len(c.Lines), len(c.Bars))
	}
	if c.Points[1].Day != "2026-03-03" || c.Points[1].Value != 0.2 || c.Points[1].Sent != 10 || c.Points[1].Hits != 2 {
		t.Fatalf("third day's point %+v", c.Points[1])
	}
	for _, p := range c.Points {
		if p.Y < c.Top || p.Y > c.Bottom {
			t.Errorf("point %s at y %.1f, outside %.0f..%.0f", p.Day, p.Y, c.Top, c.Bottom)
		}
	}
	if top := c.YTicks[len(c.YTicks)-1].Label; top != "25%" {
		t.Errorf("scale tops at %s, want 25%% for a 20%% day", top)
	}
	if c.Limit == nil || c.Limit.Label != "guardrail 3%" {
		t.Errorf("limit %+v", c.Limit)
	}
	if c.Sent != 70 || c.Hits != 3 || !strings.Contains(c.Summary, "3 of 70 sent hard-bounced (4.3%)") {
		t.Errorf("summary %q", c.Summary)
	}
	if e := rateChart("reply", "Reply rate", "replied", nil, func(p store.PeriodStats) int { return p.Replies }, 0.1, 0, ""); len(e.Points) != 0 || e.Limit != nil {
		t.Errorf("empty chart %+v", e)
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := num(in); got != want {
			t.Errorf("num(%d) = %q, want %q", in, got, want)
		}
	}
}

// slowDNS answers every TXT question with a policy after a delay, and counts
// the audits by their SPF question.
type slowDNS struct {
	delay time.Duration
	spf   atomic.Int32
}

func (r *slowDNS) LookupMX(ctx context.Context, name string) ([]resolver.MX, error) {
	return nil, resolver.ErrNXDomain
}
func (r *slowDNS) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	return nil, resolver.ErrNXDomain
}
func (r *slowDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if name == "example.test" || name == "example.test." {
		r.spf.Add(1)
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []string{"v=spf1 -all"}, nil
	}
	return nil, resolver.ErrNXDomain
}

// TestDomainCache: one audit per domain while fresh, a page that does not
// wait past its limit for a slow one, and a new audit once stale.
func TestDomainCache(t *testing.T) {
	t.Parallel()
	dns := &slowDNS{delay: 300 * time.Millisecond}
	var mu sync.Mutex
	now := time.Now()
	c := newDomainCache(dns, 10*time.Minute, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	ctx := context.Background()

	rep, err := c.audit(ctx, "example.test", "s1", 20*time.Millisecond)
	if rep != nil || err != nil {
		t.Fatalf("first audit, not waited for: %v, %v; want nil (checking)", rep, err)
	}
	rep, err = c.audit(ctx, "example.test", "s1", 5*time.Second)
	if err != nil || rep == nil || rep.Domain != "example.test" {
		t.Fatalf("waited for: %+v, %v", rep, err)
	}
	for range 5 {
		if r2, _ := c.audit(ctx, "example.test", "s1", time.Second); r2 != rep {
			t.Fatal("a fresh audit was not reused")
		}
	}
	if n := dns.spf.Load(); n != 1 {
		t.Fatalf("%d audits while fresh, want 1", n)
	}

	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	if r2, _ := c.audit(ctx, "example.test", "s1", 10*time.Millisecond); r2 != rep {
		t.Fatal("a stale audit is not shown while the new one runs")
	}
	if r3, _ := c.audit(ctx, "example.test", "s1", 5*time.Second); r3 == rep || r3 == nil {
		t.Fatal("no new audit once stale")
	}
	if n := dns.spf.Load(); n != 2 {
		t.Fatalf("%d audits, want 2", n)
	}
	if _, err := c.audit(ctx, "not a domain", "", time.Second); err == nil {
		t.Fatal("a bad domain audited without error")
	}
}
