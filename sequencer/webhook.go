package sequencer

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/store"
)

// Webhook events.
var WebhookEvents = []string{"lead.promoted", "enrollment.stopped", "mailbox.paused", "cadence.paused", "list.completed"}

// WebhookArgs is one delivery of one event to one endpoint.
type WebhookArgs struct {
	Workspace int64           `json:"workspace_id"`
	WebhookID int64           `json:"webhook_id"`
	EventID   string          `json:"event_id"`
	Event     string          `json:"event"`
	Payload   json.RawMessage `json:"payload"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return "webhook" }

// InsertOpts: deliveries retry with River's backoff for about a day.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: 12}
}

// emit records event (GET /v1/events) and queues it for every endpoint of
// the workspace subscribed to it, in the transaction of the change it
// reports.
func (e *Engine) emit(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], ws int64, event string, payload map[string]any) error {
	var b [12]byte
	rand.Read(b[:])
	eventID := "evt_" + hex.EncodeToString(b[:])
	payload["event"], payload["event_id"], payload["occurred_at"] = event, eventID, e.now().UTC()
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if err := e.Store.RecordEvent(ctx, tx, ws, eventID, event, body); err != nil {
		return err
	}
	ids, err := e.Store.WebhooksFor(ctx, tx, ws, event)
	if err != nil || len(ids) == 0 {
		return err
	}
	if c, err := river.ClientFromContextSafely[pgx.Tx](ctx); err == nil {
		client = c
	}
	if client == nil {
		return errors.New("sequencer: no River client to deliver webhooks")
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: WebhookArgs{Workspace: ws, WebhookID: id, EventID: eventID, Event: event, Payload: body}}
	}
	_, err = client.InsertManyTx(ctx, tx, params)
	return err
}

// WebhookSignature is the value of the Touchline-Signature header:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>".
// Receivers recompute it and reject old timestamps (replays).
func WebhookSignature(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// WebhookWorker delivers one event; a non-2xx answer is retried, and a
// redirect is not followed (it counts as a failed delivery).
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	Engine *Engine
	// Client defaults to one under Engine.Outbound: the policy's dialer,
	// no proxy, no redirects.
	Client *http.Client

	once   sync.Once
	client *http.Client
}

// Work implements river.Worker.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	e := w.Engine
	hook, err := e.Store.GetWebhook(ctx, job.Args.Workspace, job.Args.WebhookID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // endpoint removed
	}
	if err != nil {
		return err
	}
	secret, err := e.Secrets.Open(hook.SecretSealed, fmt.Sprintf("webhook:%d:secret", hook.ID))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", hook.URL, bytes.NewReader(job.Args.Payload))
	if err != nil {
		return river.JobCancel(err) // a URL that cannot be requested will not improve
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Touchline-Webhooks/1")
	req.Header.Set("Touchline-Event", job.Args.Event)
	req.Header.Set("Touchline-Event-Id", job.Args.EventID)
	req.Header.Set("Touchline-Signature", WebhookSignature(secret, e.now(), job.Args.Payload))
	w.once.Do(func() {
		w.client = w.Client
		if w.client == nil {
			w.client = e.Outbound.HTTPClient(15 * time.Second)
		}
	})
	client := w.client
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %d: %s answered %s", hook.ID, hook.URL, resp.Status)
	}
	return nil
}

// CreateWebhook registers an endpoint and returns it with its secret,
// shown once.
func (o *Operator) CreateWebhook(ctx context.Context, ws int64, rawURL string, events []string) (store.Webhook, string, error) {
	var p []string
	// The address the host resolves to is judged again at every delivery
	// (Engine.Outbound); this refuses what is plainly wrong at once.
	if err := o.Outbound.CheckURL(rawURL); err != nil {
		p = append(p, "url: "+err.Error())
	}
	if len(events) == 0 {
		p = append(p, fmt.Sprintf("events: name at least one of %v", WebhookEvents))
	}
	for _, ev := range events {
		if !slices.Contains(WebhookEvents, ev) {
			p = append(p, fmt.Sprintf("events: %q is not one of %v", ev, WebhookEvents))
		}
	}
	if len(p) > 0 {
		return store.Webhook{}, "", &BadRequest{Problems: p}
	}
	var b [24]byte
	rand.Read(b[:])
	secret := "whsec_" + hex.EncodeToString(b[:])
	hook, err := o.Store.CreateWebhook(ctx, ws, rawURL, events, func(id int64) (string, error) {
		return o.Secrets.Seal([]byte(secret), fmt.Sprintf("webhook:%d:secret", id))
	})
	return hook, secret, err
}

// ListCompleted is store.Store.OnListDone: it fires list.completed.
func (e *Engine) ListCompleted(client *river.Client[pgx.Tx]) func(ctx context.Context, tx pgx.Tx, l store.List) error {
	return func(ctx context.Context, tx pgx.Tx, l store.List) error {
		return e.emit(ctx, tx, client, l.Workspace, "list.completed", map[string]any{"list_id": l.ID, "name": l.Name, "total": l.Total})
	}
}
