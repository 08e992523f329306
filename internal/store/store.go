// Package store is Touchline's PostgreSQL storage layer: every SQL statement
// the application runs lives in this package. It owns the schema
// (migrations/ plus River's tables), workspaces and API keys, uploaded lists
// and their rows, leads and their history, suppressions and the shared
// cache of domain facts.
//
// Tenancy: every method that reads or changes user data takes the caller's
// workspace ID and filters by it, so no API key can reach another
// workspace's rows.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sentinel errors.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrUnauthorized = errors.New("store: unknown or revoked API key")
	ErrConflict     = errors.New("store: conflict")
)

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// OnListDone, when set, runs in the transaction that finishes a list
	// (the list.completed webhook).
	OnListDone func(ctx context.Context, tx pgx.Tx, l List) error
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, func(cfg *pgxpool.Config) {
		// River's fetchers, 8+ verification workers and the touch senders
		// all hold connections; pgx's default (4 on 2 cores) starves them.
		if cfg.MaxConns < 32 {
			cfg.MaxConns = 32
		}
	})
}

// OpenReadOnly connects for a tool that only reads (touchline classify):
// every transaction on its connections is READ ONLY, so PostgreSQL itself
// refuses a write.
func OpenReadOnly(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	})
}

func open(ctx context.Context, url string, configure func(*pgxpool.Config)) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: database URL: %w", err)
	}
	configure(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: database at %s is not reachable: %w", redact(url), err)
	}
	return &Store{pool: pool}, nil
}

// Pool returns the connection pool, for River's driver.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// redact hides a password in a connection URL for messages.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.Index(url[i+3:], "@"); j >= 0 {
			cred := url[i+3 : i+3+j]
			if k := strings.IndexByte(cred, ':'); k >= 0 {
				return url[:i+3] + cred[:k] + ":***" + url[i+3+j:]
			}
		}
	}
	return url
}

// retryDeadlock runs f again when PostgreSQL broke a deadlock by aborting
// it (SQLSTATE 40P01) or a serialization failed (40001).
func retryDeadlock(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = f()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Workspace is a tenant.
type Workspace struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// EnsureWorkspace returns the workspace called name, creating it if needed.
func (s *Store) EnsureWorkspace(ctx context.Context, name string) (Workspace, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Workspace{}, errors.New("store: workspace name is empty")
	}
	var w Workspace
	err := s.pool.QueryRow(ctx, `
		INSERT INTO workspaces (name) VALUES ($1)
		ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
		RETURNING id, name`, name).Scan(&w.ID, &w.Name)
	return w, err
}

// keyPrefix marks Touchline API keys, so that secret scanners and people
// can recognise a leaked one.
const keyPrefix = "tl_"

// CreateAPIKey makes a new random key for the workspace and returns it;
// only its SHA-256 is stored, so this is the only time it is seen.
func (s *Store) CreateAPIKey(ctx context.Context, workspaceID int64, name string) (string, error) {
	key, sum, err := newKey()
	if err != nil {
		return "", err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO api_keys (workspace_id, prefix, hash, name) VALUES ($1, $2, $3, $4)`,
		workspaceID, key[:len(keyPrefix)+6], sum[:], name)
	if err != nil {
		return "", fmt.Errorf("store: create API key: %w", err)
	}
	return key, nil
}

// Authenticate returns the workspace of an API key.
func (s *Store) Authenticate(ctx context.Context, key string) (Workspace, error) {
	sum := sha256.Sum256([]byte(key))
	var (
		w     Workspace
		keyID int64
		used  *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		SELECT w.id, w.name, k.id, k.last_used_at
		FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
		WHERE k.hash = $1 AND k.revoked_at IS NULL`, sum[:]).Scan(&w.ID, &w.Name, &keyID, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, ErrUnauthorized
	}
	if err != nil {
		return Workspace{}, err
	}
	// Recording use on every request would make one hot row of the key;
	// once a minute is enough to tell a live key from a dead one.
	if used == nil || time.Since(*used) > time.Minute {
		s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, keyID)
	}
	return w, nil
}
