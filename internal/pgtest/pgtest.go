// Package pgtest gives each test a fresh PostgreSQL database of the current schema.
//
// The server comes from TOUCHLINE_TEST_DATABASE_URL (set by `make test`, which starts a
// throwaway local cluster with deploy/local-postgres.sh when DATABASE_URL is not usable), else
// DATABASE_URL. That URL is only used as an administrator connection: pgtest creates and drops
// databases next to the one it names and never writes into it.
//
// The schema is built once per schema version, into a template database
// touchline_tpl_<hash of SchemaVersion>; every test then gets its own
// CREATE DATABASE test_... TEMPLATE touchline_tpl_..., a file-level copy (about 40 ms for a
// small schema), and the database is dropped when the test ends. Tests may therefore run with
// t.Parallel, and test packages (which `go test ./...` runs as parallel processes) share the
// template: the first process to need it builds it under an advisory lock, the others wait and
// reuse it.
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		url := pgtest.New(t, pgtest.Options{SchemaVersion: store.SchemaVersion(), Migrate: migrate})
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options says how to bring an empty database to the current schema.
type Options struct {
	// SchemaVersion identifies the schema, e.g. a hash of the migration files. A template is
	// built once per SchemaVersion; databases made from an older template are never reused.
	// Required when Migrate is set.
	SchemaVersion string
	// Migrate brings the empty database at databaseURL to the current schema. It must close
	// every connection it opened before returning: PostgreSQL cannot copy a database that
	// has sessions. Nil means an empty schema.
	Migrate func(ctx context.Context, databaseURL string) error
}

// Environment variables.
const (
	// EnvURL is the administrator URL tests use; `make test` sets it.
	EnvURL = "TOUCHLINE_TEST_DATABASE_URL"
	// EnvFallbackURL is used when EnvURL is unset.
	EnvFallbackURL = "DATABASE_URL"
	// EnvKeep, when "1", keeps the database of a failed test (and logs its URL) instead of
	// dropping it.
	EnvKeep = "TOUCHLINE_TEST_KEEP_DB"
)

const (
	templatePrefix = "touchline_tpl_"
	buildingSuffix = "_building"
	testPrefix     = "test_"
	// setupTimeout bounds building a template (migrations included) and creating a database.
	setupTimeout = 3 * time.Minute
	// staleAfter: test databases older than this are leftovers of killed runs and are dropped.
	staleAfter = 2 * time.Hour
)

// AdminURL returns the URL of the test server: TOUCHLINE_TEST_DATABASE_URL, else DATABASE_URL.
// With neither, it skips the test, or fails it when CI is set: CI must never silently skip the
// database tests.
func AdminURL(t testing.TB) string {
	t.Helper()
	for _, k := range []string{EnvURL, EnvFallbackURL} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	msg := "pgtest: no database: set " + EnvURL + " or " + EnvFallbackURL +
		" (`make test` sets it, starting a throwaway local PostgreSQL with deploy/local-postgres.sh)"
	if InCI() {
		t.Fatal(msg + "; CI is set, so database tests may not be skipped")
		return ""
	}
	t.Skip(msg)
	return ""
}

// InCI says whether this runs in CI ($CI set to anything but false or 0):
// there, what a test needs and does not find is a failure, not a skip.
func InCI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b // any value but false/0 counts
}

