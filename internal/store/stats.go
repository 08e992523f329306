package store

import (
	"context"
	"time"
)

// StatsFilter selects what Stats counts.
type StatsFilter struct {
	CadenceID, MailboxID int64
	From, To             time.Time
}

// Counts of outcomes, with the rates derived from them.
type Outcomes struct {
	Sent             int     `json:"sent"`
	HardBounces      int     `json:"hard_bounces"`
	SoftBounces      int     `json:"soft_bounces"`
	SenderRejections int     `json:"sender_rejections"`
	Replies          int     `json:"replies"`
	AutoReplies      int     `json:"auto_replies"`
	Unsubscribes     int     `json:"unsubscribes"`
	Complaints       int     `json:"complaints"`
	BounceRate       float64 `json:"bounce_rate"`
	// VerifierMisses are hard bounces of addresses the verifier had
	// called deliverable; VerifierMissRate is them over Sent: the bounce
	// rate of deliverable verdicts, the verifier's own error rate.
	VerifierMisses   int     `json:"verifier_misses"`
	VerifierMissRate float64 `json:"verifier_miss_rate"`
	ReplyRate        float64 `json:"reply_rate"`
}

func (o *Outcomes) rates() {
	if o.Sent > 0 {
		o.BounceRate = float64(o.HardBounces) / float64(o.Sent)
		o.ReplyRate = float64(o.Replies) / float64(o.Sent)
		o.VerifierMissRate = float64(o.VerifierMisses) / float64(o.Sent)
	}
}

// PeriodStats is one day of a workspace's sending.
type PeriodStats struct {
	Period   time.Time `json:"period"`
	Enrolled int       `json:"enrolled"`
	Outcomes
	ProspectsCreated        int      `json:"prospects_created"`
	MedianFirstReplySeconds *float64 `json:"median_time_to_first_reply_seconds"`
}

// StepStats is one step (and A/B variant) over the whole range.
type StepStats struct {
	Step    int    `json:"step"`
	Variant string `json:"variant"`
	Outcomes
}

// eventCounts are the outcome columns, counted from lead events. Every
// way to unsubscribe records "unsubscribe" (by mail, the mailto: address,
// the one-click POST); "unsubscribed" is what one-click POSTs recorded
// before, still counted.
const eventCounts = `
	count(*) FILTER (WHERE ev.type = 'hard_bounce') AS hard,
	count(*) FILTER (WHERE ev.type = 'soft_bounce') AS soft,
	count(*) FILTER (WHERE ev.type = 'sender_rejection') AS sender,
	count(*) FILTER (WHERE ev.type = 'replied') AS replies,
	count(*) FILTER (WHERE ev.type = 'auto_reply') AS auto,
	count(*) FILTER (WHERE ev.type IN ('unsubscribe', 'unsubscribed')) AS unsub,
	count(*) FILTER (WHERE ev.type = 'complaint') AS complaints,
	count(*) FILTER (WHERE ev.type = 'hard_bounce' AND ev.data->>'verifier_miss' = 'true') AS misses`

