package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Webhook is an endpoint that receives events.
type Webhook struct {
	ID           int64     `json:"id"`
	URL          string    `json:"url"`
	Events       []string  `json:"events"`
	CreatedAt    time.Time `json:"created_at"`
	SecretSealed string    `json:"-"`
	Workspace    int64     `json:"-"`
}

// CreateWebhook stores an endpoint; seal seals its secret for the new row.
func (s *Store) CreateWebhook(ctx context.Context, ws int64, url string, events []string, seal func(id int64) (string, error)) (Webhook, error) {
	var w Webhook
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO webhooks (workspace_id, url, secret_sealed, events) VALUES ($1, $2, '', $3) RETURNING id, created_at`,
			ws, url, events).Scan(&w.ID, &w.CreatedAt); err != nil {
			return err
		}
		sealed, err := seal(w.ID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE webhooks SET secret_sealed = $2 WHERE id = $1`, w.ID, sealed)
		return err
	})
	w.URL, w.Events, w.Workspace = url, events, ws
	return w, err
}

// ListWebhooks returns a workspace's endpoints.
func (s *Store) ListWebhooks(ctx context.Context, ws int64) ([]Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, workspace_id, url, events, created_at, secret_sealed FROM webhooks WHERE workspace_id = $1 ORDER BY id`, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		var w Webhook
		if err := rows.Scan(&w.ID, &w.Workspace, &w.URL, &w.Events, &w.CreatedAt, &w.SecretSealed); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WebhooksFor returns the endpoints of a workspace subscribed to event.
func (s *Store) WebhooksFor(ctx context.Context, tx pgx.Tx, ws int64, event string) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM webhooks WHERE workspace_id = $1 AND $2 = ANY(events)`, ws, event)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// GetWebhook returns one of the workspace's endpoints, for delivery.
func (s *Store) GetWebhook(ctx context.Context, ws, id int64) (Webhook, error) {
	var w Webhook
	err := s.pool.QueryRow(ctx, `SELECT id, workspace_id, url, events, created_at, secret_sealed FROM webhooks WHERE id = $1 AND workspace_id = $2`, id, ws).Scan(
		&w.ID, &w.Workspace, &w.URL, &w.Events, &w.CreatedAt, &w.SecretSealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, ErrNotFound
	}
	return w, err
}