// New creates a database of the schema opts describes, for t alone, and returns its URL. The
// database is dropped (its sessions terminated) when t and its subtests finish.
func New(t testing.TB, opts Options) string {
	t.Helper()
	admin := AdminURL(t)
	if admin == "" {
		return "" // skipped or failed; only reached with a testing.TB that does not stop
	}
	if opts.SchemaVersion == "" {
		if opts.Migrate != nil {
			t.Fatal("pgtest: Options.SchemaVersion is required with Migrate (else a stale template could be reused)")
			return ""
		}
		opts.SchemaVersion = "empty"
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	tpl, err := templates.ensure(ctx, admin, opts)
	if err != nil {
		t.Fatalf("pgtest: template for schema %q: %v", opts.SchemaVersion, err)
		return ""
	}
	name := newDatabaseName(t.Name(), time.Now())
	dbURL, err := WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
		return ""
	}
	if err := createFromTemplate(ctx, admin, name, tpl); err != nil {
		t.Fatalf("pgtest: create test database: %v", err)
		return ""
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv(EnvKeep) == "1" {
			t.Logf("pgtest: kept the database of this failed test: %s", dbURL)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, admin, name); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return dbURL
}

// TemplateName is the template database of a schema version.
func TemplateName(schemaVersion string) string {
	sum := sha256.Sum256([]byte(schemaVersion))
	return templatePrefix + hex.EncodeToString(sum[:])[:12]
}

// HashFS returns a hash of every file in fsys (names and contents, in lexical order), for
// Options.SchemaVersion.
func HashFS(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ---------------------------------------------------------------- templates

// templateCache remembers, per process, which templates are known to be ready, so only the
// first New of a process pays for the advisory lock.
type templateCache struct {
	mu    sync.Mutex
	ready map[string]bool // admin URL + "\x00" + template name
}

var templates = &templateCache{ready: map[string]bool{}}

func (c *templateCache) ensure(ctx context.Context, admin string, opts Options) (string, error) {
	tpl := TemplateName(opts.SchemaVersion)
	key := admin + "\x00" + tpl
	c.mu.Lock() // held while building: parallel tests of this process wait for one build
	defer c.mu.Unlock()
	if c.ready[key] {
		return tpl, nil
	}
	if err := ensureTemplate(ctx, admin, tpl, opts.Migrate); err != nil {
		return "", err
	}
	c.ready[key] = true
	return tpl, nil
}

// lockKey is the advisory lock serializing template builds (and the cleanup of leftovers)
// across processes. Advisory locks are per database, and every process uses the same admin URL.
var lockKey = func() int64 {
	sum := sha256.Sum256([]byte("touchline/internal/pgtest template lock"))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}()

// ensureTemplate makes sure database tpl exists and is migrated. The template is built as
// tpl+"_building" and renamed when migrated, so its name exists only once it is complete; a
// build interrupted by a killed process leaves a _building database that the next build drops.
func ensureTemplate(ctx context.Context, admin, tpl string, migrate func(context.Context, string) error) error {
	conn, err := connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) // also releases the advisory lock

	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)

	dropStale(ctx, conn, time.Now())

	exists, err := databaseExists(ctx, conn, tpl)
	if err != nil || exists {
		return err
	}
	building := tpl + buildingSuffix
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(building)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop leftover %s: %w", building, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(building)); err != nil {
		return fmt.Errorf("create %s: %w", building, err)
	}
	buildURL, err := WithDatabase(admin, building)
	if err != nil {
		return err
	}
	if migrate != nil {
		if err := migrate(ctx, buildURL); err != nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident(building)+" WITH (FORCE)")
			return fmt.Errorf("migrate: %w", err)
		}
	}
	// The migrate callback should have closed its sessions; any that linger (a pool still
	// closing, a leak) would block the rename and every later copy, so end them.
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", building); err != nil {
		return fmt.Errorf("end sessions on %s: %w", building, err)
	}
	if err := retryInUse(ctx, func() error {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+ident(building)+" RENAME TO "+ident(tpl))
		return err
	}); err != nil {
		return fmt.Errorf("rename %s to %s: %w", building, tpl, err)
	}
	// Nobody may connect to the template (a session there would make CREATE DATABASE ...
	// TEMPLATE fail); copying it needs no connection.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(tpl)+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("lock %s: %w", tpl, err)
	}
	return nil
}

// ---------------------------------------------------------------- test databases

var (
	nameClean = regexp.MustCompile(`[^a-z0-9]+`)
	testNameR = regexp.MustCompile(`^test_([0-9a-z]{6,8})_[0-9a-f]{8}(_|$)`)
)

