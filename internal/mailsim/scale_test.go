package mailsim

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// addBenchWorld adds the benchmark's shape: n domains, each with its own
// MX host and a few mailboxes.
func addBenchWorld(t testing.TB, w *World, n int) {
	t.Helper()
	for i := range n {
		mx := fmt.Sprintf("mx%d.d%d.test", i, i)
		mustAddHost(t, w, Host{Name: mx, Style: []string{"postfix", "gmail", "m365", "exim"}[i%4]})
		mustAddDomain(t, w, Domain{
			Name:      fmt.Sprintf("d%d.test", i),
			MX:        []MX{{10, mx}},
			Records:   []string{`@ IN TXT "v=spf1 -all"`},
			Mailboxes: map[string]Mailbox{"alice": Exists, "bob": Full},
		})
	}
}

// TestScale500 builds the benchmark's world (500 domains and hosts, 30 ms
// per SMTP reply, 5 ms per DNS answer) and runs 400 probes at once, each a
// DNS lookup and a whole SMTP conversation.
func TestScale500(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short")
	}
	const hosts, probes = 500, 400
	w := newWorld(t, Options{SMTPLatency: 30 * time.Millisecond, DNSLatency: 5 * time.Millisecond})

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	addBenchWorld(t, w, hosts)
	built := time.Since(start)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d hosts and domains in %v, heap +%d KiB, %d goroutines",
		hosts, built, (int64(after.HeapAlloc)-int64(before.HeapAlloc))/1024, runtime.NumGoroutine())

	start = time.Now()
	var wg sync.WaitGroup
	for i := range probes {
		wg.Go(func() {
			if err := probe(w, fmt.Sprintf("d%d.test", i%hosts), i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent probes in %v", probes, time.Since(start))

	var total HostStats
	for i := range hosts {
		st := w.HostStats(fmt.Sprintf("mx%d.d%d.test", i, i))
		total.Connections += st.Connections
		total.Rcpt += st.Rcpt
	}
	if total.Connections != probes || total.Rcpt != 2*probes {
		t.Errorf("counted %d connections and %d RCPTs, want %d and %d", total.Connections, total.Rcpt, probes, 2*probes)
	}
}

// probe resolves domain's MX through the world and checks two mailboxes.
func probe(w *World, domain string, i int) error {
	c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
	r, _, err := c.Exchange(new(dns.Msg).SetQuestion(domain+".", dns.TypeMX), w.DNSAddr())
	if err != nil || len(r.Answer) != 1 {
		return fmt.Errorf("MX %s: %v %v", domain, r, err)
	}
	mx := r.Answer[0].(*dns.MX).Mx
	r, _, err = c.Exchange(new(dns.Msg).SetQuestion(mx, dns.TypeA), w.DNSAddr())
	if err != nil || len(r.Answer) != 1 {
		return fmt.Errorf("A %s: %v %v", mx, r, err)
	}
	ip := r.Answer[0].(*dns.A).A.String()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(w.SMTPPort())), 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	expect := func(cmd string, code int) error {
		if cmd != "" {
			if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
				return err
			}
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("%s after %q: %w", domain, cmd, err)
			}
			if len(line) > 3 && line[3] == ' ' {
				if !strings.HasPrefix(line, strconv.Itoa(code)) {
					return fmt.Errorf("%s: %q got %q", domain, cmd, line)
				}
				return nil
			}
		}
	}
	steps := []struct {
		cmd  string
		code int
	}{
		{"", 220},
		{"EHLO probe.touchline.test", 250},
		{"MAIL FROM:<probe@touchline.test>", 250},
		{"RCPT TO:<alice@" + domain + ">", 250},
		{fmt.Sprintf("RCPT TO:<nobody%d@%s>", i, domain), 550},
		{"QUIT", 221},
	}
	for _, s := range steps {
		if err := expect(s.cmd, s.code); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkBuildWorld500 measures New plus 500 hosts and domains.
func BenchmarkBuildWorld500(b *testing.B) {
	for b.Loop() {
		w, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		addBenchWorld(b, w, 500)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
