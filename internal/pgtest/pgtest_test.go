package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
)

// selfTest returns Options of a schema version of its own (so every run builds its template
// afresh), whose Migrate creates a table with one row and counts its calls; the template is
// dropped when t ends.
func selfTest(t *testing.T) (Options, *atomic.Int32) {
	t.Helper()
	admin := AdminURL(t)
	var calls atomic.Int32
	version := "pgtest-selftest-" + randomHex(t)
	t.Cleanup(func() { dropTemplate(t, admin, TemplateName(version)) })
	return Options{
		SchemaVersion: version,
		Migrate: func(ctx context.Context, databaseURL string) error {
			calls.Add(1)
			conn, err := pgx.Connect(ctx, databaseURL)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, `CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);
				INSERT INTO widgets (name) VALUES ('seed')`)
			return err
		},
	}, &calls
}

func dropTemplate(t testing.TB, admin, tpl string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dropDatabase(ctx, admin, tpl); err != nil {
		t.Errorf("drop template %s: %v", tpl, err)
	}
	templates.mu.Lock()
	delete(templates.ready, admin+"\x00"+tpl)
	templates.mu.Unlock()
}

func randomHex(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func open(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t testing.TB, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func databaseGone(t testing.TB, admin, name string) bool {
	t.Helper()
	conn := open(t, admin)
	exists, err := databaseExists(context.Background(), conn, name)
	if err != nil {
		t.Fatal(err)
	}
	return !exists
}

func TestNewGivesIsolatedDatabasesOfTheSchema(t *testing.T) {
	opts, calls := selfTest(t)
	a := open(t, New(t, opts))
	b := open(t, New(t, opts))

	nameA := queryString(t, a, "SELECT current_database()")
	nameB := queryString(t, b, "SELECT current_database()")
	if nameA == nameB {
		t.Fatalf("both databases are %s", nameA)
	}
	for _, n := range []string{nameA, nameB} {
		if !strings.HasPrefix(n, "test_") {
			t.Errorf("database %s: want a test_ prefix", n)
		}
	}
	if _, err := a.Exec(context.Background(), "INSERT INTO widgets (name) VALUES ('only in a')"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, a, "SELECT string_agg(name, ',' ORDER BY id) FROM widgets"); got != "seed,only in a" {
		t.Errorf("a: widgets = %q", got)
	}
	if got := queryString(t, b, "SELECT string_agg(name, ',' ORDER BY id) FROM widgets"); got != "seed" {
		t.Errorf("b: widgets = %q, want only the template's row", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Migrate ran %d times, want once", n)
	}
}

func TestNewDropsTheDatabaseAtCleanup(t *testing.T) {
	opts, _ := selfTest(t)
	admin := AdminURL(t)
	var name string
	var leftOpen *pgx.Conn
	t.Cleanup(func() {
		if leftOpen != nil {
			leftOpen.Close(context.Background())
		}
	})
	t.Run("user", func(t *testing.T) {
		var err error
		leftOpen, err = pgx.Connect(context.Background(), New(t, opts))
		if err != nil {
			t.Fatal(err)
		}
		// The session stays open past the test: the drop must end it.
		name = queryString(t, leftOpen, "SELECT current_database()")
	})
	if !databaseGone(t, admin, name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestNewInParallelSubtests(t *testing.T) {
	opts, calls := selfTest(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for i := range 12 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn := open(t, New(t, opts))
				if _, err := conn.Exec(context.Background(), "INSERT INTO widgets (name) VALUES ($1)", fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
				if got := queryString(t, conn, "SELECT count(*)::text FROM widgets"); got != "2" {
					t.Errorf("widgets: %s rows, want 2 (seed + mine)", got)
				}
				mu.Lock()
				seen[queryString(t, conn, "SELECT current_database()")] = true
				mu.Unlock()
			})
		}
	})
	if len(seen) != 12 {
		t.Errorf("%d distinct databases for 12 tests", len(seen))
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Migrate ran %d times, want once", n)
	}
}

// Separate processes share templates through the advisory lock: simulate them with
// concurrent ensureTemplate calls, which bypass the per-process cache.
func TestTemplateBuiltOnceAcrossProcesses(t *testing.T) {
	admin := AdminURL(t)
	tpl := TemplateName("pgtest-concurrent-" + randomHex(t))
	t.Cleanup(func() { dropTemplate(t, admin, tpl) })
	var calls atomic.Int32
	migrate := func(ctx context.Context, url string) error {
		calls.Add(1)
		time.Sleep(200 * time.Millisecond)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE t (x int)")
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() { errs <- ensureTemplate(ctx, admin, tpl, migrate) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Migrate ran %d times, want once", n)
	}
}

func TestTemplateSurvivesLeftoversAndLeaks(t *testing.T) {
	admin := AdminURL(t)
	version := "pgtest-leftover-" + randomHex(t)
	tpl := TemplateName(version)
	t.Cleanup(func() { dropTemplate(t, admin, tpl) })

	// A build killed half-way left tpl_building behind, with a session still on it.
	ctx := context.Background()
	adminConn := open(t, admin)
	if _, err := adminConn.Exec(ctx, "CREATE DATABASE "+ident(tpl+buildingSuffix)); err != nil {
		t.Fatal(err)
	}
	buildingURL, err := WithDatabase(admin, tpl+buildingSuffix)
	if err != nil {
		t.Fatal(err)
	}
	stale := open(t, buildingURL)
	if _, err := stale.Exec(ctx, "CREATE TABLE half_done (x int)"); err != nil {
		t.Fatal(err)
	}

	// This Migrate leaks its connection: New must still be able to copy the template.
	var leaked *pgx.Conn
	t.Cleanup(func() {
		if leaked != nil {
			leaked.Close(context.Background())
		}
	})
	opts := Options{SchemaVersion: version, Migrate: func(ctx context.Context, url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		leaked = conn
		_, err = conn.Exec(ctx, "CREATE TABLE done (x int)")
		return err
	}}
	conn := open(t, New(t, opts))
	if got := queryString(t, conn, "SELECT coalesce(to_regclass('done')::text, '') || ',' || coalesce(to_regclass('half_done')::text, '')"); got != "done," {
		t.Errorf("tables done,half_done = %q, want only done", got)
	}
	open(t, New(t, opts)) // a second copy: no session may linger on the template
}

func TestDropStaleRemovesOnlyOldTestDatabases(t *testing.T) {
	admin := AdminURL(t)
	conn := open(t, admin)
	ctx := context.Background()
	now := time.Now()
	old := newDatabaseName("TestOld", now.Add(-staleAfter-time.Hour))
	recent := newDatabaseName("TestRecent", now.Add(-time.Minute))
	for _, n := range []string{old, recent} {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(n)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropDatabase(context.Background(), admin, n) })
	}
	dropStale(ctx, conn, now)
	if !databaseGone(t, admin, old) {
		t.Errorf("stale %s not dropped", old)
	}
	if databaseGone(t, admin, recent) {
		t.Errorf("recent %s dropped", recent)
	}
}

// fakeTB records Skip and Fatal instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Name() string      { return "Fake" }
func (f *fakeTB) Skip(args ...any)  { f.skipped, f.msg = true, fmt.Sprint(args...) }
func (f *fakeTB) Fatal(args ...any) { f.failed, f.msg = true, fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
}

func TestAdminURL(t *testing.T) {
	for _, tc := range []struct {
		name, testURL, dbURL, ci string
		want                     string
		skip, fail               bool
	}{
		{name: "test url wins", testURL: "postgres:///a", dbURL: "postgres:///b", want: "postgres:///a"},
		{name: "database url", dbURL: "postgres:///b", ci: "true", want: "postgres:///b"},
		{name: "none skips", skip: true},
		{name: "none with CI=false skips", ci: "false", skip: true},
		{name: "none in CI fails", ci: "true", fail: true},
		{name: "none in CI=1 fails", ci: "1", fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvURL, tc.testURL)
			t.Setenv(EnvFallbackURL, tc.dbURL)
			t.Setenv("CI", tc.ci)
			f := &fakeTB{}
			got := AdminURL(f)
			if got != tc.want || f.skipped != tc.skip || f.failed != tc.fail {
				t.Errorf("AdminURL = %q skipped=%v failed=%v (%s); want %q skipped=%v failed=%v",
					got, f.skipped, f.failed, f.msg, tc.want, tc.skip, tc.fail)
			}
			if (tc.skip || tc.fail) && !strings.Contains(f.msg, EnvURL) {
				t.Errorf("message %q does not name %s", f.msg, EnvURL)
			}
		})
	}
}