// newDatabaseName is test_<creation time, base 36>_<random>_<test name>, at most 63 bytes.
// The creation time lets a later run drop databases left by killed runs.
func newDatabaseName(testName string, now time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	name := testPrefix + strconv.FormatInt(now.Unix(), 36) + "_" + hex.EncodeToString(b[:])
	if s := strings.Trim(nameClean.ReplaceAllString(strings.ToLower(testName), "_"), "_"); s != "" {
		name += "_" + s
	}
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "_")
	}
	return name
}

func createFromTemplate(ctx context.Context, admin, name, tpl string) error {
	conn, err := connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	sql := "CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(tpl)
	if serverMajor(conn) >= 15 {
		// PostgreSQL 15 copies through the WAL by default, which for a small template takes
		// twice as long as copying the files.
		sql += " STRATEGY FILE_COPY"
	}
	return retryInUse(ctx, func() error {
		_, err := conn.Exec(ctx, sql)
		return err
	})
}

// serverMajor is the server's major version, 0 if unknown.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version") // "15.18 (Debian 15.18-0+deb12u1)"
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(strings.TrimFunc(major, func(r rune) bool { return r < '0' || r > '9' }))
	return n
}

func dropDatabase(ctx context.Context, admin, name string) error {
	conn, err := connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)")
	return err
}

// dropStale drops test databases created more than staleAfter ago: leftovers of test
// processes that were killed before their cleanup ran. Best effort.
func dropStale(ctx context.Context, conn *pgx.Conn, now time.Time) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		m := testNameR.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		sec, err := strconv.ParseInt(m[1], 36, 64)
		if err != nil || now.Sub(time.Unix(sec, 0)) < staleAfter {
			continue
		}
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(n)+" WITH (FORCE)")
	}
}

// ---------------------------------------------------------------- helpers

func connect(ctx context.Context, admin string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the test server: %w", err)
	}
	return conn, nil
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var exists bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	return exists, err
}

// retryInUse runs f until it does not fail with "database is being accessed by other users"
// (SQLSTATE 55006), for up to 10 seconds. The server already waits 5 seconds for sessions
// that are exiting; this covers slower ones.
func retryInUse(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		err := f()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// WithDatabase returns connection string conn with its database replaced by name. It handles
// URLs (postgres://user@host:port/db?..., postgres:///db?host=/socket/dir, with or without a
// dbname parameter) and keyword/value strings (host=/tmp dbname=x).
func WithDatabase(conn, name string) (string, error) {
	scheme, rest, ok := strings.Cut(conn, "://")
	if !ok {
		if strings.Contains(conn, "=") || strings.TrimSpace(conn) == "" {
			// keyword/value: a later keyword wins, in libpq and pgx alike.
			return strings.TrimSpace(conn) + " dbname=" + name, nil
		}
		return "", fmt.Errorf("unrecognized connection string (want postgres://... or key=value)")
	}
	if scheme != "postgres" && scheme != "postgresql" {
		return "", fmt.Errorf("unrecognized connection URL scheme %q", scheme)
	}
	// scheme://authority[/path][?query][#fragment]; the authority holds no '/', '?' or '#'
	// (they are percent-encoded in user info), and may list several hosts, which net/url
	// would reject, so split by hand.
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.HasPrefix(tail, "/") {
		if i := strings.IndexAny(tail, "?#"); i >= 0 {
			tail = tail[i:]
		} else {
			tail = ""
		}
	}
	query, frag, _ := strings.Cut(strings.TrimPrefix(tail, "?"), "#")
	if strings.HasPrefix(tail, "#") {
		query, frag = "", strings.TrimPrefix(tail, "#")
	}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return "", fmt.Errorf("connection URL query: %w", err)
		}
		if q.Has("dbname") {
			q.Set("dbname", name)
			query = q.Encode()
		}
	}
	out := scheme + "://" + authority + "/" + url.PathEscape(name)
	if query != "" {
		out += "?" + query
	}
	if frag != "" {
		out += "#" + frag
	}
	return out, nil
}
