package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is one thing Touchline reported: the payload its webhooks carry.
type Event struct {
	ID        int64           `json:"id"`
	EventID   string          `json:"event_id"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// RecordEvent keeps an event in tx, the transaction of the change it
// reports.
func (s *Store) RecordEvent(ctx context.Context, tx pgx.Tx, ws int64, eventID, typ string, payload []byte) error {
	_, err := tx.Exec(ctx, `INSERT INTO events (workspace_id, event_id, type, payload) VALUES ($1, $2, $3, $4)`, ws, eventID, typ, payload)
	return err
}

// ListEvents returns a workspace's events after the given ID (0: from the
// start), oldest first, of one type when typ is set.
func (s *Store) ListEvents(ctx context.Context, ws int64, typ string, after int64, limit int) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, event_id, type, payload, created_at FROM events
		WHERE workspace_id = $1 AND ($2 = '' OR type = $2) AND id > $3 ORDER BY id LIMIT $4`, ws, typ, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.EventID, &e.Type, &e.Payload, &e.CreatedAt)
		return e, err
	})
}
