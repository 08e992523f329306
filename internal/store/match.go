package store

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The Find* lookups below find the touch a message that came back refers
// to. They only read. ws scopes them to one workspace, or is
// [AnyWorkspace]: mail comes back to the server's own addresses (the
// bounce domain, the rep's inbox) before any tenant is known, and the
// match itself names the tenant. A VERP token or a Message-ID names one
// touch anywhere; a lead's address can be in several workspaces, so the
// sender lookup across workspaces takes the most recent touch of all.

// AnyWorkspace asks a Find* lookup to search every workspace. It is a
// deliberate value, never the zero one: a workspace ID left unset (0)
// matches nothing, so a tenant request can never widen to every tenant
// by accident. Only the inbox and the operator's `touchline classify`
// pass it.
const AnyWorkspace int64 = -1

// FindTouchByEnrollmentStep finds the touch a VERP return path names.
func (s *Store) FindTouchByEnrollmentStep(ctx context.Context, ws, enrollmentID int64, step int) (TouchMatch, error) {
	return scanTouchMatch(s.pool.QueryRow(ctx, touchMatchSQL+`
		WHERE t.enrollment_id = $1 AND t.step = $2 AND ($3::bigint = -1 OR e.workspace_id = $3)`, enrollmentID, step, ws))
}

// FindTouchByMessageID finds the touch that sent one of ids (In-Reply-To,
// References); the most recently sent when several match.
func (s *Store) FindTouchByMessageID(ctx context.Context, ws int64, ids []string) (TouchMatch, error) {
	norm := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !strings.HasPrefix(id, "<") {
			id = "<" + id + ">"
		}
		norm = append(norm, id)
	}
	if len(norm) == 0 {
		return TouchMatch{}, ErrNotFound
	}
	return scanTouchMatch(s.pool.QueryRow(ctx, touchMatchSQL+`
		WHERE t.message_id = ANY($1) AND ($2::bigint = -1 OR e.workspace_id = $2) ORDER BY t.sent_at DESC NULLS LAST LIMIT 1`, norm, ws))
}

// FindLatestTouchToLead finds the most recent touch sent to an address,
// the last resort of matching a reply to its enrollment.
func (s *Store) FindLatestTouchToLead(ctx context.Context, ws int64, email string) (TouchMatch, error) {
	return scanTouchMatch(s.pool.QueryRow(ctx, touchMatchSQL+`
		WHERE lower(l.email) = lower($1) AND t.status IN ('sent', 'uncertain') AND ($2::bigint = -1 OR e.workspace_id = $2)
		ORDER BY t.sent_at DESC NULLS LAST LIMIT 1`, email, ws))
}

// GetWorkspace returns the workspace with id.
func (s *Store) GetWorkspace(ctx context.Context, id int64) (Workspace, error) {
	var w Workspace
	err := s.pool.QueryRow(ctx, `SELECT id, name FROM workspaces WHERE id = $1`, id).Scan(&w.ID, &w.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, ErrNotFound
	}
	return w, err
}

// FindWorkspace returns the workspace called nameOrID, or whose ID it is
// when no workspace has that name. Unlike EnsureWorkspace it never creates
// one.
func (s *Store) FindWorkspace(ctx context.Context, nameOrID string) (Workspace, error) {
	nameOrID = strings.TrimSpace(nameOrID)
	id, _ := strconv.ParseInt(nameOrID, 10, 64)
	var w Workspace
	err := s.pool.QueryRow(ctx, `
		SELECT id, name FROM workspaces WHERE name = $1 OR id = $2
		ORDER BY name = $1 DESC LIMIT 1`, nameOrID, id).Scan(&w.ID, &w.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, ErrNotFound
	}
	return w, err
}
