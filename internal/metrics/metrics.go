// Package metrics holds Touchline's Prometheus metrics (served at /metrics
// behind the admin authentication). Every process registers the same set;
// counters are per process, as Prometheus expects.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	// TouchesSent counts touches handed to SMTP, by outcome.
	TouchesSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "touchline_touches_total", Help: "Email touches handed to SMTP, by outcome (sent, failed, uncertain).",
	}, []string{"outcome"})
	// SchedulerLag is the delay from a touch's due time to its hand-off.
	SchedulerLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "touchline_scheduler_lag_seconds", Help: "From a touch's due time to its hand-off to SMTP.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
	})
	// Inbound counts classified inbound messages.
	Inbound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "touchline_inbound_messages_total", Help: "Inbound messages by class (bounce, complaint, auto_reply, unsubscribe, human_reply, unknown).",
	}, []string{"class"})
	// Bounces counts bounced recipients by kind.
	Bounces = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "touchline_bounces_total", Help: "Bounced recipients by kind (hard, soft, sender).",
	}, []string{"kind"})
	// Verifications counts verdicts by status.
	Verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "touchline_verifications_total", Help: "Address verdicts by status.",
	}, []string{"status"})
)

// Registry is the process's registry with Touchline's metrics, Go runtime
// metrics and, given a pool, River's queue depth.
func Registry(pool *pgxpool.Pool) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(TouchesSent, SchedulerLag, Inbound, Bounces, Verifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		r.MustRegister(&queueDepth{pool: pool, desc: prometheus.NewDesc("touchline_river_jobs",
			"River jobs not finalized, by queue and state.", []string{"queue", "state"}, nil)})
	}
	return r
}

// Handler serves a registry.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{})
}

// queueDepth reads River's queue depth from the database at scrape time.
type queueDepth struct {
	pool *pgxpool.Pool
	desc *prometheus.Desc
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := q.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending') GROUP BY 1, 2`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue, state string
		var n int64
		if rows.Scan(&queue, &state, &n) == nil {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), queue, state)
		}
	}
}
