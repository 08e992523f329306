package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/touchline/touchline/migrations"
)

// migrationLock is the advisory lock key that serializes migration runs, so
// two processes started at once do not apply the same file twice.
const migrationLock = 0x746f7563686c6e // "touchln"

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".up.sql") {
			return nil, fmt.Errorf("store: migration file %q is not named NNN_name.up.sql", name)
		}
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("store: two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// SchemaVersion identifies the schema the binary expects: Touchline's
// migration files and River's migration count. Test databases are made from
// a template of that version.
func SchemaVersion() string {
	ms, _ := loadMigrations()
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.name))
		h.Write([]byte(m.sql))
	}
	if rm, err := rivermigrate.New(riverpgxv5.New(nil), nil); err == nil {
		fmt.Fprintf(h, "river:%d", len(rm.AllVersions()))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Migrate applies River's migrations and Touchline's pending ones, each in
// its own transaction, under an advisory lock. It returns what it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock)

	var applied []string
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, err
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("store: River migrations: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river %03d %s", v.Version, v.Name))
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS touchline_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, err
	}
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	done, err := appliedVersions(ctx, pool)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return applied, err
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			tx.Rollback(ctx)
			return applied, fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO touchline_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			tx.Rollback(ctx)
			return applied, err
		}
		if err := tx.Commit(ctx); err != nil {
			return applied, err
		}
		applied = append(applied, m.name)
	}
	return applied, nil
}

func appliedVersions(ctx context.Context, pool *pgxpool.Pool) (map[int]bool, error) {
	done := map[int]bool{}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('touchline_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return done, nil
	}
	rows, err := pool.Query(ctx, `SELECT version FROM touchline_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}

// Pending lists the migrations, River's and Touchline's, not yet applied.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	var pending []string
	rm, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
	if err != nil {
		return nil, err
	}
	vr, err := rm.Validate(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: River migration state: %w", err)
	}
	if !vr.OK {
		for _, m := range vr.Messages {
			pending = append(pending, "river: "+m)
		}
	}
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	done, err := appliedVersions(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if !done[m.version] {
			pending = append(pending, m.name)
		}
	}
	return pending, nil
}

// Migrate applies pending migrations on the store's database.
func (s *Store) Migrate(ctx context.Context) ([]string, error) { return Migrate(ctx, s.pool) }
