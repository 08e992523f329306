package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
)

// BenchmarkEndToEnd cleans a 100,000-row list across 2,000 simulated
// domains (30 ms added to every SMTP reply, 5 ms to every DNS answer)
// through the API, with one and then two `touchline worker` processes on
// the same database, and reports rows per second from upload to done.
//
//	TOUCHLINE_TEST_DATABASE_URL=$(deploy/local-postgres.sh url) go test -run '^$' -bench EndToEnd -benchtime 1x ./cmd/touchline
func BenchmarkEndToEnd(b *testing.B) {
	const domains, rows = 2000, 100_000
	w, err := mailsim.New(mailsim.Options{SMTPLatency: 30 * time.Millisecond, DNSLatency: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for d := range domains {
		name := fmt.Sprintf("co%04d.test", d)
		boxes := map[string]mailsim.Mailbox{}
		for i := range rows / domains {
			if i%10 < 7 {
				boxes[fmt.Sprintf("p%d", i)] = mailsim.Exists
			}
		}
		w.AddHost(mailsim.Host{Name: "mx." + name, StartTLS: d%2 == 0})
		w.AddDomain(mailsim.Domain{Name: name, MX: []mailsim.MX{{Pref: 10, Host: "mx." + name}}, Mailboxes: boxes})
	}
	var sb strings.Builder
	sb.WriteString("email,company\n")
	for i := range rows / domains {
		for d := range domains {
			fmt.Fprintf(&sb, "p%d@co%04d.test,Co %d\n", i, d, d)
		}
	}
	body := sb.String()
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("processes=%d", procs), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				st, url := newStoreTB(b)
				rc, err := jobs.NewClient(st, jobs.Config{})
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(server.New(server.Config{Store: st, River: rc}).Handler())
				ws, _ := st.EnsureWorkspace(context.Background(), "bench")
				key, _ := st.CreateAPIKey(context.Background(), ws.ID, "bench")
				var workers []*exec.Cmd
				for range procs {
					cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "worker", "--database-url", url,
						"--dns-server", w.DNSAddr(), "--smtp-port", strconv.Itoa(w.SMTPPort()),
						"--allow-mx-network", "127.0.0.0/8", "--helo", "probe.touchline.test",
						"--workers", "16", "--concurrency", "128", "--log-level", "warn")
					cmd.Env = append(os.Environ(), "TOUCHLINE_TEST_MAIN=1")
					cmd.Stderr = os.Stderr
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					workers = append(workers, cmd)
				}
				b.StartTimer()
				start := time.Now()
				req, _ := http.NewRequest("POST", srv.URL+"/v1/lists?name=bench", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "text/csv")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					b.Fatalf("upload: %v %v", resp, err)
				}
				resp.Body.Close()
				for {
					ls, _ := st.ListLists(context.Background(), ws.ID)
					if len(ls) == 1 && ls[0].Status == "done" {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(rows/el.Seconds(), "rows/s")
				for _, c := range workers {
					c.Process.Signal(syscall.SIGTERM)
					c.Wait()
				}
				srv.Close()
				b.StartTimer()
			}
		})
	}
}

func newStoreTB(b *testing.B) (*store.Store, string) { return newStoreFor(b) }
