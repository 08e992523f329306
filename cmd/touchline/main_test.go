package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/pgtest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
)

// The test binary doubles as the touchline binary: a child process started
// with TOUCHLINE_TEST_MAIN=1 runs main with the arguments after "--".
func TestMain(m *testing.M) {
	if os.Getenv("TOUCHLINE_TEST_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"touchline"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		return
	}
	os.Exit(m.Run())
}

func touchline(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "TOUCHLINE_TEST_MAIN=1")
	cmd.Stderr = &prefixWriter{t: t, prefix: args[0] + ": "}
	return cmd
}

type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}

func newStore(t *testing.T) (*store.Store, string) { return newStoreFor(t) }

func newStoreFor(t testing.TB) (*store.Store, string) {
	t.Helper()
	url := storetest.URL(t)
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, url
}

// TestWorkerKilledMidListLosesNothing kills a worker process with SIGKILL in
// the middle of a 20,000-row list, some of whose domains greylist. After
// another worker starts with the default --job-timeout and --rescue-after,
// the list completes within 2 minutes with exactly one verdict per row,
// each the right one: greylisted rows snoozed their batch and came back.
func TestWorkerKilledMidListLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes; about a minute")
	}
	t.Parallel()
	st, url := newStore(t)
	const domains, perDomain = 100, 200
	w, err := mailsim.New(mailsim.Options{SMTPLatency: 3 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var sb strings.Builder
	sb.WriteString("email,company\n")
	want := map[string]string{}
	for d := range domains {
		name := fmt.Sprintf("co%03d.test", d)
		boxes := map[string]mailsim.Mailbox{}
		for i := range perDomain {
			addr := fmt.Sprintf("p%d@%s", i, name)
			if i%10 < 7 {
				boxes[fmt.Sprintf("p%d", i)] = mailsim.Exists
				want[addr] = "deliverable"
			} else {
				want[addr] = "undeliverable"
			}
		}
		w.AddHost(mailsim.Host{Name: "mx." + name})
		dom := mailsim.Domain{Name: name, MX: []mailsim.MX{{Pref: 10, Host: "mx." + name}}, Mailboxes: boxes}
		if d%10 == 3 {
			dom.Greylist = time.Second
		}
		w.AddDomain(dom)
	}
	// Interleave domains, as a real export would.
	for i := range perDomain {
		for d := range domains {
			fmt.Fprintf(&sb, "p%d@co%03d.test,Co %d\n", i, d, d)
		}
	}
	ctx := context.Background()
	ws, _ := st.EnsureWorkspace(ctx, "reliability")
	ins, err := jobs.NewClient(st, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lr, err := listfile.NewReader(strings.NewReader(sb.String()), "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.Ingest(ctx, ws.ID, "big", lr, store.IngestOptions{Enqueue: jobs.Enqueuer(ins)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != domains*perDomain {
		t.Fatalf("ingested %d rows", l.Total)
	}

	args := []string{"worker", "--database-url", url, "--dns-server", w.DNSAddr(), "--smtp-port", strconv.Itoa(w.SMTPPort()),
		"--allow-mx-network", "127.0.0.0/8", "--helo", "probe.touchline.test", "--workers", "4",
		"--greylist-retry", "1500ms", "--greylist-budget", "20s", "--log-level", "warn"}
	first := touchline(t, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	progress := func() store.List {
		got, err := st.GetList(ctx, ws.ID, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	deadline := time.Now().Add(2 * time.Minute)
	for progress().Processed < 3000 {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("the first worker processed only %d rows in 2 minutes", progress().Processed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	atKill := progress()
	t.Logf("killed the worker at %d of %d rows", atKill.Processed, atKill.Total)
	if atKill.Processed >= atKill.Total {
		t.Fatal("the list finished before the kill: the test tests nothing")
	}

	second := touchline(t, args...)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		second.Process.Signal(syscall.SIGTERM)
		second.Wait()
	}()
	restarted := time.Now()
	// The promise, with default settings: done within 2 minutes
	// of the restart. The poll has a generous deadline of its own so a
	// miss reports how late it was.
	deadline = restarted.Add(4 * time.Minute)
	for progress().Status != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("list not done 4 minutes after restart: %+v", progress())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if took := time.Since(restarted); took > 2*time.Minute {
		t.Fatalf("the list finished %s after the restart; want within 2 minutes", took.Round(time.Second))
	} else {
		t.Logf("the list finished %s after the restart", took.Round(time.Second))
	}
	final := progress()
	c := final.Counts
	if final.Processed != final.Total || c.Deliverable+c.Undeliverable+c.Risky+c.Unknown != final.Total {
		t.Fatalf("counts do not add up: %+v", final)
	}
	// Every row has exactly its verdict; counters only move for rows that
	// had none, so a double-applied batch would show here.
	n := 0
	err = st.Results(ctx, ws.ID, l.ID, "", func(r store.ResultRow) error {
		n++
		if r.Verdict == nil {
			return fmt.Errorf("row %d has no verdict", r.RowNum)
		}
		if w := want[r.Fields[0]]; string(r.Verdict.Status) != w {
			return fmt.Errorf("row %d %s: %s/%s, want %s", r.RowNum, r.Fields[0], r.Verdict.Status, r.Verdict.Reason, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != domains*perDomain || c.Deliverable != domains*perDomain*7/10 {
		t.Fatalf("%d rows, counts %+v", n, c)
	}
	events, err := st.CountVerifiedEvents(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if events != domains*perDomain {
		t.Fatalf("%d verification events for %d rows: some rows were written twice or never", events, domains*perDomain)
	}
}

// TestOperatorCommands walks an operator through a fresh database: serve
// refuses to start before migrate and says what to run; migrate applies
// everything once; apikey create prints a key that the API accepts; a
// worker stops cleanly on SIGTERM.
func TestOperatorCommands(t *testing.T) {
	t.Parallel()
	url := pgtest.New(t, pgtest.Options{}) // an empty database
	run := func(args ...string) (string, error) {
		cmd := touchline(t, args...)
		var out strings.Builder
		cmd.Stdout = &out
		var errOut strings.Builder
		cmd.Stderr = &errOut
		err := cmd.Run()
		return out.String() + errOut.String(), err
	}
	out, err := run("serve", "--database-url", url, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "migrations are pending") || !strings.Contains(out, "touchline migrate") {
		t.Fatalf("serve before migrate: %v\n%s", err, out)
	}
	out, err = run("migrate", "--database-url", url)
	if err != nil || !strings.Contains(out, "applied 001_init.up.sql") || !strings.Contains(out, "applied river") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err = run("migrate", "--database-url", url); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %v\n%s", err, out)
	}
	cmd := touchline(t, "apikey", "create", "--workspace", "ops", "--database-url", url)
	key, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(key), "tl_") {
		t.Fatalf("apikey create: %v %q", err, key)
	}
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ws, err := st.Authenticate(context.Background(), strings.TrimSpace(string(key))); err != nil || ws.Name != "ops" {
		t.Fatalf("the printed key does not authenticate: %v %+v", err, ws)
	}
	if out, err := run("apikey", "create", "--database-url", url); err == nil || !strings.Contains(out, "--workspace is required") {
		t.Fatalf("apikey without workspace: %v %s", err, out)
	}
	// An operator key, then list and revoke (issue 13: keys were only in SQL).
	cmd = touchline(t, "apikey", "create", "--operator", "--name", "grafana", "--database-url", url)
	opKey, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(opKey), "tl_") {
		t.Fatalf("apikey create --operator: %v %q", err, opKey)
	}
	if err := st.AuthenticateOperator(context.Background(), strings.TrimSpace(string(opKey))); err != nil {
		t.Fatalf("the operator key: %v", err)
	}
	if _, err := st.Authenticate(context.Background(), strings.TrimSpace(string(opKey))); err == nil {
		t.Fatal("the operator key opens the workspace API")
	}
	if out, err := run("apikey", "create", "--operator", "--workspace", "ops", "--database-url", url); err == nil || !strings.Contains(out, "not both") {
		t.Fatalf("apikey create --operator --workspace: %v %s", err, out)
	}
	out, err = run("apikey", "list", "--database-url", url)
	if err != nil || !strings.Contains(out, string(key[:9])+"…") || !strings.Contains(out, "(operator)") || !strings.Contains(out, "grafana") ||
		strings.Contains(out, strings.TrimSpace(string(key))) || strings.Contains(out, strings.TrimSpace(string(opKey))) {
		t.Fatalf("apikey list: %v\n%s", err, out)
	}
	if out, err = run("apikey", "list", "--workspace", "ops", "--database-url", url); err != nil || strings.Contains(out, "(operator)") || !strings.Contains(out, "ops") {
		t.Fatalf("apikey list --workspace ops: %v\n%s", err, out)
	}
	keys, err := st.OperatorAPIKeys(context.Background())
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %v %+v", err, keys)
	}
	if out, err = run("apikey", "revoke", strconv.FormatInt(keys[0].ID, 10), "--database-url", url); err != nil || !strings.Contains(out, `of workspace "ops"`) {
		t.Fatalf("apikey revoke: %v\n%s", err, out)
	}
	if _, err := st.Authenticate(context.Background(), strings.TrimSpace(string(key))); err == nil {
		t.Fatal("a revoked key still authenticates")
	}
	if out, err = run("apikey", "revoke", "999999", "--database-url", url); err == nil || !strings.Contains(out, "no key with ID 999999") {
		t.Fatalf("apikey revoke of no key: %v\n%s", err, out)
	}
	if out, err = run("apikey", "revoke", "x", "--database-url", url); err == nil || !strings.Contains(out, `"x" is not a key ID`) {
		t.Fatalf("apikey revoke x: %v\n%s", err, out)
	}
	if out, err := run("worker", "--database-url", url, "--job-timeout", "5m", "--rescue-after", "1m"); err == nil || !strings.Contains(out, "must be longer") {
		t.Fatalf("rescue-after below job-timeout: %v %s", err, out)
	}
	if out, err := run("worker", "--database-url", url, "--inbound-retention", "-1h"); err == nil || !strings.Contains(out, "--inbound-retention -1h0m0s: want a duration of 0 or more") {
		t.Fatalf("negative retention: %v %s", err, out)
	}
	if out, err := run("worker", "--database-url", url, "--touch-timeout", "20m"); err == nil || !strings.Contains(out, "--touch-timeout 20m0s: want more than 0 and less than --rescue-after (1m5s)") {
		t.Fatalf("touch-timeout above rescue-after: %v %s", err, out)
	}
	if out, err := run("worker", "--database-url", url, "--imap-poll", "0s"); err == nil || !strings.Contains(out, "--imap-poll 0s: want 1s or more") {
		t.Fatalf("zero IMAP poll: %v %s", err, out)
	}

	worker := touchline(t, "worker", "--database-url", url, "--dns-server", "127.0.0.1:9", "--helo", "probe.touchline.test")
	logs := &syncBuffer{}
	worker.Stderr = logs
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "worker started") {
		if worker.ProcessState != nil {
			t.Fatalf("worker exited: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	worker.Process.Signal(syscall.SIGTERM)
	if err := worker.Wait(); err != nil {
		t.Fatalf("worker after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Fatalf("no shutdown message:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
