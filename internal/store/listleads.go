package store

import (
	"context"
	"errors"
)

// ListLeadIDs returns the leads made from a list's rows whose verdict is
// one of statuses, once each, in the order of their first row, with the
// list itself (its status says whether every row has a verdict yet). A
// list the workspace does not have is a *NotFoundError.
func (s *Store) ListLeadIDs(ctx context.Context, ws, listID int64, statuses []string) (List, []int64, error) {
	l, err := s.GetList(ctx, ws, listID)
	if errors.Is(err, ErrNotFound) {
		return l, nil, &NotFoundError{Resource: "list", ID: listID}
	}
	if err != nil {
		return l, nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT l.id FROM list_rows r
		JOIN leads l ON l.workspace_id = $1 AND lower(l.email) = lower(r.email_norm)
		WHERE r.list_id = $2 AND r.status = ANY($3)
		GROUP BY l.id ORDER BY min(r.row_num)`, ws, listID, statuses)
	if err != nil {
		return l, nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return l, nil, err
		}
		ids = append(ids, id)
	}
	return l, ids, rows.Err()
}
