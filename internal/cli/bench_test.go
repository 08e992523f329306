package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
)

// BenchmarkCleanList runs `touchline verify FILE` on a list shaped like
// the ones users clean: 25,200 addresses at 900 domains, a third of them
// hosted by three shared providers (two MX hosts each, at most 8
// connections per host), 10% of domains greylisting for 1 s, three
// tarpits, 5% of hosts taking one or two connections at once, 30 ms
// before every SMTP reply and 5 ms before every DNS answer. It reports
// addresses per second and the peak live heap (CLI and simulated world
// together), and fails if any verdict is wrong or any host saw more
// connections at once than its limit plus the one it refused with 421
// (a limit is only learnt by meeting it).
//
//	go test -run '^$' -bench CleanList -benchtime 1x ./internal/cli
func BenchmarkCleanList(b *testing.B) {
	w, err := mailsim.New(mailsim.Options{SMTPLatency: 30 * time.Millisecond, DNSLatency: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	lw, err := mailsim.BuildListWorld(w, mailsim.ListWorldOptions{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	list := filepath.Join(dir, "list.csv")
	var sb strings.Builder
	sb.WriteString("email,row\n")
	for i, a := range lw.Addresses {
		fmt.Fprintf(&sb, "%s,%d\n", a, i)
	}
	if err := os.WriteFile(list, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"verify", "--dns-server", w.DNSAddr(), "--smtp-port", strconv.Itoa(w.SMTPPort()),
		"--allow-mx-network", "127.0.0.0/8", "--helo", "probe.touchline.test", "--mail-from", "v@touchline.test",
		// The world's greylisting lasts 1 s and its tarpits 30 s.
		"--banner-timeout", "2s", "--dns-timeout", "5s", "--greylist-retry", "1200ms", "--greylist-budget", "10s",
		list}
	for b.Loop() {
		var out bytes.Buffer
		var errb strings.Builder
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		runtime.GC()
		peak, stop := samplePeakHeap()
		cpu0 := cpuTime()
		start := time.Now()
		code := Run(context.Background(), env, args)
		el := time.Since(start)
		cpu := cpuTime() - cpu0
		stop()
		if code != ExitOK {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
		b.ReportMetric(float64(len(lw.Addresses))/el.Seconds(), "addr/s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		// CPU time (CLI and simulated world together) tells what the run
		// costs apart from how busy the machine is: on a shared machine
		// addr/s mostly measures the other tenants.
		b.ReportMetric(cpu.Seconds()*1e6/float64(len(lw.Addresses)), "cpu-us/addr")
		b.Logf("%.0f addr/s, %.0f cpu-us/addr, summary:\n%s", float64(len(lw.Addresses))/el.Seconds(), cpu.Seconds()*1e6/float64(len(lw.Addresses)), errb.String())
		for host, limit := range lw.MaxConns {
			if st := w.HostStats(host); st.MaxConcurrent > limit+1 {
				b.Errorf("%s allows %d connections; it saw %d at once", host, limit, st.MaxConcurrent)
			}
		}
		checkCleaned(b, lw, &out)
	}
}

// checkCleaned checks that the cleaned list has every row once, in input
// order, each with the reason the world says is right.
func checkCleaned(b *testing.B, lw *mailsim.ListWorld, out io.Reader) {
	b.Helper()
	r := csv.NewReader(out)
	head, err := r.Read()
	if err != nil {
		b.Fatal(err)
	}
	rowCol, reasonCol := slices.Index(head, "row"), slices.Index(head, "reason")
	if rowCol < 0 || reasonCol < 0 {
		b.Fatalf("header %q", head)
	}
	wrong := map[string]int{}
	n := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if rec[rowCol] != strconv.Itoa(n) {
			b.Fatalf("row %d of the output is input row %s: order lost", n, rec[rowCol])
		}
		if want := lw.Want[rec[0]]; rec[reasonCol] != want {
			wrong[want+"->"+rec[reasonCol]]++
			if len(wrong) < 5 && wrong[want+"->"+rec[reasonCol]] == 1 {
				b.Logf("%s: %q, want %s", rec[0], rec, want)
			}
		}
		n++
	}
	if n != len(lw.Addresses) {
		b.Fatalf("%d rows out, %d in", n, len(lw.Addresses))
	}
	if len(wrong) > 0 {
		b.Fatalf("wrong verdicts (want->got: count): %v", wrong)
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

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
