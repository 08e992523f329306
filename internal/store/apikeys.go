package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// APIKey is what can be shown of a key: never the key, only its first
// characters (Prefix) to tell it apart.
type APIKey struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Operator    bool       `json:"operator"`
	WorkspaceID *int64     `json:"workspace_id,omitempty"`
	Workspace   string     `json:"workspace,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// newKey returns a random key and its SHA-256.
func newKey() (key string, sum [32]byte, err error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", sum, err
	}
	key = keyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return key, sha256.Sum256([]byte(key)), nil
}

// CreateOperatorKey makes a key for the operator surfaces (River UI,
// /metrics). It belongs to no workspace, so the API refuses it.
func (s *Store) CreateOperatorKey(ctx context.Context, name string) (string, error) {
	key, sum, err := newKey()
	if err != nil {
		return "", err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO api_keys (workspace_id, operator, prefix, hash, name) VALUES (NULL, true, $1, $2, $3)`,
		key[:len(keyPrefix)+6], sum[:], name)
	if err != nil {
		return "", fmt.Errorf("store: create operator key: %w", err)
	}
	return key, nil
}

// AuthenticateOperator checks that key is a live operator key: nil, or
// ErrUnauthorized for a workspace key, a revoked key or an unknown one.
func (s *Store) AuthenticateOperator(ctx context.Context, key string) error {
	sum := sha256.Sum256([]byte(key))
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM api_keys WHERE hash = $1 AND operator AND revoked_at IS NULL`, sum[:]).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrUnauthorized
	}
	if err != nil {
		return err
	}
	s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, id)
	return nil
}

const apiKeyColumns = `k.id, k.name, k.prefix, k.operator, k.workspace_id, COALESCE(w.name, ''), k.created_at, k.last_used_at, k.revoked_at`

func scanAPIKeys(rows pgx.Rows) ([]APIKey, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Operator, &k.WorkspaceID, &k.Workspace, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
		return k, err
	})
}

// ListAPIKeys returns the workspace's keys, revoked ones too, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, ws int64) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
		WHERE k.workspace_id = $1 ORDER BY k.id`, ws)
	if err != nil {
		return nil, err
	}
	return scanAPIKeys(rows)
}

// RevokeAPIKey revokes the workspace's key id (a second revoke keeps the
// first time); ErrNotFound when the workspace has no such key. Browser
// sessions opened with the key end with it (KeyWorkspace).
func (s *Store) RevokeAPIKey(ctx context.Context, ws, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND workspace_id = $2`, id, ws)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// OperatorAPIKeys lists every key, of every workspace and the operator's,
// for the operator's `touchline apikey list` (which reads the database
// directly, with no workspace of its own). It shows no key, only prefixes.
func (s *Store) OperatorAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k LEFT JOIN workspaces w ON w.id = k.workspace_id ORDER BY k.id`)
	if err != nil {
		return nil, err
	}
	return scanAPIKeys(rows)
}

// OperatorRevokeAPIKey revokes key id whatever it belongs to, for the
// operator's `touchline apikey revoke`, and returns it.
func (s *Store) OperatorRevokeAPIKey(ctx context.Context, id int64) (APIKey, error) {
	rows, err := s.pool.Query(ctx, `WITH k AS (UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING *)
		SELECT `+apiKeyColumns+` FROM k LEFT JOIN workspaces w ON w.id = k.workspace_id`, id)
	if err != nil {
		return APIKey{}, err
	}
	keys, err := scanAPIKeys(rows)
	if err != nil {
		return APIKey{}, err
	}
	if len(keys) == 0 {
		return APIKey{}, ErrNotFound
	}
	return keys[0], nil
}