// Stats counts a workspace's cadence outcomes per day and per step and
// variant, from the touches sent and the events of what came back.
func (s *Store) Stats(ctx context.Context, ws int64, f StatsFilter) ([]PeriodStats, []StepStats, error) {
	args := []any{ws, f.CadenceID, f.MailboxID, f.From, f.To}
	rows, err := s.pool.Query(ctx, `
		WITH days AS (
			SELECT generate_series(date_trunc('day', $4::timestamptz), date_trunc('day', $5::timestamptz), '1 day') AS d
		), en AS (
			SELECT e.* FROM enrollments e WHERE e.workspace_id = $1 AND ($2 = 0 OR e.cadence_id = $2) AND ($3 = 0 OR e.mailbox_id = $3)
		), sent AS (
			SELECT date_trunc('day', t.sent_at) AS d, count(*) AS n FROM touches t JOIN en ON en.id = t.enrollment_id
			WHERE t.status = 'sent' AND t.sent_at >= $4 AND t.sent_at < $5 GROUP BY 1
		), enrolled AS (
			SELECT date_trunc('day', created_at) AS d, count(*) AS n FROM en WHERE created_at >= $4 AND created_at < $5 GROUP BY 1
		), evs AS (
			SELECT date_trunc('day', ev.created_at) AS d, `+eventCounts+`,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ev.created_at - first.sent_at))
					FILTER (WHERE ev.type = 'replied') AS median_reply
			FROM lead_events ev JOIN en ON en.id = (ev.data->>'enrollment_id')::bigint
			LEFT JOIN touches first ON first.enrollment_id = en.id AND first.step = 1
			WHERE ev.workspace_id = $1 AND ev.created_at >= $4 AND ev.created_at < $5 GROUP BY 1
		), prospects AS (
			SELECT date_trunc('day', ls.created_at) AS d, count(DISTINCT ls.lead_id) AS n FROM lead_stages ls
			WHERE ls.workspace_id = $1 AND ls.to_stage = 'prospect' AND ls.created_at >= $4 AND ls.created_at < $5
				AND EXISTS (SELECT 1 FROM en WHERE en.lead_id = ls.lead_id) GROUP BY 1
		)
		SELECT days.d, COALESCE(enrolled.n, 0), COALESCE(sent.n, 0), COALESCE(evs.hard, 0), COALESCE(evs.soft, 0), COALESCE(evs.sender, 0),
			COALESCE(evs.replies, 0), COALESCE(evs.auto, 0), COALESCE(evs.unsub, 0), COALESCE(evs.complaints, 0), COALESCE(evs.misses, 0), COALESCE(prospects.n, 0), evs.median_reply
		FROM days LEFT JOIN enrolled ON enrolled.d = days.d LEFT JOIN sent ON sent.d = days.d
			LEFT JOIN evs ON evs.d = days.d LEFT JOIN prospects ON prospects.d = days.d
		ORDER BY days.d`, args...)
	if err != nil {
		return nil, nil, err
	}
	var periods []PeriodStats
	for rows.Next() {
		var p PeriodStats
		if err := rows.Scan(&p.Period, &p.Enrolled, &p.Sent, &p.HardBounces, &p.SoftBounces, &p.SenderRejections, &p.Replies,
			&p.AutoReplies, &p.Unsubscribes, &p.Complaints, &p.VerifierMisses, &p.ProspectsCreated, &p.MedianFirstReplySeconds); err != nil {
			rows.Close()
			return nil, nil, err
		}
		p.rates()
		periods = append(periods, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	srows, err := s.pool.Query(ctx, `
		WITH en AS (
			SELECT e.* FROM enrollments e WHERE e.workspace_id = $1 AND ($2 = 0 OR e.cadence_id = $2) AND ($3 = 0 OR e.mailbox_id = $3)
		), t AS (
			SELECT t.step, COALESCE(t.variant, '') AS variant, t.enrollment_id FROM touches t JOIN en ON en.id = t.enrollment_id
			WHERE t.status = 'sent' AND t.sent_at >= $4 AND t.sent_at < $5
		)
		SELECT t.step, t.variant, count(DISTINCT t.enrollment_id), `+eventCounts+`
		FROM t LEFT JOIN lead_events ev ON (ev.data->>'enrollment_id')::bigint = t.enrollment_id AND (ev.data->>'step')::int = t.step
			AND ev.workspace_id = $1
		GROUP BY 1, 2 ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, nil, err
	}
	defer srows.Close()
	var steps []StepStats
	for srows.Next() {
		var st StepStats
		if err := srows.Scan(&st.Step, &st.Variant, &st.Sent, &st.HardBounces, &st.SoftBounces, &st.SenderRejections, &st.Replies,
			&st.AutoReplies, &st.Unsubscribes, &st.Complaints, &st.VerifierMisses); err != nil {
			return nil, nil, err
		}
		st.rates()
		steps = append(steps, st)
	}
	return periods, steps, srows.Err()
}
