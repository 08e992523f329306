package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
)

// BenchmarkIngest measures an upload from POST /v1/lists to its rows stored
// and its verification jobs queued (the 202 answer comes after the commit),
// for a 100,000-row CSV across 2,000 domains.
//
//	make db && TOUCHLINE_TEST_DATABASE_URL=$(deploy/local-postgres.sh url) go test -run '^$' -bench Ingest -benchtime 3x ./internal/server
func BenchmarkIngest(b *testing.B) {
	const rows = 100_000
	var sb strings.Builder
	sb.WriteString("first_name,last_name,email,company,title\n")
	for i := range rows {
		fmt.Fprintf(&sb, "First%d,Last%d,person%d@company%04d.test,Company %d,VP Sales\n", i, i, i, i%2000, i%2000)
	}
	body := sb.String()
	st := benchDB(b)
	rc, err := jobs.NewClient(st, jobs.Config{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Store: st, River: rc}).Handler())
	defer srv.Close()
	ws, _ := st.EnsureWorkspace(context.Background(), "bench")
	key, _ := st.CreateAPIKey(context.Background(), ws.ID, "bench")
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/lists?name=bench", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
		b.ReportMetric(rows/time.Since(start).Seconds(), "rows/s")
	}
}

func benchDB(b *testing.B) *store.Store { return newDBTB(b) }