func TestNewRequiresSchemaVersionWithMigrate(t *testing.T) {
	t.Setenv(EnvURL, "postgres:///unused?host=/nonexistent")
	f := &fakeTB{}
	if got := New(f, Options{Migrate: func(context.Context, string) error { return nil }}); got != "" || !f.failed {
		t.Errorf("New = %q, failed=%v; want a failure", got, f.failed)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want, host string }{
		{"postgres:///touchline?host=/work/x/.tmp/postgres/sock&user=postgres",
			"postgres:///test_1?host=/work/x/.tmp/postgres/sock&user=postgres", "/work/x/.tmp/postgres/sock"},
		{"postgres://u:p%2Fw@db.example:5433/touchline?sslmode=disable",
			"postgres://u:p%2Fw@db.example:5433/test_1?sslmode=disable", "db.example"},
		{"postgresql://u@localhost", "postgresql://u@localhost/test_1", "localhost"},
		{"postgres://u@localhost/", "postgres://u@localhost/test_1", "localhost"},
		{"postgres://u@localhost?sslmode=disable", "postgres://u@localhost/test_1?sslmode=disable", "localhost"},
		{"postgres://u@h1:5432,h2:5432/app?target_session_attrs=read-write",
			"postgres://u@h1:5432,h2:5432/test_1?target_session_attrs=read-write", "h1"},
		{"postgres://u@localhost/app?dbname=app&sslmode=disable",
			"postgres://u@localhost/test_1?dbname=test_1&sslmode=disable", "localhost"},
		{"host=/tmp user=postgres dbname=touchline", "host=/tmp user=postgres dbname=touchline dbname=test_1", "/tmp"},
	} {
		got, err := WithDatabase(tc.in, "test_1")
		if err != nil || got != tc.want {
			t.Errorf("WithDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Errorf("pgx cannot parse %q: %v", got, err)
			continue
		}
		if cfg.Database != "test_1" || cfg.Host != tc.host {
			t.Errorf("%q: pgx reads database %q host %q; want test_1 %s", got, cfg.Database, cfg.Host, tc.host)
		}
	}
	for _, bad := range []string{"mysql://x/y", "not a url"} {
		if _, err := WithDatabase(bad, "x"); err == nil {
			t.Errorf("WithDatabase(%q): no error", bad)
		}
	}
}

func TestDatabaseNames(t *testing.T) {
	now := time.Now()
	n := newDatabaseName("TestSomething/with spaces and a very long subtest name that goes on and on", now)
	if len(n) > 63 || !testNameR.MatchString(n) || strings.HasSuffix(n, "_") {
		t.Errorf("name %q: want ≤63 bytes matching %s", n, testNameR)
	}
	if a, b := newDatabaseName("T", now), newDatabaseName("T", now); a == b {
		t.Errorf("two names alike: %s", a)
	}
	if a, b := TemplateName("v1"), TemplateName("v2"); a == b || !strings.HasPrefix(a, "touchline_tpl_") || len(a) > 63-len(buildingSuffix) {
		t.Errorf("template names %q %q", a, b)
	}
}

func TestHashFS(t *testing.T) {
	a := fstest.MapFS{"001_init.up.sql": {Data: []byte("CREATE TABLE a ()")}}
	b := fstest.MapFS{"001_init.up.sql": {Data: []byte("CREATE TABLE b ()")}}
	ha, err := HashFS(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := HashFS(b)
	ha2, _ := HashFS(a)
	if ha == hb || ha != ha2 || ha == "" {
		t.Errorf("HashFS: %q %q %q", ha, ha2, hb)
	}
}

// BenchmarkNew measures what New costs a test once the template exists: CREATE DATABASE ...
// TEMPLATE, then DROP DATABASE at cleanup.
func BenchmarkNew(b *testing.B) {
	admin := AdminURL(b)
	version := "pgtest-bench-" + randomHex(b)
	b.Cleanup(func() { dropTemplate(b, admin, TemplateName(version)) })
	opts := Options{SchemaVersion: version, Migrate: func(ctx context.Context, url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE t (id serial PRIMARY KEY, v text)")
		return err
	}}
	ctx := context.Background()
	tpl, err := templates.ensure(ctx, admin, opts)
	if err != nil {
		b.Fatal(err)
	}
	var create time.Duration
	for b.Loop() {
		name := newDatabaseName(b.Name(), time.Now())
		start := time.Now()
		if err := createFromTemplate(ctx, admin, name, tpl); err != nil {
			b.Fatal(err)
		}
		create += time.Since(start)
		if err := dropDatabase(ctx, admin, name); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "ms-create/op")
}

// BenchmarkNewParallel: the same with 8 concurrent creators, as parallel tests and packages do.
func BenchmarkNewParallel(b *testing.B) {
	admin := AdminURL(b)
	version := "pgtest-bench-" + randomHex(b)
	b.Cleanup(func() { dropTemplate(b, admin, TemplateName(version)) })
	ctx := context.Background()
	tpl, err := templates.ensure(ctx, admin, Options{SchemaVersion: version})
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4) // × GOMAXPROCS goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := newDatabaseName("bench", time.Now())
			if err := createFromTemplate(ctx, admin, name, tpl); err != nil {
				b.Error(err)
				return
			}
			if err := dropDatabase(ctx, admin, name); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
